"""Smoke tests of the benchmark scripts: their real code paths at tiny settings."""

import csv
import importlib
import shutil
import sys

import pytest
import torch
from conftest import FAST, ROOT


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a CPU shared with other jobs a team of two threads waits for each other on every small
    op (KID's kernels ran 100x slower), and these tests check the scripts' plumbing, not their speed."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load(name: str):
    """``benchmarks.<name>``, imported from the repo root as ``python -m benchmarks.<name>`` runs it."""
    return importlib.import_module(f"benchmarks.{name}")


@pytest.mark.slow  # 25-37 s
def test_throughput_times_both_arms_on_the_same_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the script moves to the repo root; monkeypatch moves back
    throughput = load("throughput")
    args = ["--variants", "dcgan", "--steps", "3", "--repeats", "2", "--batch-size", "16", "--warmup", "1"]
    result = throughput.run([*args, "--compile-runs", "0"])  # inductor's compile is the slow test's business
    dcgan = result["variants"]["dcgan"]
    assert dcgan["trainer"] > 0 and dcgan["plain"] > 0
    assert dcgan["ratio"] == pytest.approx(dcgan["trainer"] / dcgan["plain"])
    pairs = [(1 / t - 1 / p) * 16e3 for t, p in zip(dcgan["trainer_runs"], dcgan["plain_runs"], strict=True)]
    assert dcgan["extra_runs"] == pytest.approx(pairs) and len(pairs) == 2
    assert dcgan["spread_ms"] == pytest.approx(max(pairs) - min(pairs))
    assert dcgan["noisy"] == (dcgan["spread_ms"] > abs(dcgan["extra_ms"]))
    assert dcgan["compile"] is None
    assert dcgan["same_weights"]  # same start, batches and noise: the plain loop did the Trainer's work
    assert dcgan["precisions"]["bf16-mixed"] > 0  # the default second precision: a Trainer run in bf16-mixed
    assert dcgan["precision_speedup"]["bf16-mixed"] == pytest.approx(
        dcgan["precisions"]["bf16-mixed"] / dcgan["trainer"]
    )
    assert result["loader"] > 0
    out = capsys.readouterr().out
    assert "torch threads" in out and "throughput: trainer/plain ratio min" in out.splitlines()[-1]
    assert "extra ms/step median" in out.splitlines()[-1] and "bf16 over fp32 dcgan" in out.splitlines()[-1]
    assert "bf16 img/s" in out and "bf16/fp32" in out


def test_throughput_times_variants_without_a_plain_loop_through_the_trainer(tmp_path, monkeypatch, capsys):
    """cGAN and WGAN-GP have no Lightning-free step: their rows have the Trainer arms and a dash for the plain arm."""
    monkeypatch.chdir(tmp_path)
    throughput = load("throughput")
    args = ["--variants", "wgan_gp", "--steps", "2", "--repeats", "1", "--batch-size", "16", "--warmup", "1"]
    wgan = throughput.run([*args, "--compile-runs", "0", "--precisions", "32-true"])["variants"]["wgan_gp"]
    assert wgan["trainer"] > 0 and wgan["plain"] is None and wgan["same_weights"] is None
    assert wgan["precisions"] == {} and "ratio" not in wgan
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("wgan_gp "))
    assert row.split()[2:7] == [f"{wgan['trainer']:.0f}", "-", "-", "-", "-"]


