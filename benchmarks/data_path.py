"""The image-folder data path at the sizes users have: seconds to the first training step and peak memory, against
torchvision's ``ImageFolder`` loader and against decoding into memory as lit_gans did before its cache.

Run from the repo root: ``python -m benchmarks.data_path [--sizes 2000 10000 40000] [--image-size 64]
[--workers 0 2] [--tv-workers 2] [--batches 20] [--batch-size 128] [--dir DIR]``.

Folders of synthetic 178x218 JPEGs (CelebA's aligned size, quality 90, a smooth random picture plus noise, seeded
by the file's index) are written once into ``DIR/pool`` (a temporary folder by default, removed at the end) and each
size's folder is made of hard links to the first N of them, in one class sub-folder. Every arm runs in a fresh
process, so its memory is its own (the JPEGs and the cache are in the OS page cache, warm, for every arm alike):

- before: every image decoded into one uint8 tensor, then the train/val split copied from it, as
  ``ImageFolderDataModule`` did before the cache (``DecodedImages``, one image at a time, no workers).
- build W: ``ImageFolderDataModule.setup("fit")`` with an empty cache and ``num_workers`` W: the walk and the
  decoding into the cache, what a first run adds.
- read: the same setup with the cache built, then the first batch, then img/s of ``--batches`` more (training
  draws): what every later run's data costs.
- second fit: ``python -m lit_gans fit --config dcgan`` on the folder with the cache built, until its first training
  step: the walk, the cache, the model and Lightning.
- torchvision: ``ImageFolder`` + ``DataLoader(shuffle=True, num_workers=--tv-workers)`` with the same Resize and
  CenterCrop: the first batch, then img/s of ``--batches`` more (each batch decoded then).

Seconds are wall seconds from after the imports; cpu: the CPU seconds of the process and its workers (before,
build), which parallel workers divide among cores and do not add to. Memory, sampled every 20 ms from
``/proc/PID/smaps_rollup``: the peak of the proportional set size (PSS) summed over the process and its workers (a
page shared by several counts once in all), and of its anonymous part (the processes' own memory; the pages of a
memory-mapped cache are file pages, the OS page cache's to keep or drop), each less the process's own at the start.
A least-squares line over the sizes measured (against images) gives CelebA (202,599) and 1,000,000; for memory the
bookkeeping arms (``--listing N``: N hard links, decoding replaced by black images) are the better guide, since a few
batches' buffers weigh more than a few thousand images' bookkeeping.
"""

import argparse
import datetime
import importlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from lightning import Callback

ROOT = Path(__file__).resolve().parents[1]
EXTRAPOLATE = {"CelebA": 202_599, "1M": 1_000_000}
WIDTH, HEIGHT = 178, 218  # CelebA's aligned and cropped images


# ---- the folders ----------------------------------------------------------------------------------------------


def write_jpegs(job: tuple[str, int, int]) -> None:
    from PIL import Image

    folder, start, stop = job
    for index in range(start, stop):
        rng = np.random.default_rng(index)
        coarse = Image.fromarray(rng.integers(0, 256, (14, 12, 3), dtype=np.uint8)).resize((WIDTH, HEIGHT), 3)
        pixels = np.asarray(coarse).astype(np.int16) + rng.integers(-8, 9, (HEIGHT, WIDTH, 3))
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(Path(folder) / f"{index:07d}.jpg", quality=90)


def make_folders(base: Path, sizes: list[int]) -> dict[int, Path]:
    """``base/pool`` holds max(sizes) JPEGs (written in parallel, kept between runs); ``base/n<N>/faces`` links to N."""
    pool = base / "pool"
    pool.mkdir(parents=True, exist_ok=True)
    have = len(list(pool.glob("*.jpg")))
    if have < max(sizes):
        step = 500
        jobs = [(str(pool), i, min(i + step, max(sizes))) for i in range(have, max(sizes), step)]
        if len(jobs) == 1:
            write_jpegs(jobs[0])
        else:
            with Pool(os.cpu_count()) as workers:
                workers.map(write_jpegs, jobs)
    folders = {}
    for size in sizes:
        faces = base / f"n{size}" / "faces"
        if not faces.is_dir() or len(os.listdir(faces)) != size:
            shutil.rmtree(faces.parent, ignore_errors=True)
            faces.mkdir(parents=True)
            for index in range(size):
                source = pool / f"{index:07d}.jpg"
                try:
                    os.link(source, faces / source.name)
                except OSError:  # a file system without hard links
                    shutil.copyfile(source, faces / source.name)
        folders[size] = faces.parent
    return folders


