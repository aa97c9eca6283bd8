import errno
import importlib
import inspect
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from lightning import Callback

from lit_gans.cli import main

ROOT = Path(__file__).resolve().parents[1]
if os.environ.get("PYTEST_XDIST_WORKER"):  # pytest -n 2 (the default): one torch thread per worker and its subprocesses
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def _model_block(config: Path) -> dict:
    return yaml.safe_load(config.read_text()).get("model") or {}


def data_class(config: Path) -> type:
    """The DataModule a variant's config trains on (MNIST's unless it names another)."""
    class_path = (yaml.safe_load(config.read_text()).get("data") or {}).get(
        "class_path", "lit_gans.data.MNISTDataModule"
    )
    module, name = class_path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def takes(variant: Path, overlay: Path) -> bool:
    """Whether ``overlay`` is laid over ``variant``: an overlay with model options (infogan_fewlabel.yaml) is for the
    variant its name starts with; data options (fashion_mnist.yaml, grid.yaml) are for the variants whose DataModule
    takes them; the rest (tiny.yaml, bf16.yaml) for every variant."""
    if _model_block(overlay):
        return overlay.stem.startswith(f"{variant.stem}_")
    data = yaml.safe_load(overlay.read_text()).get("data") or {}
    options = set(data.get("init_args", data)) - {"class_path"}
    return options <= set(inspect.signature(data_class(variant)).parameters)


VARIANTS = [c for c in CONFIGS if "class_path" in _model_block(c)]  # configs that name a variant
OVERLAYS = [c for c in CONFIGS if c not in VARIANTS]  # laid over a variant: data, budget, a variant's options
RUNS = [[v] for v in VARIANTS] + [[v, o] for v in VARIANTS for o in OVERLAYS if takes(v, o)]  # every pair that fits
# Pairs the default suite leaves to -m slow (it had grown past CI's 15 minutes): each overlay still runs in it on the
# variants kept here, and bf16 mixed precision on every variant in test_training (WGAN-GP's on the folder, where it
# is 4x cheaper than on MNIST).
KEEP_MNIST = {"bf16": {"dcgan", "ring_gan"}, "fashion_mnist": {"acgan", "infogan"}, "grid": {"ring_gan"}}
KEEP_FOLDER = {"bf16": {"dcgan", "wgan_gp"}}


def pairs(runs: list[list[Path]], keep: dict[str, set[str]]) -> list:
    """``runs`` as pytest params, the pairs of an overlay in ``keep`` with a variant not kept for it marked slow."""
    slow = [r for r in runs if len(r) == 2 and r[1].stem in keep and r[0].stem not in keep[r[1].stem]]
    return [pytest.param(r, marks=pytest.mark.slow) if r in slow else r for r in runs]


POINT_VARIANTS = [v for v in VARIANTS if data_class(v).__name__ == "GaussianMixtureDataModule"]  # the 2D toy
# keep every CLI run in tests small: few steps, a small metric sample, no progress bar
FAST = [
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--metrics.num_eval_samples=200",
    "--data.batch_size=16",
]


def batches_per_step(*configs: Path) -> int:
    """Batches one generator step takes under configs (their d_steps, else the variant's paper value): a
    ``fast_dev_run`` of that many batches gives one G step."""
    model = {}
    for config in map(Path, configs):
        block = _model_block(config if config.suffix else ROOT / "configs" / f"{config}.yaml")
        model = {"class_path": block.get("class_path", model.get("class_path", "lit_gans.models.GAN")),
                 "d_steps": (block.get("init_args") or {}).get("d_steps", model.get("d_steps"))}  # fmt: skip
    module, name = model["class_path"].rsplit(".", 1)
    return model["d_steps"] or getattr(importlib.import_module(module), name).paper_d_steps


@pytest.fixture
def run_cli(tmp_path, monkeypatch):
    """Runs ``python -m lit_gans ...`` in-process from the repo root, logging under tmp_path."""
    monkeypatch.chdir(ROOT)

    def run(*args: str):
        return main([*args, f"--trainer.default_root_dir={tmp_path}", *FAST])

    return run


@pytest.fixture(autouse=True)
def image_cache_in_tmp(tmp_path_factory, monkeypatch):
    """Image folders decoded by tests are cached in the session's temporary folder, not in the user's ~/.cache
    (a test's subprocess: pass ``env=cache_env(tmp_path)``)."""
    monkeypatch.setattr("lit_gans.image_folder.user_cache", lambda: tmp_path_factory.getbasetemp() / "cache")


def cache_env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path / "xdg_cache")}  # no Inception weights there: --metrics.backbone none


def run_module(*args: str, cwd=ROOT, timeout=600, env=None) -> subprocess.CompletedProcess:
    """Runs ``python -m lit_gans ...`` as a user would, in a subprocess (``env``: variables to add)."""
    return subprocess.run(
        [sys.executable, "-m", "lit_gans", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class AtStep(Callback):
    """A test-only callback: does ``act`` at the start of a given global step.

    Args:
        step: the global step at whose start it acts.
    """

    def __init__(self, step: int = 3):
        self.step = step

    def act(self, pl_module) -> None:
        raise NotImplementedError

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            self.act(pl_module)


class PoisonAt(AtStep):
    """Sets a weight of D to NaN at the start of ``step`` (a diverging run)."""

    def act(self, pl_module) -> None:
        next(pl_module.discriminator.parameters()).data.fill_(float("nan"))


class KillAt(AtStep):
    """SIGKILLs its own process at the start of ``step`` (a machine that dies mid-run)."""

    def act(self, pl_module) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


class RecordLaunch(Callback):
    """A test-only callback: each rank writes ``<folder>/rank<N>.txt`` naming its strategy and cluster environment.

    Args:
        folder: where the files go.
    """

    def __init__(self, folder: str = "."):
        self.folder = folder

    def on_train_start(self, trainer, pl_module):
        strategy = trainer.strategy
        line = f"{type(strategy).__module__}.{type(strategy).__name__} {type(strategy.cluster_environment).__name__}"
        (Path(self.folder) / f"rank{trainer.global_rank}.txt").write_text(line)


class DiskFullAt(AtStep):
    """Raises the OSError a full disk gives at the start of ``step`` (a log or picture write that fails)."""

    def act(self, pl_module) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "lightning_logs/version_0/events.out.tfevents")
