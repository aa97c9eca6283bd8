import subprocess
from pathlib import Path

import pytest
import torch
from conftest import KEEP_MNIST, ROOT, RUNS, batches_per_step, pairs, run_module
from lightning import Callback
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lit_gans.callbacks import GenerationMetrics
from lit_gans.cli import main, resolve_config_args
from lit_gans.errors import LitGansError
from lit_gans.evaluator import load_evaluator


def events(log_dir):
    acc = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc.Tags()


@pytest.mark.parametrize("configs", pairs(RUNS, KEEP_MNIST), ids=lambda cs: "+".join(c.stem for c in cs))
def test_every_variant_fits_alone_and_under_every_overlay(run_cli, configs):
    given = [f"--config={c}" for c in configs]
    cli = run_cli("fit", *given, f"--trainer.fast_dev_run={batches_per_step(*configs)}")
    assert cli.trainer.global_step == 1  # one generator update (after d_steps discriminator updates)
    assert type(cli.model).__name__ in configs[0].read_text()  # the overlay kept the variant's model
    assert torch.isfinite(torch.stack([p.detach().sum() for p in cli.model.parameters()])).all()


def test_fit_logs_scalars_images_pngs_and_last_ckpt(run_cli, tmp_path):
    run_cli(
        "fit",
        "--config=dcgan",
        "--trainer.max_steps=4",
        "--trainer.limit_val_batches=2",
        "--trainer.val_check_interval=4",
        "--trainer.log_every_n_steps=1",
        "--images.every_n_steps=2",
    )
    version = tmp_path / "lightning_logs" / "version_0"
    tags = events(version)
    assert {"loss/d", "loss/g", "D(x)", "D(G(z))", "val/fid", "val/is", "val/kid"} <= set(tags["scalars"])
    assert "samples" in tags["images"]
    pngs = sorted(p.name for p in (version / "images").glob("*.png"))
    assert pngs == ["progress.png", "samples_step000002.png", "samples_step000004.png"]  # step 4 logged once, not twice
    assert "progress" in tags["images"]  # the progress strip of every run, to TensorBoard at the end
    assert (version / "checkpoints" / "last.ckpt").is_file()


def test_steps_count_generator_updates(run_cli):
    cli = run_cli("fit", "--config=tiny", "--trainer.max_steps=6", "--trainer.limit_val_batches=0")
    assert cli.trainer.global_step == 6
    assert cli.trainer.fit_loop.epoch_loop.batch_progress.total.completed == 6  # one batch per step, not two


