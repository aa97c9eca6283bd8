"""A local page to turn a trained model's knobs: ``python -m lit_gans explore --config X --ckpt_path last``.

The controls come from the model (``GANModule.controls``): a variant that declares its conditions gets buttons and
sliders without editing the page. The web layer is the standard library's ``http.server`` serving one HTML file and
PNGs drawn per request; docs/explore.md says why (and not Gradio or Starlette).
"""

import copy
import ipaddress
import json
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import torch
import torch.nn.functional as F
from torchvision.io import encode_png

from lit_gans.callbacks import LatentTraversal
from lit_gans.data import to_uint8
from lit_gans.errors import LitGansError
from lit_gans.models import GANModule

MAX_SIDE = 16  # grid rows and columns: at most 16 x 16 = 256 images per redraw
MAX_STEPS = 16  # images in the interpolation strip
MAX_SEED = 2**31 - 1
LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")  # what a browser on this machine sends as Host


class BadRequest(ValueError):
    """A request value that is malformed or out of range: answered with HTTP 400 and this message."""


def integer(raw: str, name: str, low: int, high: int, also: str = "") -> int:
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise BadRequest(f"{name} must be an integer in {low}..{high}{' ' + also if also else ''}, got {raw!r}")
    return value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


class Explorer:
    """What the page shows: the model's controls, each request's values checked, its images drawn.

    Args:
        model: a GANModule with its trained weights loaded.
        class_names: names of the data's classes for the class buttons (None: numbers).
        span: the sliders of continuous codes cover span x the prior's range, as ``LatentTraversal`` sweeps them
            (None: that callback's default).
        device: where the generators run (None: the model's device).
    """

    def __init__(self, model: GANModule, class_names: list[str] | None = None, span: float | None = None, device=None):
        self.model, self.device = model, torch.device(device or model.device)
        self.span = LatentTraversal().span if span is None else span
        generators = {"G": model.generator}
        if model.sampling_generator is not model.generator:  # an EMA copy: shown beside the raw G
            generators = {"EMA": model.sampling_generator, "G": model.generator}
        # copies, so the caller's model is left as it was; eval: BatchNorm uses its running statistics. Channels-last
        # weights halve a CPU redraw: oneDNN's transposed convolutions are several times faster in that layout
        self.generators = {
            name: copy.deepcopy(g).to(self.device, memory_format=torch.channels_last).eval()
            for name, g in generators.items()
        }
        self.controls = []
        for control in model.controls():
            column = control["column"]  # the query names it condition.column (categories.0), or condition (labels)
            control = {**control, "id": control["condition"] + ("" if column is None else f".{column}")}
            if "range" in control:
                control["range"] = [bound * self.span for bound in control["range"]]
            if control.get("class_names") and class_names and len(class_names) == control["choices"]:
                control["names"] = list(class_names)
            self.controls.append(control)
        self.lock = threading.Lock()  # one redraw at a time: torch already uses every core it is given

    def describe(self) -> dict:
        """What the page builds its controls from (``GET /api/model``)."""
        return {
            "variant": self.model.variant,
            "image_shape": list(self.model.hparams.img_shape),
            "generators": list(self.generators),
            "controls": self.controls,
            "limits": {"side": MAX_SIDE, "steps": MAX_STEPS, "seed": MAX_SEED},
        }

    # ---- requests: every value checked, a clear message otherwise -----------------------------------------------

    def parse(self, query: str, view: str) -> dict:
        """A query string -> checked values; raises BadRequest naming the first bad or unknown parameter."""
        pairs = parse_qs(query, keep_blank_values=True)
        known = {"seed", "generator", *(c["id"] for c in self.controls)}
        known |= {"rows", "cols"} if view == "grid" else {"seed_b", "steps"}
        for key, values in pairs.items():
            if key not in known:
                raise BadRequest(f"unknown parameter {key!r}; this view takes {', '.join(sorted(known))}")
            if len(values) > 1:
                raise BadRequest(f"parameter {key!r} given {len(values)} times")
        get = {key: values[0] for key, values in pairs.items()}.get
        out = {"seed": integer(get("seed", "0"), "seed", 0, MAX_SEED)}
        if view == "grid":
            out["rows"] = integer(get("rows", "8"), "rows", 1, MAX_SIDE)
            out["cols"] = integer(get("cols", "8"), "cols", 1, MAX_SIDE)
        else:
            out["seed_b"] = integer(get("seed_b", "1"), "seed_b", 0, MAX_SEED)
            out["steps"] = integer(get("steps", "10"), "steps", 2, MAX_STEPS)
        out["generator"] = get("generator", next(iter(self.generators)))
        if out["generator"] not in self.generators:
            raise BadRequest(f"generator must be one of {', '.join(self.generators)}, got {out['generator']!r}")
        out["values"] = {}
        for control in self.controls:
            raw = get(control["id"], "any" if "choices" in control else "0")
            if "choices" in control:
                last = control["choices"] - 1
                out["values"][control["id"]] = None if raw == "any" else integer(raw, control["id"], 0, last, "or any")
            else:  # a slider: any number, clamped to its range
                try:
                    value = float(raw)
                except ValueError:
                    value = float("nan")
                if value != value or value in (float("inf"), float("-inf")):
                    raise BadRequest(f"{control['id']} must be a finite number, got {raw!r}")
                low, high = control["range"]
                out["values"][control["id"]] = min(max(value, low), high)
        return out

    def conditions(self, n: int, values: dict, seed: int) -> dict[str, torch.Tensor]:
        """Each condition for n images: set controls as given; "any" drawn per image from ``seed`` (a uniform choice,
        as the variants' priors draw them), so that the same seed shows the same images."""
        rng = torch.Generator().manual_seed(seed + 1)  # not the noise's own stream
        columns: dict[str, list[torch.Tensor]] = {}
        flat = {}  # conditions of shape (n,), such as AC-GAN's labels; the others are (n, columns)
        for control in self.controls:
            value = values[control["id"]]
            if "choices" in control:
                drawn = torch.randint(control["choices"], (n,), generator=rng)
                column = drawn if value is None else torch.full((n,), value, dtype=torch.long)
            else:
                column = torch.full((n,), value)
            columns.setdefault(control["condition"], []).append(column)
            flat[control["condition"]] = control["column"] is None
        return {name: cols[0] if flat[name] else torch.stack(cols, 1) for name, cols in columns.items()}

    # ---- drawing ------------------------------------------------------------------------------------------------

    @torch.inference_mode()
    def draw(self, view: str, query: str) -> bytes:
        """A PNG of the grid (``view="grid"``) or the interpolation strip (``"interpolate"``) the query asks for."""
        asked = self.parse(query, view)
        values, seed = asked["values"], asked["seed"]
        if view == "grid":
            n, nrow = asked["rows"] * asked["cols"], asked["cols"]
            z = self.model.latents(n, seed=seed, **self.conditions(n, values, seed))
        else:  # the noise of seed's first image to seed_b's, every condition held (those left "any": seed's draw)
            held = self.conditions(1, values, seed)
            ends = [self.model.latents(1, seed=s, **held) for s in (seed, asked["seed_b"])]
            t = torch.linspace(0, 1, asked["steps"])[:, None]
            z, nrow = torch.lerp(ends[0], ends[1], t), asked["steps"]
        with self.lock:
            images = self.generators[asked["generator"]](z.to(self.device))
        grid = tile(to_uint8(images.float()).cpu(), nrow)
        return encode_png(grid, compression_level=1).numpy().tobytes()  # the default level 6 takes 20x longer