@pytest.mark.slow
def test_throughput_compile_column(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    throughput = load("throughput")
    args = ["--variants", "gan", "--steps", "3", "--repeats", "1", "--batch-size", "16", "--warmup", "2"]
    gan = throughput.run([*args, "--compile-runs", "1"])["variants"]["gan"]
    assert gan["compile"] > 0
    assert "compiled G and D" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("config", "extra", "columns"),
    [
        ("dcgan", [], ["val/fid", "val/is", "val/kid"]),
        (
            "acgan",
            ["--model.init_args.samples_per_class=10"],  # 100 samples for the accuracy: seconds, not minutes
            ["val/fid", "val/is", "val/kid", "val/sample_accuracy", "val/d_class_accuracy"],
        ),
    ],
)
def test_quality_writes_one_row_per_validation(tmp_path, monkeypatch, capsys, config, extra, columns):
    monkeypatch.chdir(tmp_path)
    quality = load("quality")
    out = tmp_path / "quality"
    args = ["--config", config, "--steps", "4", "--every", "2", "--num-eval-samples", "100", "--out", str(out)]
    fast = [  # 200 real test images for the reference statistics, no sanity check, no progress bar
        "--trainer.limit_val_batches=2",
        "--data.val_batch_size=100",
        "--trainer.num_sanity_val_steps=0",
        "--trainer.enable_progress_bar=false",
        "--data.batch_size=16",
    ]
    quality.run([*args, "--root", str(tmp_path / "runs"), *fast, *extra])
    with open(out.with_suffix(".csv")) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", *columns]
    assert [int(row["step"]) for row in rows] == [2, 4]  # validations after generator steps 2 and 4
    assert all(float(row["val/fid"]) > 0 for row in rows)
    assert out.with_suffix(".png").stat().st_size > 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"quality: {config} step 4:")
    (version,) = (tmp_path / "runs").rglob("version_*")  # the same run, drawn again from its logs alone
    again = quality.run(["--config", config, "--from-logs", str(version), "--out", str(tmp_path / "again")])
    assert [row["step"] for row in again["rows"]] == [2, 4] and again["rows"][-1]["val/fid"] > 0
    assert again["samples"] == 100  # the run's own count, from its saved config, not this call's default
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"(100 samples, read from {version})")
    with pytest.raises(SystemExit):  # a folder without an event file is refused, nothing trained
        quality.run(["--from-logs", str(tmp_path), "--out", str(tmp_path / "none")])


def test_quality_plot_says_how_to_install_matplotlib(tmp_path, monkeypatch):
    quality = load("quality")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes ``import matplotlib`` raise ImportError
    with pytest.raises(SystemExit, match=r'pip install -e "\.\[plot\]"'):
        quality.plot(tmp_path / "q.png", ["val/fid"], [{"step": 1, "val/fid": 1.0}], "title")


def test_histogram_of_real_digits_is_balanced_and_of_one_digit_is_not(tmp_path, capsys):
    from lit_gans.data import load_split

    histogram = load("histogram")
    images, labels = load_split(ROOT / "data", train=False)
    real = tmp_path / "real.pt"
    torch.save({"images": images[:2000, None]}, real)
    fractions = histogram.main([str(real)])
    expected = torch.bincount(labels[:2000], minlength=10).float() / 2000
    assert (fractions - expected).abs().max() < 0.01  # the evaluator is 99.4% accurate
    ones = tmp_path / "ones.pt"
    torch.save({"images": images[labels == 1][:500, None]}, ones)
    assert histogram.main([str(ones)])[1] > 0.98
    assert capsys.readouterr().out.splitlines()[-1].startswith("histogram: 500 samples, smallest class 0 at 0.0")


def test_compare_scores_g_and_its_ema_in_one_run(tmp_path, capsys):
    compare = load("compare")
    out = tmp_path / "compare"
    fast = ["--trainer.limit_val_batches=2", "--data.val_batch_size=100", "--data.batch_size=16"]
    logs = tmp_path / "logs"
    argv = ["--configs", "tiny", "--steps", "3", "--num-eval-samples", "100", "--out", str(out), "--log-dir", str(logs)]
    rows = compare.run([*argv, "--ema", "0.999", "0.5", *fast])
    assert [(r["config"], r["sampler"]) for r in rows] == [("tiny", "G"), ("tiny", "EMA 0.999"), ("tiny", "EMA 0.5")]
    assert len({r["fid"] for r in rows}) == 3  # three generators scored, not one three times
    with open(out.with_suffix(".csv")) as f:
        assert len(list(csv.DictReader(f))) == 3
    assert (tmp_path / "compare.png").stat().st_size > 0
    assert list((logs / "tiny").rglob("events.out.tfevents.*"))  # --log-dir keeps the run's TensorBoard logs