def test_print_config_round_trips(run_cli, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("fit", "--config=dcgan", "--model.init_args.latent_dim=64", "--print_config")
    assert exit_info.value.code == 0
    printed = tmp_path / "printed.yaml"
    printed.write_text(capsys.readouterr().out)
    cli = run_cli("fit", f"--config={printed}", "--trainer.fast_dev_run=true")
    assert cli.model.hparams.latent_dim == 64 and cli.model.hparams.arch == "dcgan"


def test_config_names_resolve_to_project_configs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the repo root: the name still finds configs/
    assert resolve_config_args(["fit", "--config", "dcgan.yaml"])[2] == str(ROOT / "configs" / "dcgan.yaml")
    assert resolve_config_args(["fit", "--config=dcgan"])[1] == f"--config={ROOT / 'configs' / 'dcgan.yaml'}"
    with pytest.raises(LitGansError, match="config nope.yaml not found.*available: .*dcgan"):
        resolve_config_args(["fit", "--config", "nope.yaml"])


def test_bad_data_dir_is_one_line_no_traceback():
    result = run_module("fit", "--config", "configs/dcgan.yaml", "--data.data_dir", "/nonexistent")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1 and "/nonexistent" in error_lines[0]


def test_fit_from_any_folder_finds_data_and_config_and_logs_there(tmp_path):
    args = ["--trainer.max_steps=2", "--trainer.limit_val_batches=0", "--data.batch_size=16"]
    result = run_module("fit", "--config", "tiny", *args, cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt").is_file()


def test_the_last_step_is_validated_at_the_step_of_its_pictures(run_cli, tmp_path):
    # validations after step 4 (val_check_interval) and step 6 (max_steps, mid-epoch), each logged once
    run_cli(
        "fit", "--config=tiny", "--trainer.max_steps=6", "--trainer.val_check_interval=4", "--images.every_n_steps=0"
    )
    acc = EventAccumulator(str(tmp_path / "lightning_logs" / "version_0"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    assert [event.step for event in acc.Scalars("val/fid")] == [4, 6]
    assert [event.step for event in acc.Images("samples")] == [4, 6]


def test_run_outputs_written_at_the_root_are_ignored(tmp_path, monkeypatch):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    monkeypatch.chdir(tmp_path)  # plays the repo root: what a run started there writes
    fast = ["--config=tiny", "--trainer.max_steps=2", "--trainer.limit_val_batches=0", "--data.batch_size=16"]
    main(["fit", *fast, "--checkpoint.every_n_train_steps=1", "--images.every_n_steps=1"])
    main(["fit", *fast, "--checkpoint.every_n_train_steps=1", "--images.every_n_steps=1", "--trainer.logger=false"])
    main(["predict", "--config=tiny", "--ckpt_path=untrained", "--samples.count=4"])
    written = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()]
    assert {"checkpoints", "images", "lightning_logs", "samples.pt"} <= {Path(p).parts[0] for p in written}
    check = subprocess.run(["git", "check-ignore", "--no-index", *written], cwd=ROOT, capture_output=True, text=True)
    assert set(written) - set(check.stdout.split()) == set()  # every one ignored


def test_fashion_configs_score_with_the_fashion_evaluator(run_cli):
    cli = run_cli(
        "fit",
        "--config=acgan",
        "--config=fashion_mnist",
        "--trainer.fast_dev_run=1",
        "--model.init_args.samples_per_class=10",
    )
    assert cli.datamodule.dataset == "fashion_mnist" and cli.datamodule.folder == "FashionMNIST"
    (metrics,) = [c for c in cli.trainer.callbacks if isinstance(c, GenerationMetrics)]
    used = metrics.metrics.fid.inception.evaluator.head.weight.cpu()
    assert torch.equal(used, load_evaluator(dataset="fashion_mnist").head.weight)
    assert not torch.equal(used, load_evaluator(dataset="mnist").head.weight)
    assert (
        cli.model.sample_accuracy.dataset == "fashion_mnist" and "val/sample_accuracy" in cli.trainer.callback_metrics
    )


class ForwardDtypes(Callback):
    """Records the dtype of G's output in each training step (hooked on G's forward)."""

    def __init__(self):
        self.dtypes = []

    def on_train_start(self, trainer, pl_module):
        pl_module.generator.register_forward_hook(lambda module, args, out: self.dtypes.append(out.dtype))


def test_the_bf16_overlay_trains_the_forwards_in_bf16_and_keeps_float32_weights(run_cli):
    cli = run_cli("fit", "--config=dcgan", "--config=bf16", "--trainer.fast_dev_run=1",
                  "--trainer.callbacks+=test_cli.ForwardDtypes")  # fmt: skip
    (seen,) = [c for c in cli.trainer.callbacks if isinstance(c, ForwardDtypes)]
    assert cli.trainer.precision == "bf16-mixed" and cli.trainer.global_step == 1
    assert seen.dtypes and set(seen.dtypes) == {torch.bfloat16}  # under autocast
    assert {p.dtype for p in cli.model.parameters()} == {torch.float32}  # mixed: the weights and Adam stay float32


@pytest.mark.parametrize("limit", [1, 2])
def test_limit_val_batches_on_the_command_line_counts_batches(run_cli, limit):
    # Lightning types it float | int: "1" parsed as 1.0 would validate all 20 batches of tiny's 10k test images
    cli = run_cli("fit", "--config=tiny", "--trainer.max_steps=1", "--trainer.num_sanity_val_steps=0",
                  "--trainer.limit_val_batches", str(limit), "--data.val_batch_size=500")  # fmt: skip
    assert cli.trainer.limit_val_batches == limit and type(cli.trainer.limit_val_batches) is int
    assert cli.trainer.num_val_batches == [limit]
    assert cli.trainer.fit_loop.epoch_loop.val_loop.batch_progress.total.completed == limit


def test_a_model_overlay_alone_says_to_give_its_variant_first(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config=infogan_fewlabel", "--trainer.fast_dev_run=1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "lit_gans: error: infogan_fewlabel.yaml is an overlay of model options: give the variant's config before it, "
        "e.g. --config infogan --config infogan_fewlabel"
    )
    resolved = resolve_config_args(["fit", "--config", "infogan", "--config", "infogan_fewlabel"])  # the right order
    assert resolved[2:] == [
        str(ROOT / "configs" / "infogan.yaml"),
        "--config",
        str(ROOT / "configs" / "infogan_fewlabel.yaml"),
    ]


@pytest.mark.parametrize("variant, own", [("GAN", "arch"), ("InfoGAN", "noise_dim"), ("ACGAN", "samples_per_class"),
                                          ("CGAN", "predict_classes"), ("WGANGP", "lambda_gp")])  # fmt: skip
def test_help_lists_the_shared_arguments_of_every_variant(capsys, variant, own):
    """The shared arguments are declared once (GANModule) and reached through **kwargs: --help still lists them."""
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--model.help", variant])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in (own, "optimizer_g", "optimizer_d", "d_steps", "ema_decay"):
        assert f"--model.{name} " in out, name
