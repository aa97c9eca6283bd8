"""Every shipped run trains the same weights as when its numbers were measured.

For each run (a config, or a config with overlays) a few generator steps are trained on the CPU from a fixed seed,
and each network (G, D, G's EMA) is reduced to two numbers: a fixed random projection of its initial weights and of
what training changed. A refactor that keeps the numerics keeps both; one that changes the initialisation, the noise,
the data order, a loss or an optimizer moves them far beyond the tolerance. Record anew only for a change that is
meant to alter training, and say so in the commit; name the runs it is meant to alter, so that the others keep
their records:

    python tests/test_fingerprints.py --record infogan_fewlabel     # no names: every run

What training changes is the same bits only on the same kind of CPU: oneDNN and ATen pick their float32 kernels by
instruction set, and Adam's first steps magnify the different rounding (AVX-512 against AVX2: 0.3% of a network's
delta). The records are kept per instruction set (``torch.backends.cpu.get_cpu_capability()``); on a CPU of another
kind the test is skipped until its records are made, from a commit whose training is known to match (every record's
own test passing on a CPU that has them).
"""

import json
import sys
from pathlib import Path

import pytest
import torch
from lightning import Callback

ROOT = Path(__file__).resolve().parents[1]
RECORD = Path(__file__).with_name("fingerprints.json")  # {instruction set: {run: {network: {init, delta}}}}
CPU = torch.backends.cpu.get_cpu_capability()  # "AVX512", "AVX2", ... : the kernels float32 training runs on
STEPS = 3  # generator steps: enough for Adam's moments, the EMA and D's extra steps to show
RUNS = {  # run name -> the CLI arguments that select it (kept when configs are reorganised)
    "gan": ["--config=gan"],
    "dcgan": ["--config=dcgan"],
    "infogan": ["--config=infogan"],
    "infogan_fewlabel": ["--config=infogan", "--config=infogan_fewlabel"],
    "infogan_sharp": ["--config=infogan", "--config=infogan_sharp"],
    "infogan_consistency": ["--config=infogan", "--config=infogan_consistency"],
    "infogan_rotate": ["--config=infogan", "--config=infogan_rotate"],
    "acgan": ["--config=acgan"],
    "cgan": ["--config=cgan"],
    "wgan_gp": ["--config=wgan_gp"],
    "fashion_dcgan": ["--config=dcgan", "--config=fashion_mnist"],
    "fashion_infogan": ["--config=infogan", "--config=fashion_mnist"],
    "fashion_acgan": ["--config=acgan", "--config=fashion_mnist"],
    "tiny": ["--config=tiny"],
    "ring_gan": ["--config=ring_gan"],
    "ring_hinge": ["--config=ring_hinge"],
    "ring_wgan_gp": ["--config=ring_wgan_gp"],
    "grid_gan": ["--config=ring_gan", "--config=grid"],
}
SMALL = [  # a CPU-sized run of any config; nothing here changes what a config trains but its length and batch size
    f"--trainer.max_steps={STEPS}",
    "--trainer.limit_val_batches=0",
    "--trainer.accelerator=cpu",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--trainer.logger=false",
    "--data.batch_size=16",
]


class InitialWeights(Callback):
    """Keeps a copy of the model's floating-point weights and buffers as training starts."""

    def on_fit_start(self, trainer, pl_module):
        self.state = {k: v.detach().clone() for k, v in pl_module.state_dict().items() if v.is_floating_point()}


def project(state: dict[str, torch.Tensor]) -> dict[str, float]:
    """Per network (the key's first part): the sum over its tensors of <tensor, a fixed random tensor>, in float64."""
    out: dict[str, float] = {}
    for key in sorted(state):
        rng = torch.Generator().manual_seed(sum(map(ord, key)))  # one fixed direction per tensor name
        direction = torch.randn(state[key].numel(), generator=rng, dtype=torch.float64)
        network = key.split(".")[0]
        out[network] = out.get(network, 0.0) + float(state[key].double().flatten() @ direction)
    return out


def fingerprint(args: list[str], root: Path) -> dict[str, dict[str, float]]:
    from lit_gans.cli import main

    record = "--trainer.callbacks+=test_fingerprints.InitialWeights"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # float32 sums split over threads round differently; Adam's first steps magnify that
    try:
        cli = main(["fit", *args, *SMALL, record, f"--trainer.default_root_dir={root}"])
    finally:
        torch.set_num_threads(threads)
    assert cli.trainer.global_step == STEPS
    initial = next(c for c in cli.trainer.callbacks if type(c).__name__ == "InitialWeights")
    final = {k: v for k, v in cli.model.state_dict().items() if v.is_floating_point()}
    init = project(initial.state)
    delta = project({k: final[k] - initial.state[k] for k in initial.state})
    return {network: {"init": init[network], "delta": delta[network]} for network in init}


@pytest.mark.parametrize("run", sorted(RUNS))
def test_weights_match_the_recorded_fingerprint(run, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    records = json.loads(RECORD.read_text())
    if CPU not in records:
        pytest.skip(f"no fingerprints recorded for {CPU} CPUs (only {', '.join(records)}): see this file's docstring")
    if run not in records[CPU]:
        pytest.skip(f"no fingerprint of {run} recorded for {CPU} CPUs: see this file's docstring")
    recorded = records[CPU][run]
    measured = fingerprint(RUNS[run], tmp_path)
    assert sorted(measured) == sorted(recorded)  # the same networks (an EMA gained or lost shows here)
    for network, values in recorded.items():
        # the initial weights: float64 sums of float32 values, equal up to summation order
        assert measured[network]["init"] == pytest.approx(values["init"], rel=1e-9, abs=1e-9), network
        # what training changed, on one thread: the same CPU gives the same bits (another instruction set may not)
        assert measured[network]["delta"] == pytest.approx(values["delta"], rel=1e-5, abs=1e-8), network


if __name__ == "__main__" and sys.argv[1:2] == ["--record"]:
    import tempfile

    sys.path.insert(0, str(ROOT / "tests"))  # test_fingerprints.InitialWeights, by the name the CLI is given
    names = sys.argv[2:] or sorted(RUNS)
    if unknown := sorted(set(names) - set(RUNS)):
        sys.exit(f"test_fingerprints: no run named {', '.join(unknown)}; the runs are {', '.join(sorted(RUNS))}")
    everything = json.loads(RECORD.read_text())
    records = everything.setdefault(CPU, {}) if sys.argv[2:] else {}  # named runs: the others' records are kept
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            records[name] = fingerprint(RUNS[name], Path(tmp))
            print(name, records[name], flush=True)
    everything[CPU] = records  # other instruction sets' records are kept
    RECORD.write_text(json.dumps(everything, indent=1, sort_keys=True) + "\n")