def test_ema_copies_refuse_a_decay_outside_0_1():
    from lit_gans.callbacks import EMACopies
    from lit_gans.errors import LitGansError

    with pytest.raises(LitGansError, match=r"decays must each be in \(0, 1\), got \[1.5\]"):
        EMACopies([1.5])


def test_seeds_writes_every_validation_of_every_seed_and_their_median(tmp_path, capsys):
    seeds = load("seeds")
    out = tmp_path / "seeds.csv"
    argv = ["--config", "infogan", "--config", "infogan_sharp", "--seeds", "0", "1", "--steps", "2", "--every", "1"]
    argv += ["--num-eval-samples", "100"]
    fast = [  # 200 held-out training images stand in for the test split, as in the screen
        "--data.holdout=200",
        "--data.val_batch_size=100",
        "--trainer.num_sanity_val_steps=0",
        "--trainer.enable_progress_bar=false",
        "--data.batch_size=16",
    ]
    summary = seeds.run([*argv, "--name", "screen", "--out", str(out), "--log-dir", str(tmp_path / "logs"), *fast])
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert [(r["name"], r["seed"], r["step"]) for r in rows] == [("screen", s, t) for s in "01" for t in "12"]
    assert {r["config"] for r in rows} == {"infogan+infogan_sharp"}  # a variant and its overlay
    assert {"val/code_accuracy", "val/code_accuracy_identity", "val/fid", "wall_s"} <= set(rows[0])
    last = [float(r["val/code_accuracy"]) for r in rows if r["step"] == "2"]
    result = summary["screen"]
    assert (result["min"], result["max"]) == (min(last), max(last)) and result["median"] == sum(last) / 2
    assert all(float(r["wall_s"]) > 0 for r in rows)
    assert (tmp_path / "logs" / "screen" / "seed_1").is_dir()  # each run's logs kept
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1].startswith("seeds: screen val/code_accuracy at step 2 over 2 seeds: median ")
    assert sum(line.startswith(("| 0 |", "| 1 |", "| median |")) for line in printed) == 3
    again = seeds.run(["--summarize", str(out), "--measure", "val/fid"])  # from the CSV alone, another measure
    assert again["screen"]["max"] == max(float(r["val/fid"]) for r in rows if r["step"] == "2")
    with pytest.raises(SystemExit, match="screen has no val/sample_accuracy; its measures: "):
        seeds.run(["--summarize", str(out), "--measure", "val/sample_accuracy"])


def test_rank_agreement_of_a_statistic_with_the_measure(tmp_path, capsys):
    seeds = load("seeds")
    rows = [  # three seeds, two steps: at step 1 the statistic orders them as the measure does, at step 2 reversed
        {"name": "x", "config": "infogan", "seed": s, "step": t, "wall_s": "1", "val/code_accuracy": acc,
         "val/code_mi": mi}
        for s, t, acc, mi in [("0", "1", "0.5", "1.0"), ("1", "1", "0.7", "2.0"), ("2", "1", "0.9", "3.0"),
                              ("0", "2", "0.9", "1.0"), ("1", "2", "0.8", "2.0"), ("2", "2", "0.7", "3.0")]
    ]  # fmt: skip
    seeds.write_rows(tmp_path / "s.csv", rows)
    result = seeds.run(["--summarize", str(tmp_path / "s.csv"), "--rank-by", "val/code_mi"])
    assert result["rank_agreement"] == {1: 1.0, 2: -1.0}
    assert "seeds: x step 2: Spearman(val/code_mi, val/code_accuracy) over 3 seeds = -1.00" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="a rank correlation needs 3 or more"):
        seeds.rank_agreement(rows[:2], "val/code_accuracy", "val/code_mi")