def make_links(base: Path, count: int) -> Path:
    """``base/links<N>/faces``: N hard links to the pool's JPEGs in turn (directory entries only: cheap at a million;
    ext4 allows 65,000 links to one file)."""
    faces = base / f"links{count}" / "faces"
    if not faces.is_dir() or len(os.listdir(faces)) != count:
        shutil.rmtree(faces.parent, ignore_errors=True)
        faces.mkdir(parents=True)
        pool = sorted(os.listdir(base / "pool"))
        for index in range(count):
            os.link(base / "pool" / pool[index % len(pool)], faces / f"{index:07d}.jpg")
    return faces.parent


# ---- memory ---------------------------------------------------------------------------------------------------


def tree_memory(pid: int) -> tuple[int, int]:
    """(PSS, anonymous PSS) in bytes summed over ``pid`` and its descendants: pages shared between them (a forked
    worker's copy-on-write pages, libraries) are split among them, so the sum counts each page once."""
    pss = anon = 0
    pending = [pid]
    while pending:
        pid = pending.pop()
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            for task in os.listdir(f"/proc/{pid}/task"):
                pending += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:  # ended meanwhile
            continue
        fields = dict(line.split(":", 1) for line in rollup.splitlines()[1:] if ":" in line)
        pss += int(fields.get("Pss", "0 kB").split()[0]) * 1024
        anon += int(fields.get("Pss_Anon", "0 kB").split()[0]) * 1024
    return pss, anon


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended (a DataLoader's workers, once joined)."""
    own, ended = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime


class PeakMemory:
    """Samples this process tree's memory every 20 ms in a thread; ``peak()``: (PSS, anon PSS) above the start."""

    def __init__(self):
        self.start = tree_memory(os.getpid())
        self.high = list(self.start)
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while self.running:
            pss, anon = tree_memory(os.getpid())
            self.high = [max(self.high[0], pss), max(self.high[1], anon)]
            time.sleep(0.02)

    def peak(self) -> tuple[int, int]:
        self.running = False
        self.thread.join()
        pss, anon = tree_memory(os.getpid())
        return max(self.high[0], pss) - self.start[0], max(self.high[1], anon) - self.start[1]


# ---- the arms (each in its own process) ----------------------------------------------------------------------


class FirstStep(Callback):
    """Clocks the start of the first training step (its batch drawn by then)."""

    at: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if FirstStep.at is None:
            FirstStep.at = time.perf_counter()


def arm_before(folder: str, size: int, workers: int, cache: str, batches: int, batch_size: int) -> dict:
    import torch
    from torch.utils.data import DataLoader

    from lit_gans.image_folder import DecodedImages, find_images

    memory, start, cpu = PeakMemory(), time.perf_counter(), cpu_seconds()
    samples, _ = find_images(Path(folder))
    loader = DataLoader(DecodedImages(samples, size, "RGB"), batch_size=None, num_workers=0)
    images = torch.empty(len(samples), 3, size, size, dtype=torch.uint8)
    for i, (_, image) in enumerate(loader):
        images[i] = image
    order = torch.randperm(len(samples), generator=torch.Generator().manual_seed(0))
    held_out = round(len(samples) * 0.1)
    train, val = images[order[held_out:]], images[order[:held_out]]  # copied while the whole tensor is alive
    seconds = time.perf_counter() - start
    del train, val
    return {"seconds": seconds, "cpu": cpu_seconds() - cpu, "memory": memory.peak()}


def arm_fit(folder: str, size: int, workers: int, cache: str, batches: int, batch_size: int) -> dict:
    from lit_gans.cli import main

    clock = importlib.import_module("benchmarks.data_path").FirstStep  # the copy the CLI imports (not __main__'s)
    clock.at = None
    memory, start = PeakMemory(), time.perf_counter()
    with tempfile.TemporaryDirectory() as logs:
        main(
            ["fit", "--config=dcgan", "--data=ImageFolderDataModule", f"--data.root={folder}",
             f"--data.image_size={size}", f"--data.num_workers={workers}", f"--data.cache_dir={cache}",
             f"--data.batch_size={batch_size}",
             "--metrics.backbone=none", "--trainer.max_steps=1", "--trainer.limit_val_batches=0",
             "--trainer.num_sanity_val_steps=0", "--trainer.enable_progress_bar=false",
             "--trainer.enable_model_summary=false", f"--trainer.default_root_dir={logs}",
             "--trainer.callbacks+=benchmarks.data_path.FirstStep"]
        )  # fmt: skip
    return {"seconds": clock.at - start, "memory": memory.peak()}


def arm_build(folder: str, size: int, workers: int, cache: str, batches: int, batch_size: int) -> dict:
    from lit_gans.image_folder import ImageFolderDataModule

    memory, start, cpu = PeakMemory(), time.perf_counter(), cpu_seconds()
    ImageFolderDataModule(folder, size, batch_size=batch_size, num_workers=workers, cache_dir=cache).setup("fit")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu": cpu_seconds() - cpu, "memory": memory.peak()}


def arm_bookkeeping(folder: str, size: int, workers: int, cache: str, batches: int, batch_size: int) -> dict:
    """``arm_build`` with a decoder that returns black images at once: what a build costs beside the decoding."""
    import torch

    from lit_gans.image_folder import DecodedImages

    black, decode = torch.zeros(3, size, size, dtype=torch.uint8), DecodedImages.__getitem__
    DecodedImages.__getitem__ = lambda self, index: (self.samples[index][0], black)
    try:
        return arm_build(folder, size, workers, cache, batches, batch_size)
    finally:
        DecodedImages.__getitem__ = decode  # in this process (the smoke test), the next arm decodes again


def arm_read(folder: str, size: int, workers: int, cache: str, batches: int, batch_size: int) -> dict:
    from lit_gans.image_folder import ImageFolderDataModule

    memory, start = PeakMemory(), time.perf_counter()
    dm = ImageFolderDataModule(folder, image_size=size, batch_size=batch_size, cache_dir=cache)
    dm.setup("fit")
    drawn = iter(dm.train_dataloader())
    next(drawn)
    first = time.perf_counter() - start
    return {"seconds": first, **steady(drawn, batches), "memory": memory.peak()}


def arm_torchvision(folder: str, size: int, workers: int, cache: str, batches: int, batch_size: int) -> dict:
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2

    memory, start = PeakMemory(), time.perf_counter()
    transform = v2.Compose([v2.Resize(size, antialias=True), v2.CenterCrop(size), v2.PILToTensor()])
    images = ImageFolder(folder, transform=transform)
    loader = DataLoader(images, batch_size=batch_size, shuffle=True, num_workers=workers)
    drawn = iter(loader)
    next(drawn)
    first = time.perf_counter() - start
    return {"seconds": first, **steady(drawn, batches), "memory": memory.peak()}


def steady(drawn, batches: int) -> dict:
    start, images = time.perf_counter(), 0
    for _, (batch, _) in zip(range(batches), drawn, strict=False):  # fewer if the loader ends first
        images += len(batch)
    return {"img_per_s": images / (time.perf_counter() - start)}


ARMS = {
    "before": arm_before,
    "build": arm_build,
    "read": arm_read,
    "fit": arm_fit,
    "torchvision": arm_torchvision,
    "bookkeeping": arm_bookkeeping,
}


def measure(arm: str, fresh: bool, **kwargs) -> dict:
    """One arm, in a fresh process (its RESULT line read back) or, for the smoke test, in this one."""
    if not fresh:
        return ARMS[arm](**kwargs)
    command = [sys.executable, "-m", "benchmarks.data_path", "--arm", arm, json.dumps(kwargs)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode or not lines:
        raise RuntimeError(f"arm {arm} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


# ---- the run --------------------------------------------------------------------------------------------------


def fit_line(sizes: list[int], values: list[float], at: int) -> float:
    """A least-squares line through (size, value), read at ``at``."""
    slope, intercept = np.polyfit(sizes, values, 1)
    return slope * at + intercept


def mb(size: float) -> str:
    return f"{size / 2**20:,.0f}"


def run(argv: list[str] | None = None, fresh: bool = True) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 40000], help="images per folder")
    parser.add_argument("--image-size", type=int, default=64, help="--data.image_size (28, 32 or 64)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="--data.num_workers of the first runs")
    parser.add_argument("--tv-workers", type=int, default=2, help="torchvision DataLoader's num_workers")
    parser.add_argument("--batches", type=int, default=20, help="batches timed after the first (read, torchvision)")
    parser.add_argument("--batch-size", type=int, default=128, help="images per batch (--data.batch_size)")
    parser.add_argument("--listing", type=int, default=0, help="images of the bookkeeping arms (0: none)")
    parser.add_argument("--dir", help="where the folders and caches go (kept; default: a temporary folder)")
    parser.add_argument("--arm", help=argparse.SUPPRESS)  # a child process: one arm, its kwargs as JSON
    args, rest = parser.parse_known_args(argv)
    if args.arm:
        print("RESULT " + json.dumps(ARMS[args.arm](**json.loads(rest[0]))), flush=True)
        return {}
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="lit_gans_data_path_"))
    started = time.perf_counter()
    try:
        folders = make_folders(base, sorted(args.sizes))
        sized = {"batch_size": args.batch_size, "workers": 0}
        results = {}
        for size, folder in folders.items():
            common = {"folder": str(folder), "size": args.image_size, "batches": args.batches, **sized}
            row = {"before": measure("before", fresh, **common, cache="")}
            for workers in args.workers:
                cache = base / "cache" / f"n{size}-w{workers}"
                shutil.rmtree(cache, ignore_errors=True)  # an empty cache: the first run
                row[f"build {workers}"] = measure("build", fresh, **{**common, "workers": workers}, cache=str(cache))
            built = str(base / "cache" / f"n{size}-w{args.workers[0]}")
            row["read"] = measure("read", fresh, **common, cache=built)
            row["second fit"] = measure("fit", fresh, **common, cache=built)
            tv = {**common, "workers": args.tv_workers}
            row["torchvision"] = measure("torchvision", fresh, **tv, cache="")
            results[size] = row
            report_row(size, row, args)
        if args.listing:
            links = {"folder": str(make_links(base, args.listing)), "size": 28, "batches": args.batches}
            cache = base / "cache" / f"links{args.listing}"
            shutil.rmtree(cache, ignore_errors=True)
            listing = {"build, no decoding": measure("bookkeeping", fresh, **links, **sized, cache=str(cache))}
            listing["read"] = measure("read", fresh, **links, **sized, cache=str(cache))
            report_listing(args.listing, listing)
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    return report(results, args, time.perf_counter() - started)


