"""Precision, seeds, EMA, checkpoints, validate and predict on checkpoints."""

import pytest
import torch
from conftest import VARIANTS, batches_per_step, run_module

BF16 = [pytest.param(v, marks=pytest.mark.slow) if v.stem == "wgan_gp" else v for v in VARIANTS]  # WGAN-GP's: 45 s


@pytest.mark.parametrize("config", BF16, ids=lambda p: p.stem)  # test_image_folder runs WGAN-GP in bf16 in ~10 s
def test_bf16_mixed_every_variant(run_cli, config):
    dev_run = f"--trainer.fast_dev_run={batches_per_step(config)}"
    cli = run_cli("fit", f"--config={config}", dev_run, "--trainer.precision=bf16-mixed")
    assert cli.trainer.global_step == 1
    assert all(torch.isfinite(p).all() for p in cli.model.parameters())


def test_16_mixed_on_cpu_fails_at_start(run_cli, capsys):
    # on CUDA Lightning adds a GradScaler and 16-mixed trains; on the CPU it would switch to bf16 itself: refuse
    with pytest.raises(SystemExit) as exit_info:
        run_cli("fit", "--config=tiny", "--trainer.fast_dev_run=true", "--trainer.precision=16-mixed")
    assert exit_info.value.code == 2
    assert "on the CPU use --trainer.precision bf16-mixed" in capsys.readouterr().err


def test_same_seed_same_run(run_cli):
    args = ["fit", "--config=tiny", "--seed_everything=7", "--trainer.max_steps=3", "--trainer.limit_val_batches=0"]
    first, second = run_cli(*args), run_cli(*args)
    for (name, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    third = run_cli(*args[:2], "--seed_everything=8", *args[3:])
    assert not torch.equal(first.model.generator.fc[0].weight, third.model.generator.fc[0].weight)


def test_ema_averages_g_only_and_is_used_for_sampling(run_cli):
    cli = run_cli("fit", "--config=tiny", "--trainer.max_steps=3", "--trainer.limit_val_batches=0",
                  "--model.init_args.ema_decay=0.5")  # fmt: skip
    model = cli.model
    assert model.generator_ema is not None and int(model.generator_ema.n_averaged) == 3  # one update per G step
    assert model.sampling_generator is model.generator_ema.module
    assert not torch.equal(model.generator_ema.module.fc[0].weight, model.generator.fc[0].weight)
    assert not any(name.startswith("discriminator") for name, _ in model.generator_ema.named_parameters())


@pytest.fixture(scope="module")
def dcgan_ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("dcgan")
    result = run_module("fit", "--config=configs/dcgan.yaml", "--trainer.max_steps=2", "--trainer.limit_val_batches=0",
                        "--data.batch_size=16", f"--trainer.default_root_dir={root}")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return root / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"


def test_checkpoint_holds_only_g_d_and_their_optimizers(dcgan_ckpt):
    checkpoint = torch.load(dcgan_ckpt, weights_only=True)
    keys = checkpoint["state_dict"].keys()
    parts = ("generator.", "discriminator.", "generator_ema.")  # dcgan.yaml samples from an EMA of G
    assert all(k.startswith(parts) for k in keys)  # no evaluator, no metric states
    assert any(k.startswith("generator_ema.") for k in keys)
    n_params = sum(t.numel() for k, t in checkpoint["state_dict"].items() if t.is_floating_point())
    expected = n_params * 4 * 3  # float32 weights + Adam's two moments (the EMA has none: an upper bound)
    assert dcgan_ckpt.stat().st_size < expected * 1.05 + 200_000


def test_validate_on_a_checkpoint_prints_fid_is_kid(dcgan_ckpt, tmp_path):
    result = run_module("validate", "--config=configs/dcgan.yaml", f"--ckpt_path={dcgan_ckpt}",
                        "--metrics.num_eval_samples=500", "--trainer.limit_val_batches=2",
                        f"--trainer.default_root_dir={tmp_path}")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("val/fid", "val/is", "val/kid"):
        assert name in result.stdout


def test_predict_on_a_checkpoint_writes_uint8_samples_and_a_grid(dcgan_ckpt, tmp_path):
    out = tmp_path / "samples.pt"
    result = run_module("predict", "--config=configs/dcgan.yaml", f"--ckpt_path={dcgan_ckpt}", "--samples.count=1234",
                        f"--samples.output={out}", f"--trainer.default_root_dir={tmp_path}")  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    samples = torch.load(out, weights_only=True)
    assert samples["images"].dtype == torch.uint8 and samples["images"].shape == (1234, 1, 28, 28)
    assert samples["images"].max() > 0  # not blank
    assert out.with_suffix(".png").is_file()


def test_device_resident_training(run_cli):
    cli = run_cli("fit", "--config=tiny", "--trainer.max_steps=3", "--trainer.limit_val_batches=0",
                  "--data.device_resident=true")  # fmt: skip
    assert cli.trainer.global_step == 3


def test_mlp_gan_samples_differ_after_a_short_fit(run_cli):
    # G itself, not its EMA copy (gan.yaml's ema_decay 0.999 is still close to the initial G after 30 steps)
    cli = run_cli("fit", "--config=gan", "--trainer.max_steps=30", "--trainer.limit_val_batches=0",
                  "--model.init_args.ema_decay=null")  # fmt: skip
    model = cli.model.eval()
    images = model.sample(64, seed=0)  # eval mode: BatchNorm's running statistics, as pictures and metrics use
    assert images.std(dim=0).mean() > 0.1  # one image repeated would give 0