def test_time_split_sums_each_job_of_one_validation_period(tmp_path, monkeypatch, capsys):
    """Training, validation, metrics, pictures, checkpoints and the rest add up to the wall time after start-up."""
    monkeypatch.chdir(tmp_path)
    time_split = load("time_split")
    out = tmp_path / "split.csv"
    argv = ["--config", "infogan", "--config", "tiny", "--epochs", "1", "--out", str(out)]
    row = time_split.run([*argv, "--trainer.limit_train_batches=20"])  # tiny validates every 20 steps
    jobs = [row[f"{job}_s"] for job in time_split.JOBS]
    assert row["steps"] == 20 and all(seconds >= 0 for seconds in jobs)
    assert row["training_s"] > 0 and row["metrics_s"] > 0 and row["pictures_s"] > 0 and row["checkpoints_s"] > 0
    assert sum(jobs) == pytest.approx(row["wall_s"] - row["startup_s"], rel=0.05)  # the window, start-up apart
    beside = row["validation_s"] + row["metrics_s"] + row["pictures_s"] + row["checkpoints_s"]
    assert row["non_training_share"] == pytest.approx(beside / sum(jobs), rel=0.05)
    written = list(csv.DictReader(out.open()))
    assert [r["config"] for r in written] == ["infogan+tiny"] and float(written[0]["steps"]) == 20
    assert "time split: infogan+tiny non-training share" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("action", "job"),
    [
        ("run_training_batch", "training"),
        ("[Strategy]SingleDeviceStrategy.training_step", None),  # inside run_training_batch
        ("[Strategy]SingleDeviceStrategy.validation_step", "validation"),
        ("[LightningModule]InfoGAN.on_validation_epoch_end", "validation"),  # the variant's own measure
        ("[Callback]GenerationMetrics.on_validation_epoch_end", "metrics"),
        ("[Callback]LatentTraversal.on_validation_epoch_end", "pictures"),
        ("[Callback]GANCheckpoint{'monitor': None}.on_train_batch_end", "checkpoints"),
        ("save_checkpoint", None),  # inside a checkpoint callback's hook
        ("[Callback]ProgressBar.on_validation_batch_end", "other"),
    ],
)
def test_time_split_sorts_profiler_actions_into_jobs(action, job):
    assert load("time_split").job_of(action) == job


def test_merges_names_the_classes_that_share_code_values():
    report = load("merges").report
    counts = torch.eye(10, dtype=torch.long) * 100  # every class in a value of its own
    assert [line for line in report(counts) if line.startswith("merged")] == []
    counts[4, 4], counts[4, 9] = 55, 45  # 4 and 9 drawn from values 4 and 9 alike, as a merged InfoGAN reads them
    counts[9, 9], counts[9, 4] = 60, 40
    lines = report(counts)
    assert [line for line in lines if line.startswith("merged")] == [
        "merged: class 4 keeps 55% of its images in its value, shares its other values with class 9",
        "merged: class 9 keeps 60% of its images in its value, shares its other values with class 4",
    ]
    assert lines[4] == "class 4: value 4 55%; also 9 45%"
    assert lines[-1] == "best-mapping accuracy 0.9150; 2 of 10 classes under 80%"  # (800 + 55 + 60) / 1000


def test_merges_reads_the_slant_of_a_merged_class_in_each_of_its_values():
    merges = load("merges")
    images = torch.zeros(40, 28, 28, dtype=torch.uint8)
    for i, lean in enumerate([0.5] * 20 + [-0.25] * 20):  # strokes whose x moves right by `lean` per row up
        for row in range(4, 24):
            images[i, row, round(14 + lean * (13.5 - row))] = 255
    slants = merges.slant(images)
    assert torch.allclose(slants[:20], torch.tensor(0.5), atol=0.03)
    assert torch.allclose(slants[20:], torch.tensor(-0.25), atol=0.03)
    labels = torch.full((40,), 4)
    codes = torch.tensor([2] * 20 + [9] * 20)  # a class split by slant, as merged 4s are
    assert merges.slant_lines(images, labels, codes, [4]) == [
        "slant of class 4: value 2 +0.50 (20), value 9 -0.24 (20); all of class 4: +0.13"  # pixel rounding
    ]