def tile(images: torch.Tensor, nrow: int) -> torch.Tensor:
    """(n, C, H, W) -> one (C, H', W') picture, nrow images a row, a 1-pixel black border around each. torchvision's
    make_grid draws the same, except that it turns one channel into three and leaves a single image unframed."""
    n, c, h, w = images.shape
    rows = -(-n // nrow)
    framed = F.pad(images, (1, 0, 1, 0))  # a border above and left of each image: (n, C, H + 1, W + 1)
    framed = torch.cat([framed, framed.new_zeros(rows * nrow - n, c, h + 1, w + 1)])  # the last row's empty places
    grid = framed.view(rows, nrow, c, h + 1, w + 1).permute(2, 0, 3, 1, 4).reshape(c, rows * (h + 1), nrow * (w + 1))
    return F.pad(grid, (0, 1, 0, 1)).contiguous()  # and below and right of the last ones


def page() -> bytes:
    return files("lit_gans").joinpath("explore.html").read_bytes()


class Handler(BaseHTTPRequestHandler):
    """GET /: the page; /api/model: its controls (JSON); /api/grid and /api/interpolate: PNGs. Errors are JSON."""

    explorer: Explorer  # set on the subclass ``make_server`` builds
    check_host = True

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        try:
            if self.check_host and self.headers.get("Host", "").rsplit(":", 1)[0] not in LOCAL_NAMES:
                # a page elsewhere that re-points its own name at 127.0.0.1 (DNS rebinding) is not served
                return self.send_json({"error": "Host must be localhost or 127.0.0.1"}, HTTPStatus.FORBIDDEN)
            if url.path in ("/", "/index.html"):
                return self.send(page(), "text/html; charset=utf-8")
            if url.path == "/api/model":
                return self.send_json(self.explorer.describe())
            if url.path in ("/api/grid", "/api/interpolate"):
                return self.send(self.explorer.draw(url.path.rsplit("/", 1)[1], url.query), "image/png")
            return self.send_json({"error": f"no page {url.path}; try / or /api/model"}, HTTPStatus.NOT_FOUND)
        except BadRequest as err:
            return self.send_json({"error": str(err)}, HTTPStatus.BAD_REQUEST)
        except LitGansError as err:  # a condition the model refuses: the user's value, not a bug of ours
            return self.send_json({"error": str(err)}, HTTPStatus.BAD_REQUEST)
        except Exception as err:  # a bug: its traceback in the terminal, a line on the page, and the server goes on
            traceback.print_exc()
            message = f"internal error ({type(err).__name__}: {err}); the terminal shows the traceback"
            return self.send_json({"error": message}, HTTPStatus.INTERNAL_SERVER_ERROR)

    def send(self, body: bytes, kind: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, data: dict, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send(json.dumps(data).encode(), "application/json", status)

    def log_message(self, format: str, *args) -> None:
        pass  # one line per image would bury the address; errors reach the page as JSON


def make_server(explorer: Explorer, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server bound to host:port (port 0: a free one), not yet serving; a port in use is one clear error."""
    handler = type("ExploreHandler", (Handler,), {"explorer": explorer, "check_host": is_loopback(host)})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as err:
        if err.errno == 98 or "in use" in str(err).lower():  # EADDRINUSE
            raise LitGansError(f"port {port} on {host} is in use; pass another --port (0 picks a free one)") from err
        raise LitGansError(f"cannot listen on {host}:{port} ({err.strerror or err}); check --host and --port") from err
    server.daemon_threads = True  # Ctrl-C does not wait for a browser's open connections
    server.explorer = explorer  # for scripts that time or test the drawing itself
    return server


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


def serve(
    model: GANModule,
    *,
    class_names: list[str] | None = None,
    span: float | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    device=None,
    background: bool = False,
) -> ThreadingHTTPServer:
    """Serves the explorer page for a loaded model and prints its address.

    Args:
        model: a GANModule with its weights loaded (e.g. ``InfoGAN.load_from_checkpoint(path)``).
        class_names: names of the data's classes (e.g. ``datamodule.class_names``) for the class buttons.
        span: sliders cover span x the continuous codes' prior range (None: ``LatentTraversal``'s default).
        host: the interface to listen on; 127.0.0.1 (this machine only) unless you mean to share the page.
        port: the port (0: a free one).
        device: where the generators run (None: a CUDA GPU when there is one, else the CPU).
        background: serve from a daemon thread and return at once (call ``shutdown()`` on the result to stop);
            otherwise serve until Ctrl-C.

    Returns:
        The server; its address is ``url_of(server)``.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    server = make_server(Explorer(model, class_names, span, device), host, port)
    if not is_loopback(host):
        print(
            f"lit_gans: warning: listening on {host}, not only this machine: anyone who can reach it can draw from "
            f"the model (pass --host 127.0.0.1 to keep it local)",
            file=sys.stderr,
        )
    print(f"lit_gans: exploring {model.variant} at {url_of(server)} (Ctrl-C stops)", flush=True)
    if background:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return server


def serve_checkpoint(model: GANModule, ckpt_path: str | None, datamodule=None, trainer=None, **kwargs) -> None:
    """``explore`` from the CLI: the checkpoint has passed the CLI's checks (``GANCLI._check_ckpt``); its weights
    go into the config's model, then the page is served. ``ckpt_path`` None: the untrained weights, on purpose."""
    if ckpt_path is not None:
        checkpoint = torch.load(Path(ckpt_path), map_location="cpu", weights_only=True)
        model.load_state_dict(checkpoint["state_dict"])
    else:
        print("lit_gans: exploring the untrained weights (--ckpt_path untrained)", file=sys.stderr)
    traversal = [c for c in (trainer.callbacks if trainer else []) if isinstance(c, LatentTraversal)]
    span = traversal[0].span if traversal else None  # the range the run's own traversal pictures swept
    device = trainer.strategy.root_device if trainer is not None else None  # the trainer's choice: a GPU if any
    serve(model, class_names=getattr(datamodule, "class_names", None), span=span, device=device, **kwargs)
