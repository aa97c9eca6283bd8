"""Every row of the README's failure-mode table, plus kill-and-resume, SIGTERM and divergence."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, run_module
from PIL import Image

from lit_gans.callbacks import SampleWriter
from lit_gans.cli import main


class Evil:  # any class outside torch's allow-list: pickling it makes a checkpoint unsafe to load
    pass


def fails_with(capsys, args, match):
    """Runs the CLI in-process; asserts exit code 2 and exactly one stderr line matching ``match``."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("lit_gans: error:")]
    assert len(lines) == 1, lines
    assert match in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 4-step tiny DCGAN run: its last.ckpt."""
    root = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        main(["fit", "--config=tiny", "--trainer.max_steps=4", "--trainer.limit_val_batches=0",
              f"--trainer.default_root_dir={root}", "--trainer.enable_progress_bar=false"])  # fmt: skip
    return root / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--model.class_path=lit_gans.models.Nope"], "the variants are lit_gans.models.GAN"),
        (
            ["--model.init_args.nosuch=3"],
            "lit_gans.models.GAN does not accept the option 'nosuch' (--model.init_args.nosuch)",
        ),
        (
            [
                "--model.init_args.optimizer_d.class_path=torch.optim.SGD",
                "--model.init_args.optimizer_d.init_args.bta=1",
            ],
            "torch.optim.SGD does not accept the option 'bta' (--model.init_args.optimizer_d.init_args.bta)",
        ),
        (["--model.init_args.optimizer_g.init_args.lr=0"], "model.optimizer_g: learning rate must be > 0, got 0.0"),
        (
            ["--model.init_args.optimizer_d=torch.optim.Adam", "--model.init_args.optimizer_d.init_args.lr=-1"],
            "model.optimizer_d: Invalid learning rate",
        ),
        (
            [
                "--model.init_args.optimizer_d=torch.optim.Adam",
                "--model.init_args.optimizer_d.init_args.betas=[0.5,1.0]",
            ],
            "Invalid beta parameter at index 1: 1.0",
        ),
        (
            ["--model.init_args.optimizer_d.init_args.lr=1e-4"],  # dcgan.yaml leaves D's optimizer at the paper's
            "optimizer_d is the paper's Adam until a class is given; name it first, e.g. --model.init_args.optimizer_d",
        ),
        (["--data.batch_size=0"], "data.batch_size must be a positive integer"),
        (["--metrics.num_eval_samples=1"], "metrics.num_eval_samples must be >= 2"),
        (["--model.init_args.latent_dim=0"], "model.latent_dim must be >= 1"),
        (["--data.data_dir=/nonexistent"], "MNIST not found in /nonexistent/MNIST/raw"),
    ],
)
def test_bad_config_values(capsys, tmp_path, extra, match):
    line = fails_with(capsys, ["fit", "--config=dcgan", f"--trainer.default_root_dir={tmp_path}", *extra], match)
    if "does not accept" in match:
        assert "variants" not in line  # the class is right; only the option is wrong


@pytest.mark.parametrize("subcommand", ["validate", "test", "predict"])
def test_scoring_or_sampling_without_a_checkpoint_is_refused(capsys, tmp_path, monkeypatch, subcommand):
    monkeypatch.chdir(tmp_path)  # where predict would write samples.pt and the logger its folder
    line = fails_with(capsys, [subcommand, "--config=dcgan"], f"{subcommand} needs trained weights: pass --ckpt_path")
    assert "--ckpt_path last" in line and "--ckpt_path untrained" in line
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_untrained_on_purpose(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = main(["predict", "--config=tiny", "--ckpt_path=untrained", "--samples.count=4"])
    assert cli.trainer.state.finished and cli.trainer.ckpt_path is None
    assert torch.load(tmp_path / "samples.pt", weights_only=True)["images"].shape == (4, 1, 28, 28)
    assert any(isinstance(c, SampleWriter) for c in cli.trainer.callbacks)


def test_fit_leaves_out_the_sample_writer_whose_hooks_would_run_every_batch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = main(["fit", "--config=tiny", "--trainer.max_steps=1", "--trainer.limit_val_batches=0"])
    assert cli.trainer.global_step == 1 and not any(isinstance(c, SampleWriter) for c in cli.trainer.callbacks)


@pytest.mark.parametrize("categorical", ["[]", "[10,1]"])
def test_bad_categorical_codes(capsys, tmp_path, categorical):
    args = ["fit", "--config=infogan", f"--model.init_args.categorical={categorical}"]
    fails_with(capsys, [*args, f"--trainer.default_root_dir={tmp_path}"], "needs at least one code of size >= 2")


def test_unwritable_log_folder(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    args = ["fit", "--config=tiny", f"--trainer.default_root_dir={blocker / 'logs'}"]
    fails_with(capsys, args, "cannot write logs and checkpoints under")
    assert blocker.read_text() == "not a folder"  # nothing written over


def test_missing_checkpoint(capsys, tmp_path):
    args = ["validate", "--config=dcgan", "--ckpt_path=/nonexistent.ckpt", f"--trainer.default_root_dir={tmp_path}"]
    fails_with(capsys, args, "checkpoint /nonexistent.ckpt does not exist")


def test_checkpoint_of_another_variant(capsys, tmp_path, trained):
    args = ["validate", "--config=infogan", f"--ckpt_path={trained}", f"--trainer.default_root_dir={tmp_path}"]
    fails_with(capsys, args, "the checkpoint holds GAN(arch=dcgan) but the config builds InfoGAN")


def test_latent_size_that_does_not_match_the_checkpoint(capsys, tmp_path, trained):
    args = ["validate", "--config=dcgan", "--model.init_args.latent_dim=64", f"--ckpt_path={trained}"]
    expected = "generator.fc.0.weight: checkpoint [1024, 100], config [1024, 64]"
    fails_with(capsys, [*args, f"--trainer.default_root_dir={tmp_path}"], expected)


def test_truncated_checkpoint(capsys, tmp_path, trained):
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(trained.read_bytes()[:5000])
    args = ["validate", "--config=tiny", f"--ckpt_path={cut}", f"--trainer.default_root_dir={tmp_path}"]
    fails_with(capsys, args, "is unreadable or truncated")


def test_checkpoint_with_pickled_objects_is_refused(capsys, tmp_path, trained):
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["extra"] = Evil()
    unsafe = tmp_path / "unsafe.ckpt"
    torch.save(checkpoint, unsafe)
    args = ["predict", "--config=tiny", f"--ckpt_path={unsafe}", f"--trainer.default_root_dir={tmp_path}"]
    fails_with(capsys, args, "holds pickled objects beyond tensors and plain data; refusing to load it")


def test_divergence_stops_at_the_step_and_keeps_the_last_good_checkpoint(capsys, tmp_path):
    args = [
        "fit",
        "--config=tiny",
        "--trainer.max_steps=10",
        "--trainer.limit_val_batches=0",
        "--checkpoint.every_n_train_steps=2",
        "--trainer.callbacks+=conftest.PoisonAt",
        "--trainer.callbacks.step=3",
        f"--trainer.default_root_dir={tmp_path}",
    ]
    fails_with(capsys, args, "training diverged at step 3: loss/d=nan")
    checkpoint = torch.load(tmp_path / "lightning_logs/version_0/checkpoints/last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 2
    assert all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values() if t.is_floating_point())


def test_checkpoint_names_carry_the_step_of_the_weights_they_hold(tmp_path):
    from lit_gans.cli import main

    main(["fit", "--config=tiny", "--trainer.max_steps=6", "--trainer.max_epochs=-1", "--trainer.limit_train_batches=4",
          "--trainer.val_check_interval=2", "--trainer.check_val_every_n_epoch=null", "--trainer.limit_val_batches=1",
          "--checkpoint.every_n_train_steps=3", "--checkpoint.save_top_k=-1", "--metrics.num_eval_samples=50",
          "--trainer.enable_progress_bar=false", f"--trainer.default_root_dir={tmp_path}"])  # fmt: skip
    folder = tmp_path / "lightning_logs/version_0/checkpoints"
    named = {p.name: torch.load(p, weights_only=True)["global_step"] for p in folder.glob("epoch=*.ckpt")}
    # validations log "step" 2 and 4 before the saves at steps 3 and 6: the names must not take it up
    assert named == {"epoch=0-step=3.ckpt": 3, "epoch=1-step=6.ckpt": 6}


def _start_fit(root: Path, *extra: str) -> subprocess.Popen:
    args = ["--config=configs/tiny.yaml", "--trainer.max_steps=100000", "--trainer.limit_val_batches=0"]
    return subprocess.Popen(
        [sys.executable, "-m", "lit_gans", "fit", *args, f"--trainer.default_root_dir={root}", *extra],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


# epochs of 8 steps, a validation after step 6 of each and at the last step, a checkpoint every 3 steps, EMA on: the
# run ends mid-epoch 2, and the kill below lands in epoch 0, after the checkpoint and the validation of step 6
RESUMABLE = [
    "--trainer.max_steps=18",
    "--trainer.accelerator=cpu",
    "--trainer.limit_train_batches=8",
    "--trainer.val_check_interval=6",
    "--trainer.limit_val_batches=2",
    "--data.val_batch_size=50",
    "--metrics.num_eval_samples=100",
    "--data.batch_size=8",
    "--checkpoint.every_n_train_steps=3",
    "--model.init_args.ema_decay=0.9",
    "--images.every_n_steps=0",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]


@pytest.mark.parametrize(  # the README's claim; 55 s, kept in the default suite
    "config, variant",
    [
        ("tiny", "GAN(arch=dcgan)"),  # BatchNorm buffers and the EMA copy of G
        pytest.param("acgan", "ACGAN", marks=pytest.mark.slow),  # its validation draws from the global RNG; 35 s
    ],
)
def test_sigkill_mid_epoch_then_resume_ends_with_the_same_weights(tmp_path, config, variant):
    args = [f"--config=configs/{config}.yaml", *RESUMABLE]
    if config == "acgan":
        args += ["--model.init_args.samples_per_class=10"]
    # one torch thread in all three runs: the same arithmetic, and no thread team stalling on a shared CPU
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        main(["fit", *args, f"--trainer.default_root_dir={tmp_path / 'alone'}"])  # the same run, left alone
    finally:
        torch.set_num_threads(threads)
    alone = torch.load(tmp_path / "alone/lightning_logs/version_0/checkpoints/last.ckpt", weights_only=True)

    root, one_thread = tmp_path / "killed", {"OMP_NUM_THREADS": "1"}
    tests = os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])  # conftest.KillAt
    killed = run_module("fit", *args, f"--trainer.default_root_dir={root}", "--trainer.callbacks+=conftest.KillAt",
                        "--trainer.callbacks.step=7", env={**one_thread, "PYTHONPATH": tests})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    saved = torch.load(root / "lightning_logs/version_0/checkpoints/last.ckpt", weights_only=True)
    assert saved["global_step"] == 6  # mid-epoch: batch 6 of 8, saved before the validation of step 6
    assert any(k.startswith("generator_ema.") for k in saved["state_dict"])  # EMA travels in the checkpoint
    assert {"optimizer_states", "rng"} <= saved.keys() and len(saved["optimizer_states"]) == 2

    resumed = run_module("fit", *args, "--ckpt_path=last", f"--trainer.default_root_dir={root}", env=one_thread)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"training {variant} from step 6" in resumed.stdout + resumed.stderr
    assert "not resumable" not in resumed.stderr  # Lightning found the data order's state
    final = torch.load(root / "lightning_logs/version_1/checkpoints/last.ckpt", weights_only=True)
    assert final["global_step"] == alone["global_step"] == 18
    assert final["state_dict"].keys() == alone["state_dict"].keys()
    for key, weights in alone["state_dict"].items():
        assert torch.equal(final["state_dict"][key], weights), key  # G, D and the EMA of G, bit for bit
    for mine, theirs in zip(final["optimizer_states"], alone["optimizer_states"], strict=True):
        for state, expected in zip(mine["state"].values(), theirs["state"].values(), strict=True):
            assert all(torch.equal(state[k], expected[k]) for k in expected)


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    proc = _start_fit(tmp_path, "--checkpoint.every_n_train_steps=100000")
    _wait_for(tmp_path / "lightning_logs/version_0/hparams.yaml", proc)
    time.sleep(3.0)  # a few training steps
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr
    saved = torch.load(tmp_path / "lightning_logs/version_0/checkpoints/last.ckpt", weights_only=True)
    assert saved["global_step"] > 0


@pytest.mark.parametrize("precision", ["16-true", "16-mixed", "16"])
def test_fp16_on_the_cpu_is_refused_at_start_not_reported_as_a_divergence(capsys, tmp_path, precision):
    args = ["fit", "--config=tiny", f"--trainer.precision={precision}", f"--trainer.default_root_dir={tmp_path}"]
    line = fails_with(capsys, args, "needs a CUDA GPU; on the CPU use --trainer.precision bf16-mixed")
    assert "diverged" not in line
    assert list(tmp_path.iterdir()) == []  # refused before anything is written


def test_predict_output_ending_in_png_keeps_the_samples_and_the_grid_apart(tmp_path, capsys, trained):
    out = tmp_path / "out.png"
    main(["predict", "--config=tiny", f"--ckpt_path={trained}", "--samples.count=4", f"--samples.output={out}",
          f"--trainer.default_root_dir={tmp_path}", "--trainer.enable_progress_bar=false"])  # fmt: skip
    assert torch.load(out, weights_only=True)["images"].shape == (4, 1, 28, 28)  # the samples, where asked
    grid = tmp_path / "out.grid.png"
    with Image.open(grid) as image:
        assert image.format == "PNG"
    assert f"wrote 4 samples to {out} and a grid to {grid}" in capsys.readouterr().out


# ---- messages that name the actual cause and fix ----------------------------------------------------------------


def test_a_text_file_as_checkpoint_is_not_a_checkpoint_rather_than_unsafe(capsys, tmp_path):
    notes = tmp_path / "notes.ckpt"
    notes.write_text("hello, not a checkpoint\n")
    args = ["validate", "--config=tiny", f"--ckpt_path={notes}", f"--trainer.default_root_dir={tmp_path}"]
    line = fails_with(capsys, args, f"{notes} is not a checkpoint")
    assert "could run code" not in line and "pickled" not in line


def test_a_directory_as_checkpoint_is_named_a_directory(capsys, tmp_path):
    args = ["validate", "--config=tiny", f"--ckpt_path={tmp_path}", f"--trainer.default_root_dir={tmp_path}"]
    line = fails_with(capsys, args, f"checkpoint {tmp_path} is a directory, not a checkpoint file")
    assert "does not exist" not in line


def test_a_config_name_given_as_the_model_points_to_config(capsys, tmp_path):
    line = fails_with(
        capsys, ["fit", "--model", "DCGAN", f"--trainer.default_root_dir={tmp_path}"], "use --config dcgan"
    )
    assert "the variants are lit_gans.models.GAN" in line and "Expected a path" not in line


def test_an_image_folder_problem_does_not_list_the_model_variants(capsys, tmp_path):
    args = ["fit", "--config=dcgan", "--data=ImageFolderDataModule", f"--trainer.default_root_dir={tmp_path}"]
    line = fails_with(capsys, args, "the following arguments are required: root")
    assert "variants" not in line and "lit_gans.models" not in line


def test_a_checkpoint_of_other_data_asks_for_the_data_options(capsys, tmp_path, trained):
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["hyper_parameters"]["img_shape"] = (3, 64, 64)  # as if trained on a folder of 64x64 RGB images
    other = tmp_path / "rgb64.ckpt"
    torch.save(checkpoint, other)
    args = ["validate", "--config=tiny", f"--ckpt_path={other}", f"--trainer.default_root_dir={tmp_path}"]
    line = fails_with(capsys, args, "trained on 3x64x64 images with 10 classes, the data here are 1x28x28 images")
    assert "pass the --data options it was trained with" in line and "--model" not in line


def test_predict_last_without_runs_says_to_train_first(capsys, tmp_path):
    args = ["predict", "--config=tiny", "--ckpt_path=last", f"--trainer.default_root_dir={tmp_path}"]
    line = fails_with(capsys, args, "--ckpt_path last: no last.ckpt under")
    assert "train first" in line and "start without --ckpt_path" not in line


# ---- a run that would train nothing stops, and leaves no empty version folder ----------------------------------


def test_a_batch_larger_than_the_data_stops_and_leaves_no_version_folder(capsys, tmp_path):
    args = ["fit", "--config=tiny", "--data.batch_size=70000", f"--trainer.default_root_dir={tmp_path}",
            "--trainer.enable_progress_bar=false"]  # fmt: skip
    fails_with(capsys, args, "60000 training images make no batch of 70000 (an incomplete batch is dropped)")
    assert list(tmp_path.iterdir()) == []  # no lightning_logs/version_0 holding only an events file


def test_a_finished_run_resumed_says_to_raise_max_steps(capsys, tmp_path, trained):
    root = trained.parents[3]  # the fixture's run ended at its max_steps, 4
    args = ["fit", "--config=tiny", "--trainer.max_steps=4", "--ckpt_path=last", f"--trainer.default_root_dir={root}"]
    fails_with(capsys, args, "is finished: it is at step 4 and --trainer.max_steps is 4; pass a larger")
    assert [p.name for p in (root / "lightning_logs").iterdir()] == ["version_0"]  # no empty version_1


def test_a_run_finished_by_its_epochs_resumed_says_to_raise_max_epochs(capsys, tmp_path):
    epochs = ["--trainer.max_steps=-1", "--trainer.max_epochs=1", "--trainer.limit_train_batches=2"]
    args = ["fit", "--config=tiny", *epochs, "--trainer.limit_val_batches=0", f"--trainer.default_root_dir={tmp_path}"]
    main([*args, "--trainer.enable_progress_bar=false"])  # one 2-batch epoch: finished by max_epochs, not max_steps
    fails_with(capsys, [*args, "--ckpt_path=last"], "it has trained 1 epoch(s) and --trainer.max_epochs is 1; pass")
    assert [p.name for p in (tmp_path / "lightning_logs").iterdir()] == ["version_0"]
    main([*args, "--trainer.max_epochs=2", "--ckpt_path=last", "--trainer.enable_progress_bar=false"])  # trains on
    last = torch.load(tmp_path / "lightning_logs" / "version_1" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 4


# ---- round three: crashes, runs that would train nothing, silent corruption ------------------------------------


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--seed_everything=-1"], "--seed_everything must be an integer from 0 to 4294967295"),
        (["--seed_everything=abc"], "--seed_everything must be an integer from 0 to 4294967295"),
        (["--seed_everything=4294967296"], "got 4294967296"),
        (["--trainer.precision=8"], "--trainer.precision 8 is not accepted; the choices are 64, 32, 16,"),
        (["--trainer.max_steps=0"], "--trainer.max_steps 0 trains nothing"),
        (["--trainer.max_steps=-1", "--trainer.max_epochs=0"], "--trainer.max_epochs 0 trains nothing"),
        (["--trainer.limit_train_batches=0"], "--trainer.limit_train_batches 0 trains nothing"),
        (["--trainer.limit_train_batches=0.0"], "--trainer.limit_train_batches 0.0 trains nothing"),
    ],
)
def test_bad_trainer_values_stop_before_anything_is_written(capsys, tmp_path, monkeypatch, extra, match):
    monkeypatch.chdir(tmp_path)
    line = fails_with(capsys, ["fit", "--config=tiny", *extra], match)
    if "precision" in match:
        assert "bf16-mixed" in line and "16-true" in line  # every accepted value, not the first list of three
    assert list(tmp_path.iterdir()) == []


def test_fit_without_a_config_or_budget_is_refused_rather_than_training_for_days(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = fails_with(capsys, ["fit"], "fit has no budget")
    assert "infogan" in line and "--trainer.max_steps" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="the hint is for machines without a GPU")
def test_gpu_accelerator_on_a_cpu_only_machine_says_so(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fails_with(capsys, ["fit", "--config=tiny", "--trainer.accelerator=gpu"], "no GPU is visible to torch here")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "text, match",
    [
        ("trainer: [\n  a: b", "is not valid YAML at line 2"),
        ("- a\n- b\n", "holds a list, not options"),
        ("hello\n", "holds a str, not options"),
    ],
)
def test_a_config_that_is_not_a_mapping_of_options_is_named(capsys, tmp_path, text, match):
    config = tmp_path / "mine.yaml"
    config.write_text(text)
    line = fails_with(capsys, ["fit", f"--config={config}"], match)
    assert str(config) in line


def test_a_typo_in_a_config_file_names_the_file_and_the_full_key(capsys, tmp_path):
    config = tmp_path / "mine.yaml"
    config.write_text("model:\n  class_path: lit_gans.models.InfoGAN\n  init_args:\n    noise_dmi: 3\n")
    line = fails_with(capsys, ["fit", f"--config={config}"], "does not accept the option 'noise_dmi'")
    assert f"model.init_args.noise_dmi in {config}" in line and "--noise_dmi" not in line


def test_tiny_overlay_trains_on_a_small_image_folder_and_a_too_long_interval_is_one_line(capsys, tmp_path):
    root = tmp_path / "few" / "a"
    root.mkdir(parents=True)
    for i in range(80):  # 72 training images at batch 32: 2 batches an epoch, fewer than tiny's 20
        Image.new("RGB", (32, 32), (3 * i, 0, 0)).save(root / f"{i}.png")
    root = root.parent
    folder = ["--data=ImageFolderDataModule", f"--data.root={root}", "--metrics.backbone=none"]
    base = ["fit", "--config=dcgan", "--config=tiny", *folder, f"--trainer.default_root_dir={tmp_path / 'logs'}",
            "--trainer.enable_progress_bar=false", "--trainer.max_steps=4",
            "--trainer.val_check_interval=4"]  # fmt: skip
    cli = main(base)
    assert cli.trainer.global_step == 4  # two epochs of 2 batches, validated at batch 4 across them
    fails_with(capsys, [*base, "--trainer.check_val_every_n_epoch=1"], "--trainer.val_check_interval 4 is more than")


def test_data_root_that_is_a_file_says_so(capsys, tmp_path):
    file = tmp_path / "photo.jpg"
    file.write_bytes(b"x")
    args = ["fit", "--config=dcgan", "--data=ImageFolderDataModule", f"--data.root={file}"]
    fails_with(capsys, [*args, f"--trainer.default_root_dir={tmp_path}"], f"--data.root {file} is a file, not a folder")


@pytest.mark.parametrize("where", ["raw", "dataset"])
def test_data_dir_pointing_inside_the_dataset_names_the_folder_to_pass(capsys, tmp_path, where):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes((ROOT / "data/MNIST/raw/t10k-labels-idx1-ubyte.gz").read_bytes())
    given = raw if where == "raw" else raw.parent
    args = ["fit", "--config=tiny", f"--data.data_dir={given}", f"--trainer.default_root_dir={tmp_path / 'logs'}"]
    expected = (
        "the MNIST files themselves, but lit_gans reads them from <data.data_dir>/MNIST/raw; pass --data.data_dir"
    )
    assert fails_with(capsys, args, expected).endswith(f"--data.data_dir {tmp_path}")
    assert [p.name for p in (tmp_path / "MNIST").rglob("*")] == ["raw", "t10k-labels-idx1-ubyte.gz"]  # untouched


def test_data_dir_without_mnist_is_left_as_it_was_when_the_download_fails(capsys, tmp_path, monkeypatch):
    import torchvision.datasets.mnist

    def offline(*args, **kwargs):
        raise torchvision.datasets.mnist.URLError("no network")

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", offline)
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["fit", "--config=tiny", f"--data.data_dir={empty}", f"--trainer.default_root_dir={tmp_path / 'logs'}"]
    fails_with(capsys, args, "download failed")
    assert list(empty.iterdir()) == []  # torchvision's MNIST/raw, made for the download, is gone again


def test_bytes_overwritten_inside_a_checkpoint_fail_its_checksum(capsys, tmp_path, trained):
    data = bytearray(trained.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(range(256)) * 16  # same size, 4 KB changed inside a tensor's record
    damaged = tmp_path / "damaged.ckpt"
    damaged.write_bytes(bytes(data))
    args = ["predict", "--config=tiny", f"--ckpt_path={damaged}", f"--trainer.default_root_dir={tmp_path}"]
    fails_with(capsys, args, "is damaged (record")
    assert not (tmp_path / "samples.pt").exists()


def test_a_checkpoint_with_non_finite_weights_is_refused(capsys, tmp_path, trained):
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["state_dict"]["generator.fc.0.weight"][0, 0] = float("nan")
    poisoned = tmp_path / "nan.ckpt"
    torch.save(checkpoint, poisoned)  # valid checksums: the bytes are what was written
    args = ["predict", "--config=tiny", f"--ckpt_path={poisoned}", f"--trainer.default_root_dir={tmp_path}"]
    fails_with(capsys, args, "the checkpoint's generator.fc.0.weight holds NaN or Inf values")


def test_predict_leaves_no_log_folder(tmp_path, monkeypatch, trained):
    monkeypatch.chdir(tmp_path)
    main(["predict", "--config=tiny", f"--ckpt_path={trained}", "--samples.count=4"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.png", "samples.pt"]


def test_a_checkpoint_write_that_fails_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    from lit_gans.callbacks import AtomicCheckpointIO

    io, path = AtomicCheckpointIO(), tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1, "w": torch.ones(1000)}, path)

    def disk_full(obj, file):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError):
        io.save_checkpoint({"step": 2, "w": torch.zeros(1000)}, path)
    assert torch.load(path, weights_only=True)["step"] == 1  # the old checkpoint, whole
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no partial file left beside it


def test_a_full_disk_mid_run_is_one_line_and_the_last_checkpoint_stays_whole(capsys, tmp_path):
    args = ["fit", "--config=tiny", "--trainer.max_steps=10", "--trainer.limit_val_batches=0",
            "--checkpoint.every_n_train_steps=2", "--trainer.callbacks+=conftest.DiskFullAt",
            "--trainer.callbacks.step=5", f"--trainer.default_root_dir={tmp_path}"]  # fmt: skip
    fails_with(capsys, args, "no space left on the disk writing lightning_logs/version_0/events.out.tfevents")
    checkpoints = tmp_path / "lightning_logs/version_0/checkpoints"
    assert torch.load(checkpoints / "last.ckpt", weights_only=True)["global_step"] == 4
    assert not [p for p in checkpoints.iterdir() if p.name.startswith(".")]  # no partial file left behind