def test_merges_reads_a_checkpoint_and_refuses_what_is_not_one(run_cli, tmp_path):
    merges = load("merges")
    run_cli("fit", "--config", "infogan", "--trainer.max_steps=2", "--trainer.limit_val_batches=0")
    ckpt = next(tmp_path.rglob("last.ckpt"))
    lines = merges.run([str(ckpt)])
    assert len(lines) >= 11 and [line.split(":")[0] for line in lines[:10]] == [f"class {c}" for c in range(10)]
    assert any(line.startswith("best-mapping accuracy ") for line in lines)
    with pytest.raises(SystemExit, match="is not an InfoGAN checkpoint"):
        merges.run([str(tmp_path / "missing.ckpt")])
    gz_only = tmp_path / "gz" / "MNIST" / "raw"  # as ../shared/data holds it: .gz files only (here the test split's)
    gz_only.mkdir(parents=True)
    for gz in sorted((ROOT / "data" / "MNIST" / "raw").glob("t10k-*.gz")):
        shutil.copy(gz, gz_only)
    assert merges.run([str(ckpt), "--data-dir", str(tmp_path / "gz")]) == lines


def test_data_path_measures_every_arm_at_each_size_and_extrapolates(tmp_path, capsys):
    data_path = load("data_path")
    args = ["--sizes", "20", "40", "--image-size", "32", "--workers", "0", "2", "--tv-workers", "0", "--batches", "1"]
    args += ["--batch-size", "8", "--listing", "30", "--dir", str(tmp_path)]
    result = data_path.run(args, fresh=False)["results"]
    assert sorted(result) == [20, 40] and len(list((tmp_path / "pool").glob("*.jpg"))) == 40
    arms = ["before", "build 0", "build 2", "read", "second fit", "torchvision"]
    for size in (20, 40):
        assert list(result[size]) == arms and all(result[size][arm]["seconds"] > 0 for arm in arms)
        assert result[size]["read"]["img_per_s"] > 0 and result[size]["torchvision"]["img_per_s"] > 0
        assert len(list((tmp_path / "cache" / f"n{size}-w2").glob("*/images.*.npy"))) == 1  # built by 2 workers
    lines = capsys.readouterr().out.splitlines()
    for size in ("20", "40"):
        at = lines.index(f"{size} images (0 MB decoded)")
        assert [line.split()[0] for line in lines[at + 1 : at + 7]] == [
            "before",
            "build",
            "build",
            "read",
            "second",
            "torchvision",
        ]
    assert any(line.startswith("extrapolated to 202,599 images (CelebA)") for line in lines)
    assert any(line.startswith("extrapolated to 1,000,000 images (1M)") for line in lines)
    assert lines[-1].startswith("data path: at 40 images a second run reaches its first step in ")
    at = lines.index("30 hard links to JPEGs, 28 px: the bookkeeping per image, decoding aside")
    assert lines[at + 1].split()[:3] == ["build,", "no", "decoding"] and lines[at + 2].split()[0] == "read"
    assert "B anon per image" in lines[at + 2]


