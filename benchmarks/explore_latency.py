"""Explorer redraw latency: how long the page waits for an 8x8 grid after a control moves.

Run from the repo root: ``python -m benchmarks.explore_latency [--variant infogan] [--ckpt PATH] [--rows 8 --cols 8]
[--requests 50] [--threads N]``.

A server on a free local port (``lit_gans.explore.serve``) answers ``/api/grid`` over HTTP, as the page asks it; each
request moves a control (InfoGAN: the category and a slider; AC-GAN and cGAN: the class; every model: the seed), so
no answer repeats the one before. Printed: the median and 90th percentile of the round trip (request to the last
byte of the PNG, what the page waits for), of the draw alone (latents, G, grid, PNG; no HTTP), and of the whole page
(the grid and the interpolation strip for each generator: a model with an EMA shows both); for a variant that reads
images (InfoGAN, AC-GAN, cGAN), also the round trip of reading a drawing (``POST /api/read`` of a 280x280 PNG, as the
page sends each stroke: decoded, centred, read by D). Weights: ``--ckpt`` or the untrained ones (the same work per
image). A CUDA GPU is used when there is one.
"""

import argparse
import datetime
import platform
import statistics
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torchvision.io import encode_png

from lit_gans.explore import serve, url_of
from lit_gans.models import ACGAN, CGAN, GAN, InfoGAN

VARIANTS = {"infogan": InfoGAN, "acgan": ACGAN, "cgan": CGAN, "dcgan": GAN}  # GAN's default arch is dcgan


def moved(model, i: int) -> dict[str, str]:
    """The controls of request i: a new seed, and every control the model has set to a new value."""
    query = {"seed": str(i)}
    for control in model.controls():
        key = control["condition"] + ("" if control["column"] is None else f".{control['column']}")
        if "choices" in control:
            query[key] = str(i % control["choices"])
        else:
            low, high = control["range"]
            query[key] = f"{low + (high - low) * (i % 11) / 10:.3f}"
    return query


def cpu_name() -> str:
    try:  # Linux names the model; platform.processor() is often empty there
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cores = sum(line.startswith("processor") for line in lines)
        return (
            next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")) + f", {cores} cores"
        )
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.1f} ms, p90 {p90:.1f} ms"


def run(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=VARIANTS, default="infogan")
    parser.add_argument("--ckpt", help="a checkpoint of that variant (default: untrained weights)")
    parser.add_argument("--ema", action="store_true", help="give the untrained model an EMA (two generators)")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--cols", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per measure, after 3 warm-up ones")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    kind = VARIANTS[args.variant]
    if args.ckpt:
        model = kind.load_from_checkpoint(args.ckpt, map_location="cpu", weights_only=True)
    else:
        model = kind(ema_decay=0.999 if args.ema else None)
    server = serve(model, port=0, background=True)
    explorer, base = server.explorer, url_of(server)
    grid = {"rows": str(args.rows), "cols": str(args.cols)}

    def query(i: int, **extra) -> str:
        return urllib.parse.urlencode({**moved(model, i), **extra})

    def fetch(path: str, body: bytes | None = None) -> bytes:
        headers = {"Content-Type": "image/png"} if body else {}
        with urllib.request.urlopen(urllib.request.Request(base + path, data=body, headers=headers)) as response:
            return response.read()

    def timed(action, n: int) -> list[float]:
        for i in range(3):  # warm-up: the first calls allocate oneDNN's buffers
            action(n + i)
        times = []
        for i in range(n):
            start = time.perf_counter()
            action(i)
            times.append((time.perf_counter() - start) * 1000)
        return times

    round_trip = timed(lambda i: fetch("api/grid?" + query(i, **grid)), args.requests)
    draw = timed(lambda i: explorer.draw("grid", query(i, **grid)), args.requests)

    def whole_page(i: int) -> None:  # as the page asks: every image at once
        paths = [f"api/grid?{query(i, **grid, generator=g)}" for g in explorer.generators]
        paths += [f"api/interpolate?{query(i, seed_b=str(i + 1), generator=g)}" for g in explorer.generators]
        with ThreadPoolExecutor(len(paths)) as pool:
            list(pool.map(fetch, paths))

    page = timed(whole_page, max(5, args.requests // 5))
    read = None
    if explorer.reader is not None:  # a stroke moved each time: a bar 20 + i % 100 pixels from the left
        drawings = [torch.zeros(1, 280, 280, dtype=torch.uint8) for _ in range(100)]
        for i, canvas in enumerate(drawings):
            canvas[0, 40:240, 20 + i : 50 + i] = 255
        pngs = [encode_png(canvas).numpy().tobytes() for canvas in drawings]
        read = timed(lambda i: fetch("api/read", pngs[i % len(pngs)]), args.requests)
    server.shutdown()
    server.server_close()
    device = explorer.device
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(
        f"explore latency, {model.variant}{' (EMA + G)' if len(explorer.generators) > 1 else ''}, "
        f"{args.rows}x{args.cols} grid of {'x'.join(map(str, model.hparams.img_shape))}, {device} ({where}), "
        f"torch threads {torch.get_num_threads()}, torch {torch.__version__}, {datetime.date.today()}"
    )
    print(f"  draw alone       {percentiles(draw)}")
    print(f"  grid round trip  {percentiles(round_trip)}   <- each redraw (target: well under 100 ms)")
    print(f"  whole page       {percentiles(page)}   ({2 * len(explorer.generators)} images at once)")
    if read:
        print(f"  read a drawing   {percentiles(read)}   (POST /api/read, 280x280 PNG; the page then redraws)")
    return {
        "draw_ms": statistics.median(draw),
        "round_trip_ms": statistics.median(round_trip),
        "page_ms": statistics.median(page),
        "read_ms": statistics.median(read) if read else None,
    }


if __name__ == "__main__":
    run()