def report_row(size: int, row: dict, args) -> None:
    print(f"{size:,} images ({mb(size * 3 * args.image_size**2)} MB decoded)", flush=True)
    for arm, result in row.items():
        pss, anon = result["memory"]
        rate = f"{result['img_per_s']:>9,.0f}" if "img_per_s" in result else f"{'-':>9}"
        cpu = f"{result['cpu']:>8.2f}" if "cpu" in result else f"{'-':>8}"
        memory = f"{mb(pss):>7} MB PSS {mb(anon):>7} MB anon"
        print(f"  {arm:<12} {result['seconds']:>8.2f} s {cpu} s cpu {rate} img/s {memory}")


def report_listing(count: int, listing: dict) -> None:
    print(f"{count:,} hard links to JPEGs, 28 px: the bookkeeping per image, decoding aside", flush=True)
    for arm, result in listing.items():
        pss, anon = result["memory"]
        per = f"{anon / count:>6,.0f} B anon per image, {anon / count * 1e6 / 1e9:.2f} GB for a million"
        print(f"  {arm:<20} {result['seconds']:>8.2f} s {mb(pss):>7} MB PSS {mb(anon):>7} MB anon ({per})")


def report(results: dict, args, wall: float) -> dict:
    sizes = sorted(results)
    arms = list(results[sizes[0]])
    for name, images in EXTRAPOLATE.items() if len(sizes) > 1 else ():  # a line needs two sizes
        disk = images * 3 * args.image_size**2
        print(f"extrapolated to {images:,} images ({name}): {mb(disk)} MB decoded (the cache on disk)")
        for arm in arms:
            seconds = fit_line(sizes, [results[s][arm]["seconds"] for s in sizes], images)
            pss, anon = (fit_line(sizes, [results[s][arm]["memory"][i] for s in sizes], images) for i in (0, 1))
            print(f"  {arm:<12} {seconds:>8.1f} s {'':>30} {mb(pss):>7} MB PSS {mb(anon):>7} MB anon")
    big, cpu = sizes[-1], platform.processor() or platform.machine()
    print(
        f"data path, {args.image_size} px RGB from {WIDTH}x{HEIGHT} JPEGs, {cpu}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, {datetime.date.today()}, {wall:.0f} s in all"
    )
    row = results[big]
    print(
        f"data path: at {big:,} images a second run reaches its first step in {row['second fit']['seconds']:.2f} s; "
        f"decoding {row['before']['seconds']:.1f} s before the cache, building it"
        + ",".join(f" {row[f'build {w}']['seconds']:.1f} s with {w} workers" for w in args.workers)
        + f"; setup's peak +{mb(row[f'build {args.workers[0]}']['memory'][0])} MB PSS (before: "
        f"+{mb(row['before']['memory'][0])} MB) for {mb(big * 3 * args.image_size**2)} MB of images; torchvision's "
        f"first batch {row['torchvision']['seconds']:.2f} s"
    )
    return {"results": results}


if __name__ == "__main__":
    run()