def test_toy_writes_a_row_per_run_and_the_mean_and_spread_of_each_setting(tmp_path, capsys):
    toy = load("toy")
    out = tmp_path / "toy.csv"
    argv = ["--seeds", "0", "1", "--losses", "gan", "hinge", "--mixtures", "ring", "--out", str(out)]
    fast = ["--trainer.max_steps=4", "--trainer.val_check_interval=2", "--trainer.enable_model_summary=false"]
    summary = toy.run([*argv, "--log-dir", str(tmp_path / "logs"), *fast])
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert [(r["mixture"], r["loss"], r["seed"], r["step"]) for r in rows] == [
        ("ring", loss, seed, "4") for loss in ("gan", "hinge") for seed in "01"
    ]
    assert all(0 <= int(r["modes"]) <= 8 and 0 <= float(r["high_quality"]) <= 1 and r["threads"] == "1" for r in rows)
    gan = summary["ring", "gan"]
    assert gan["modes"] == [int(r["modes"]) for r in rows[:2]]
    assert (tmp_path / "logs" / "ring_hinge" / "seed_1" / "lightning_logs" / "version_0" / "images").is_dir()
    printed = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("| ring (max 8) | ") for line in printed) == 2
    assert printed[-1].startswith("toy: 4 runs in 2 settings; the ring GAN's fit took ")
    again = ["--seeds", "1", "--losses", "gan", "--mixtures", "ring", "--out", str(out), "--log-dir", str(tmp_path)]
    toy.run([*again, *fast])  # a run done again replaces its row
    with open(out) as f:
        assert len(list(csv.DictReader(f))) == 4
    assert toy.run(["--summarize", str(out)])["ring", "hinge"]["modes"] == [int(r["modes"]) for r in rows[2:]]


def test_select_picks_the_run_that_agrees_with_the_others_not_a_merged_one():
    select = load("select")
    digits = torch.arange(10).repeat_interleave(50)
    renamed = (digits * 3 + 1) % 10  # the same partition under other names: NMI 1
    assert select.nmi(digits, renamed) == pytest.approx(1.0)
    assert select.nmi(digits, torch.zeros_like(digits)) == 0.0  # one cluster says nothing
    merged_49 = torch.where(digits == 9, torch.tensor(4), digits)  # 4 and 9 in one value
    merged_79 = torch.where(digits == 9, torch.tensor(7), digits)
    runs = [merged_49, merged_79, (digits + 5) % 10, merged_49.clone()]
    matrix, mean = select.centrality(runs)
    assert matrix.shape == (4, 4) and torch.allclose(matrix, matrix.T) and (matrix.diagonal() == 1).all()
    assert int(mean.argmax()) == 2  # the unmerged run: the two 4/9 runs agree with each other, not with the 7/9 one


def test_select_reads_checkpoints_and_names_the_run_to_continue(run_cli, tmp_path, capsys):
    select = load("select")
    for seed in range(3):  # three runs of one config: lightning_logs/version_0..2
        run_cli("fit", "--config", "infogan", "--trainer.max_steps=1", "--trainer.limit_val_batches=0",
                f"--seed_everything={seed}")  # fmt: skip
    ckpts = [str(p) for p in sorted(tmp_path.rglob("last.ckpt"))]
    assert len(ckpts) == 3
    pick = select.run([*ckpts, "--images", "300"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "NMI of Q's code assignments on 300 real images, run by run:"
    assert out[-1].startswith(f"continue run {pick} ({ckpts[pick]}): its clustering agrees most with the others'")
    with pytest.raises(SystemExit):
        select.run(ckpts[:2])  # two runs have no medoid


def test_select_repeat_trains_k_runs_picks_one_without_labels_and_continues_it(tmp_path, capsys):
    repeat = load("select_repeat")
    out = tmp_path / "repeat.csv"
    argv = ["--config", "infogan", "--seeds", "0", "1", "2", "--select-step", "2", "--steps", "3", "--every", "1"]
    argv += ["--num-eval-samples", "100", "--images", "300", "--name", "rep", "--out", str(out)]
    fast = ["--data.holdout=200", "--data.val_batch_size=100", "--trainer.num_sanity_val_steps=0",
            "--trainer.enable_progress_bar=false", "--data.batch_size=16"]  # fmt: skip
    result = repeat.run([*argv, "--log-dir", str(tmp_path / "logs"), *fast])
    with open(out) as f:
        rows = list(csv.DictReader(f))
    short = [(r["seed"], r["step"]) for r in rows if r["phase"] == "short"]
    assert short == [(s, t) for s in "012" for t in "12"]  # every short run's validations
    continued = [r for r in rows if r["phase"] == "continued"]
    assert [(r["seed"], r["step"], r["picked"]) for r in continued] == [(str(result["pick"]), "3", "1")]  # resumed
    assert {r["seed"] for r in rows if r["picked"] == "1"} == {str(result["pick"])}
    printed = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"continue run {[0, 1, 2].index(result['pick'])} (") for line in printed)
    assert printed[-1].startswith(f"select_repeat: rep: continued seed {result['pick']} to step 3: val/code_accuracy ")
    with pytest.raises(SystemExit):
        repeat.run(["--seeds", "0", "1"])  # two runs have no medoid


