"""lit_gans from a user's own script: the GAN DDP on import, default callbacks, sample(), the README example."""

import inspect
import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import ROOT
from lightning import LightningDataModule, Trainer
from lightning.pytorch.callbacks import ProgressBar
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

import lit_gans
from lit_gans import models
from lit_gans.callbacks import GANCheckpoint, GenerationMetrics, InterruptCheckpoint, ProgressStrip, SampleGrid
from lit_gans.cli import GANCLI
from lit_gans.data import to_uint8
from lit_gans.errors import LitGansError
from lit_gans.models import ACGAN, InfoGAN

VARIANTS = [getattr(models, name) for name in models.__all__ if name != "GANModule"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def python(*args: str, cwd=ROOT, timeout=600) -> subprocess.CompletedProcess:
    """A fresh interpreter that imports this checkout's lit_gans, as a user's script would."""
    return subprocess.run([sys.executable, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)


def fake_loader(n: int = 32, batch_size: int = 8) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.randint(10, (n,), generator=g))
    return DataLoader(data, batch_size=batch_size)


def quiet_trainer(root, **kwargs) -> Trainer:
    return Trainer(
        accelerator="cpu",
        default_root_dir=root,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        **kwargs,
    )


def latent_seen_by_generator(model, **sample_kwargs) -> torch.Tensor:
    """The z that ``model.sample`` feeds the generator."""
    seen = []
    handle = model.sampling_generator.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    try:
        model.sample(**sample_kwargs)
    finally:
        handle.remove()
    return torch.cat(seen)


# ---- importing is enough ------------------------------------------------------------------------------------------


def test_importing_any_module_registers_the_gan_ddp():
    script = """
        from lightning import Trainer
        from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry
        assert StrategyRegistry["ddp"]["strategy"] is DDPStrategy  # Lightning's own, before lit_gans is imported
        import lit_gans.nets  # any module: Python runs lit_gans/__init__.py first
        from lit_gans import GANDDPStrategy
        for kwargs in ({"strategy": "ddp"}, {"strategy": "ddp_spawn"}, {}):  # {}: devices=2 picks ddp by itself
            strategy = Trainer(accelerator="cpu", devices=2, logger=False, **kwargs).strategy
            assert type(strategy) is GANDDPStrategy, (kwargs, type(strategy))
        print("ok")
    """
    result = python("-c", textwrap.dedent(script))
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


def test_two_process_ddp_from_a_plain_script_trains_infogan(tmp_path):
    # Lightning's ddp launcher re-runs this script once per rank, so it must be a file
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys

            import torch
            from lightning import Trainer
            from torch.utils.data import DataLoader, TensorDataset

            import lit_gans
            from lit_gans.models import InfoGAN

            g = torch.Generator().manual_seed(0)  # the same dataset on both ranks; the sampler splits it
            data = TensorDataset(torch.rand(64, 1, 28, 28, generator=g) * 2 - 1, torch.randint(10, (64,), generator=g))
            model = InfoGAN()  # each rank initialises its own weights: the strategy must start them from rank 0's
            trainer = Trainer(
                strategy="ddp", accelerator="cpu", devices=2, max_steps=3, logger=False,
                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            )
            trainer.fit(model, DataLoader(data, batch_size=8))
            assert isinstance(trainer.strategy, lit_gans.GANDDPStrategy)
            weights = torch.cat([p.detach().flatten() for p in model.parameters()])
            torch.save({"step": trainer.global_step, "weights": weights}, f"{sys.argv[1]}/rank{trainer.global_rank}.pt")
            """
        )
    )
    result = python(str(script), str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "not used in producing the loss" not in result.stderr
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    assert [r["step"] for r in ranks] == [3, 3]
    # different data and noise on each rank: only the averaged gradients keep the two copies equal
    assert torch.equal(ranks[0]["weights"], ranks[1]["weights"])


PLAIN_MODULE = """
    import sys

    import torch
    from lightning import LightningModule, Trainer
    from torch.utils.data import DataLoader, TensorDataset

    if sys.argv[2] == "import":
        import lit_gans  # noqa: F401  registers its strategy under the name "ddp"


    class Regression(LightningModule):  # automatic optimization: Lightning's closure computes the gradients
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(8, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)


    g = torch.Generator().manual_seed(0)  # the same dataset on both ranks; the sampler gives each rank its half
    data = TensorDataset(torch.randn(64, 8, generator=g), torch.randn(64, 1, generator=g))
    model = Regression()
    trainer = Trainer(
        strategy="ddp", accelerator="cpu", devices=2, max_epochs=2, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(model, DataLoader(data, batch_size=8))
    torch.save(model.layer.weight.detach(), f"{sys.argv[1]}/rank{trainer.global_rank}.pt")
"""


@pytest.mark.parametrize("imported", ["import", "no-import"])
def test_importing_lit_gans_leaves_ddp_of_other_modules_alone(tmp_path, imported):
    """A user's own (automatic-optimization) module in the same script as our GANs stays data-parallel: both ranks
    end with the same weights, with and without ``import lit_gans``."""
    script = tmp_path / "train.py"  # Lightning's ddp launcher re-runs this script once per rank
    script.write_text(textwrap.dedent(PLAIN_MODULE))
    result = python(str(script), str(tmp_path), imported, cwd=tmp_path)
    if result.returncode and "terminate called without an active exception" in result.stderr:
        # seen once (the no-import case, 2026-11-30): a thread aborts the exiting plain-Lightning child after fit has
        # finished and saved; not what this test is about, so one fresh try (which must then pass as a whole)
        result = python(str(script), str(tmp_path), imported, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    assert torch.equal(ranks[0], ranks[1]), (ranks[0] - ranks[1]).abs().max()


# ---- default callbacks ----------------------------------------------------------------------------------------------


def test_default_callbacks_are_the_clis(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cli = GANCLI(
        model_class=models.GANModule,
        datamodule_class=LightningDataModule,  # as main(): MNISTDataModule by default, any DataModule by --data
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        run=False,
        args=["--model=lit_gans.models.GAN", f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false"],
    )

    def settings(callbacks):
        ours = [c for c in callbacks if type(c).__module__.startswith("lit_gans.callbacks")]
        return sorted((type(c).__name__, repr({k: v for k, v in vars(c).items() if k in KEYS})) for c in ours)

    KEYS = {"every_n_steps", "num_samples", "num_eval_samples", "backbone", "save_last", "_every_n_train_steps"}
    # predict's writer, the CLI's timed progress bar (a Trainer of your own shows its own unless you add ours), and
    # the CLI's clean-up of a failed start's log folder
    cli_only = ("SampleWriter", "ProgressBar", "NoDebris")
    cli_settings = [s for s in settings(cli.trainer.callbacks) if s[0] not in cli_only]
    assert settings(lit_gans.default_callbacks()) == cli_settings
    assert {name for name, _ in cli_settings} == {
        "SampleGrid",
        "GenerationMetrics",
        "GANCheckpoint",
        "InterruptCheckpoint",
        "ValidateLastStep",
        "ProgressStrip",
    }

    callbacks = lit_gans.default_callbacks(every_n_steps=7, num_eval_samples=100, checkpoint_dir=str(tmp_path))
    grid, metrics, checkpoint, interrupt, _, strip = callbacks
    assert isinstance(strip, ProgressStrip) and strip.every_n_steps == 100  # its own interval, not the pictures' 7
    assert isinstance(grid, SampleGrid) and grid.every_n_steps == 7
    assert isinstance(metrics, GenerationMetrics) and metrics.num_eval_samples == 100
    assert isinstance(checkpoint, GANCheckpoint) and checkpoint._every_n_train_steps == 7
    assert checkpoint.dirpath == str(tmp_path) and isinstance(interrupt, InterruptCheckpoint)
    assert not any(isinstance(c, ProgressBar) for c in callbacks)


# ---- sampling by hand -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.__name__)
def test_sample_is_seeded_in_range_and_leaves_train_mode(variant):
    model = variant()
    images = model.sample(6, seed=3)
    assert images.shape == (6, 1, 28, 28) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    assert model.sampling_generator.training  # eval mode only while sampling
    assert torch.equal(model.sample(6, seed=3), images) and not torch.equal(model.sample(6, seed=4), images)
    assert torch.equal(model.sample(6, seed=3, uint8=True), to_uint8(images))
    # inputs are drawn in chunks of batch_size, so a seed's first images do not depend on how many follow
    assert torch.equal(model.sample(8, seed=3, batch_size=4)[:4], model.sample(4, seed=3, batch_size=4))


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.__name__)
def test_every_condition_a_variant_draws_can_be_set(variant):
    """A variant with ``latent(noise, **conditions)`` takes those conditions in ``sample``: setting each one to the
    value the prior drew gives the same images (which also checks the noise-first convention ``sample`` relies on)."""
    model = variant()
    names = list(inspect.signature(model.latent).parameters)[1:] if hasattr(model, "latent") else []
    if not names:
        with pytest.raises(LitGansError, match="takes no conditions"):
            model.sample(2, seed=0, labels=1)
        return
    drawn = model.sample_inputs(5, torch.Generator().manual_seed(0))
    images = model.sample(5, seed=0)
    for name in names:
        assert torch.equal(model.sample(5, seed=0, **{name: drawn[name]}), images), name
    with pytest.raises(LitGansError, match=f"takes the conditions {', '.join(names)}; got nonsense"):
        model.sample(2, nonsense=1)


def test_acgan_sample_labels():
    model = ACGAN(latent_dim=8)
    labels = torch.tensor([3, 1, 4, 1, 5])
    z = latent_seen_by_generator(model, n=5, labels=labels, seed=0)
    assert torch.equal(z[:, 8:].argmax(dim=1), labels) and torch.equal(z[:, 8:].sum(dim=1), torch.ones(5))
    assert (latent_seen_by_generator(model, n=4, labels=7, seed=0)[:, 8 + 7] == 1).all()
    with pytest.raises(LitGansError, match="labels out of range"):
        model.sample(2, labels=10)
    with pytest.raises(LitGansError, match=r"labels of shape \[3\] does not fit \[2\]"):
        model.sample(2, labels=[1, 2, 3])


def test_infogan_sample_category_and_codes():
    model = InfoGAN(noise_dim=5, categorical=[10, 3], continuous=2)
    z = latent_seen_by_generator(model, n=4, categories=torch.tensor([[7, 2]]), codes=[0.5, -1.0], seed=0)
    assert torch.equal(z[:, 5:15].argmax(dim=1), torch.full((4,), 7))  # first categorical code
    assert torch.equal(z[:, 15:18].argmax(dim=1), torch.full((4,), 2))
    assert torch.equal(z[:, 18:], torch.tensor([[0.5, -1.0]]).expand(4, 2))
    one_code = InfoGAN(noise_dim=5)
    per_image = torch.arange(10).repeat_interleave(2)  # one category per image, as the README's grid
    z = latent_seen_by_generator(one_code, n=20, categories=per_image, seed=0)
    assert torch.equal(z[:, 5:15].argmax(dim=1), per_image)
    with pytest.raises(LitGansError, match="categories out of range"):
        one_code.sample(2, categories=10)


def test_infogan_load_from_checkpoint_then_sample_category(tmp_path):
    torch.manual_seed(0)
    model = InfoGAN(noise_dim=20)
    trainer = quiet_trainer(tmp_path, max_steps=2)
    trainer.fit(model, fake_loader())
    path = tmp_path / "infogan.ckpt"
    trainer.save_checkpoint(path)

    loaded = InfoGAN.load_from_checkpoint(path)
    assert loaded.hparams.noise_dim == 20
    for k in (0, 3, 9):
        expected = model.sample(8, categories=k, seed=1)
        assert torch.equal(loaded.sample(8, categories=k, seed=1), expected)
        z = latent_seen_by_generator(loaded, n=8, categories=k, seed=1)
        assert (z[:, 20 + k] == 1).all() and torch.equal(z[:, 20:30].sum(dim=1), torch.ones(8))
    assert not torch.equal(loaded.sample(8, categories=1, seed=1), loaded.sample(8, categories=2, seed=1))


# ---- the README's Python example -------------------------------------------------------------------------------


def test_readme_shows_the_example_verbatim():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    example = (ROOT / "examples" / "train_infogan.py").read_text()
    assert example in blocks
    assert "python examples/train_infogan.py 1" in readme  # the command the next test runs


def test_readme_example_runs_from_a_folder_outside_the_repo(tmp_path):
    # no data/ here: MNISTDataModule finds the shipped copy from any folder
    result = python(str(ROOT / "examples" / "train_infogan.py"), "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    with Image.open(tmp_path / "infogan_grid.png") as grid:
        assert grid.size == (10 * 30 + 2, 10 * 30 + 2)  # 10 x 10 images of 28 px with 2 px padding
    run = tmp_path / "lightning_logs" / "infogan" / "version_0"
    assert list(run.glob("events.out.tfevents.*"))
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 1
