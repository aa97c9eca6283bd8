"""Plain `--trainer.strategy ddp` with 2 CPU processes: the trap Lightning's own DDP falls into for GANs."""

import math
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, run_module
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

DDP_RUN = [
    "fit",
    "--config=configs/dcgan.yaml",
    "--trainer.accelerator=cpu",
    "--trainer.devices=2",
    "--trainer.strategy=ddp",
    "--trainer.limit_train_batches=4",
    "--trainer.limit_val_batches=2",
    "--trainer.max_epochs=1",
    "--trainer.enable_progress_bar=false",
    "--metrics.num_eval_samples=200",
    "--data.batch_size=16",
]


def test_two_process_ddp_fit_with_validation(tmp_path):
    result = run_module(*DDP_RUN, f"--trainer.default_root_dir={tmp_path}")
    check_one_run(result, tmp_path)


def test_two_process_ddp_under_torchrun(tmp_path):
    """What a cluster does: a launcher (torchrun, SLURM's srun) starts every process and Lightning joins them through
    the environment the launcher sets, instead of starting processes itself."""
    tests = os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])  # conftest.RecordLaunch
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "lit_gans",
         *DDP_RUN, f"--trainer.default_root_dir={tmp_path}", "--trainer.callbacks+=conftest.RecordLaunch",
         f"--trainer.callbacks.folder={tmp_path}"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": tests, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    check_one_run(result, tmp_path)
    for rank in (0, 1):  # lit_gans' GAN-aware ddp, on processes torchrun started
        launch = (tmp_path / f"rank{rank}.txt").read_text()
        assert launch == "lit_gans.strategies.GANDDPStrategy TorchElasticEnvironment", launch


def check_one_run(result, tmp_path):
    assert result.returncode == 0, result.stderr[-3000:]
    assert "not used in producing the loss" not in result.stderr
    versions = list((tmp_path / "lightning_logs").iterdir())
    assert [v.name for v in versions] == ["version_0"]  # one logger, on rank zero
    events = list(versions[0].glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(versions[0]), size_guidance={"scalars": 0})
    acc.Reload()
    fid = acc.Scalars("val/fid")
    assert [event.step for event in fid] == [4]  # once per validation, not once per rank; at the pictures' step
    pictures = sorted(p.name for p in (versions[0] / "images").iterdir())  # one set, drawn by rank zero
    assert pictures == ["progress.gif", "progress.png", "samples_step000004.png"]
    checkpoint = torch.load(versions[0] / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 4


@pytest.mark.parametrize(
    "config, batches, measure",
    [  # wgan_gp: 5 critic steps, then G (27-32 s)
        ("cgan", 2, "val/sample_accuracy"),
        pytest.param("wgan_gp", 5, "val/wasserstein", marks=pytest.mark.slow),
    ],
)
def test_two_process_ddp_new_variants(tmp_path, config, batches, measure):
    # WGAN-GP's penalty is a double backward; under this strategy it stays local autograd, averaged after backward
    extra = ["--model.init_args.samples_per_class=20"] if config == "cgan" else []
    result = run_module(
        "fit",
        f"--config=configs/{config}.yaml",
        "--trainer.accelerator=cpu",
        "--trainer.devices=2",
        "--trainer.strategy=ddp",
        f"--trainer.limit_train_batches={batches}",
        "--trainer.limit_val_batches=2",
        "--trainer.max_steps=-1",
        "--trainer.max_epochs=1",
        "--trainer.enable_progress_bar=false",
        "--metrics.num_eval_samples=200",
        "--data.batch_size=16",
        f"--trainer.default_root_dir={tmp_path}",
        *extra,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    version = tmp_path / "lightning_logs" / "version_0"
    acc = EventAccumulator(str(version), size_guidance={"scalars": 0})
    acc.Reload()
    values = acc.Scalars(measure)
    assert len(values) == 1 and math.isfinite(values[0].value)  # logged once, synced over both ranks
    checkpoint = torch.load(version / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == batches // (5 if config == "wgan_gp" else 1)