def test_select_repeat_stopped_part_way_keeps_the_runs_it_finished(tmp_path, monkeypatch):
    repeat = load("select_repeat")
    out = tmp_path / "repeat.csv"
    other = {"name": "earlier", "config": "infogan", "seed": "9", "step": "5000", "wall_s": "1", "phase": "short"}
    seeds = load("seeds")
    seeds.write_rows(out, [other])

    def stopped(argv):
        raise KeyboardInterrupt  # the session ends while the pick is read

    monkeypatch.setattr(repeat.select, "run", stopped)
    argv = ["--config", "infogan", "--seeds", "0", "1", "2", "--select-step", "1", "--steps", "2", "--every", "1"]
    argv += ["--num-eval-samples", "100", "--name", "rep", "--out", str(out), "--log-dir", str(tmp_path / "logs")]
    fast = ["--data.holdout=200", "--data.val_batch_size=100", "--trainer.num_sanity_val_steps=0",
            "--trainer.enable_progress_bar=false", "--data.batch_size=16"]  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        repeat.run([*argv, *fast])
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert [(r["name"], r["seed"], r["step"]) for r in rows] == [("earlier", "9", "5000")] + [
        ("rep", s, "1") for s in "012"
    ]


def test_select_study_scores_the_medoid_pick_against_random_and_code_mi_picks():
    study = load("select_study")
    digits = torch.arange(10).repeat_interleave(50)
    merged_49 = torch.where(digits == 9, torch.tensor(4), digits)
    merged_79 = torch.where(digits == 9, torch.tensor(7), digits)

    def run(codes, merged, accuracy, mi):  # one run read at one step (100), judged there too
        return {"codes": {100: codes}, "merged": {100: merged}, "accuracy": {100: accuracy}, "mi": {100: mi}}

    runs = [run(merged_49, [9], 0.90, 2.3), run(merged_79, [9], 0.90, 2.2), run((digits + 5) % 10, [], 0.97, 2.1),
            run(merged_49.clone(), [9], 0.90, 2.0)]  # fmt: skip
    rows = study.study(runs, [100], [3, 4])
    four = rows[1]
    assert (four["k"], four["subsets"]) == (4, 1)
    assert four["pick_unmerged"] == 1.0 and four["random_unmerged"] == 0.25  # the medoid is the unmerged run
    assert four["mi_pick_unmerged"] == 0.0  # the highest code_mi is a merged run
    assert four["mi_pick_accuracy"] == pytest.approx(0.90)
    assert four["pick_accuracy"] == pytest.approx(0.97) and four["subset_best_accuracy"] == pytest.approx(0.97)
    three = rows[0]
    assert three["subsets"] == 4 and three["random_unmerged"] == pytest.approx(0.25)
    # subsets holding the unmerged run and both 4/9 runs pick a 4/9 run: they agree with each other; the others pick
    # the unmerged run (with the 7/9 run beside it) or a run of {49, 79, 49} with no unmerged run to pick
    assert 0.0 < three["pick_unmerged"] < 1.0


def test_select_study_reads_run_folders_and_writes_each_runs_numbers(tmp_path, monkeypatch, capsys):
    from lit_gans.cli import main

    study = load("select_study")
    monkeypatch.chdir(ROOT)
    first = tmp_path / "seed_0"
    main(["fit", "--config", "infogan", "--trainer.max_steps=2", "--trainer.limit_val_batches=0",
          "--checkpoint.every_n_train_steps=1", "--checkpoint.save_top_k=-1", "--seed_everything=0",
          f"--trainer.default_root_dir={first}", *FAST])  # fmt: skip
    for seed in (1, 2):  # three runs; the same weights under other seeds: their held-out slices differ
        shutil.copytree(first, tmp_path / f"seed_{seed}")
    out = tmp_path / "study.csv"
    rows = study.run([*(str(tmp_path / f"seed_{s}") for s in range(3)), "--k", "3", "--images", "300",
                      "--out", str(out)])  # fmt: skip
    assert [(r["step"], r["k"], r["subsets"]) for r in rows] == [(1, 3, 1), (2, 3, 1)]
    printed = capsys.readouterr().out
    assert printed.startswith("3 runs at steps [1, 2]; judged at step 2 on each run's 5000 held-out images")
    assert "step 2: Spearman over the 3 runs with the accuracy at 2: mean NMI" in printed
    with out.open() as f:
        written = list(csv.DictReader(f))
    assert [(r["seed"], r["step"]) for r in written] == [(str(s), str(t)) for t in (1, 2) for s in range(3)]
    for step in ("1", "2"):  # the same weights read the rule's images alike; only the judging slices differ
        assert len({(r["code_mi"], r["mean_nmi"]) for r in written if r["step"] == step}) == 1
    with pytest.raises(SystemExit):
        study.run([str(tmp_path / "seed_0"), str(tmp_path / "seed_1"), "--k", "3"])  # K above the runs given


def test_vmap_runs_stacked_step_is_k_separate_steps():
    vmap_runs, throughput = load("vmap_runs"), load("throughput")
    images = torch.rand(64, 1, 28, 28) * 2 - 1
    seen = []
    for arm in (vmap_runs.run_one_after_another, vmap_runs.run_stacked):
        torch.manual_seed(5)  # the same noise and codes for both arms, drawn in model order
        seen.append(arm(vmap_runs.models(2), images, 8, 2, 1, torch.Generator().manual_seed(5))[1])
    after, stacked = torch.tensor(seen[0]), torch.tensor(seen[1])
    assert len(after) == 6 and abs(after[0] - after[1]) > 1e-3  # 3 steps x 2 models, and the two models differ
    assert torch.allclose(stacked[:2], after[:2], rtol=1e-5)  # the first step, model by model: K separate runs
    # later steps drift by rounding: Adam's first updates are about lr x sign(gradient), and a gradient near 0 can
    # change its sign between a grouped and a plain convolution (seen: 2e-3 at step 3); the two models differ by 0.1
    assert torch.allclose(stacked, after, rtol=1e-2)
    built, real = vmap_runs.models(2), torch.stack(vmap_runs.real_batches(2, images, 8, torch.Generator()))
    stacked = vmap_runs.Stacked(built)
    name = next(n for n in stacked.buffers if n.startswith("model.discriminator.") and n.endswith("running_mean"))
    inputs = [m.sample_inputs(8) for m in built]
    stacked.step(real, {key: torch.stack([x[key] for x in inputs]) for key in inputs[0]})
    for k, model in enumerate(built):
        model.sample_inputs = lambda n, given=inputs[k]: given
        throughput.infogan_step(model, real[k], None, *model.configure_optimizers())
        assert torch.allclose(stacked.buffers[name][k], model.state_dict()[name[len("model.") :]], atol=1e-5)  # own BN
