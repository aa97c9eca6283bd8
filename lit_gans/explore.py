"""A local page to turn a trained model's knobs: ``python -m lit_gans explore --config X --ckpt_path last``.

The controls come from the model (``GANModule.controls``): a variant that declares its conditions gets buttons and
sliders without editing the page. The web layer is the standard library's ``http.server`` serving one HTML file and
PNGs drawn per request; docs/explore.md says why (and not Gradio or Starlette).
"""

import base64
import copy
import ipaddress
import json
import sys
import threading
import traceback
from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import torch
import torch.nn.functional as F
from torchvision.io import ImageReadMode, decode_png, encode_png

from lit_gans.callbacks import LatentTraversal
from lit_gans.data import DATASETS, MNISTDataModule, default_data_dir, load_split, to_uint8, to_unit_range
from lit_gans.errors import LitGansError
from lit_gans.models import GANModule

MAX_SIDE = 16  # grid rows and columns: at most 16 x 16 = 256 images per redraw
MAX_STEPS = 16  # images in the interpolation strip
MAX_SEED = 2**31 - 1
MAX_DRAWING = 4 * 2**20  # bytes of a drawing's PNG (the page's 280x280 canvas sends about 10 KB)
MAX_DRAWING_SIDE = 2048
MAX_PORT = 65535
LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")  # what a browser on this machine sends as Host


class BadRequest(ValueError):
    """A request value that is malformed or out of range: answered with HTTP ``status`` (400) and this message, naming
    the ``parameter`` it is about so that the page can show it beside that control."""

    def __init__(self, message: str, parameter: str | None = None, status: HTTPStatus = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.parameter, self.status = parameter, status


def integer(raw: str, name: str, low: int, high: int, also: str = "") -> int:
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise BadRequest(f"{name} must be an integer in {low}..{high}{' ' + also if also else ''}, got {raw!r}", name)
    return value


def single_values(query: str, known: set[str]) -> dict[str, str]:
    """A query string -> {name: value}; an unknown name or one given twice is a BadRequest naming it."""
    pairs = parse_qs(query, keep_blank_values=True)
    for key, values in pairs.items():
        if key not in known:
            raise BadRequest(f"unknown parameter {key!r}; this view takes {', '.join(sorted(known))}", key)
        if len(values) > 1:
            raise BadRequest(f"parameter {key!r} given {len(values)} times", key)
    return {key: values[0] for key, values in pairs.items()}


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
        test_images: a function returning the data's test split (uint8 images (N, H, W) or (N, C, H, W), labels (N,)),
            called on the first request for a real image to read; None, or a call that fails: drawings only.
    """

    def __init__(
        self,
        model: GANModule,
        class_names: list[str] | None = None,
        span: float | None = None,
        device=None,
        test_images: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None,
    ):
        self.model, self.device, self.class_names = model, torch.device(device or model.device), class_names
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
        # a variant whose D reads its conditions back from an image (``read_conditions``): a copy in eval mode, as G's
        reads = hasattr(model, "read_conditions") and getattr(model, "discriminator", None) is not None  # not shipped
        self.reader = copy.deepcopy(model).to(self.device).eval() if reads else None
        self.test_images = RealImages(test_images, tuple(model.hparams.img_shape)) if self.reader else None
        self.lock = threading.Lock()  # one redraw at a time: torch already uses every core it is given

    def describe(self) -> dict:
        """What the page builds its controls from (``GET /api/model``)."""
        return {
            "variant": self.model.variant,
            "image_shape": list(self.model.hparams.img_shape),
            "generators": list(self.generators),
            "controls": self.controls,
            "limits": {"side": MAX_SIDE, "steps": MAX_STEPS, "seed": MAX_SEED},
            "reader": self.model.reader if self.reader else None,  # what reads an image's conditions (None: nothing)
            "test_images": self.test_images.state() if self.test_images else None,
        }

    # ---- requests: every value checked, a clear message otherwise -----------------------------------------------

    def parse(self, query: str, view: str) -> dict:
        """A query string -> checked values; raises BadRequest naming the first bad or unknown parameter."""
        known = {"seed", "generator", *(c["id"] for c in self.controls)}
        known |= {"rows", "cols"} if view == "grid" else {"seed_b", "steps"}
        get = single_values(query, known).get
        out = {"seed": integer(get("seed", "0"), "seed", 0, MAX_SEED)}
        if view == "grid":
            out["rows"] = integer(get("rows", "8"), "rows", 1, MAX_SIDE)
            out["cols"] = integer(get("cols", "8"), "cols", 1, MAX_SIDE)
        else:
            out["seed_b"] = integer(get("seed_b", "1"), "seed_b", 0, MAX_SEED)
            out["steps"] = integer(get("steps", "10"), "steps", 2, MAX_STEPS)
        out["generator"] = get("generator", next(iter(self.generators)))
        if out["generator"] not in self.generators:
            raise BadRequest(
                f"generator must be one of {', '.join(self.generators)}, got {out['generator']!r}", "generator"
            )
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
                    raise BadRequest(f"{control['id']} must be a finite number, got {raw!r}", control["id"])
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

    # ---- reading: D (InfoGAN's Q) reads the conditions of a drawn or real image -------------------------------------

    def read_drawing(self, png: bytes) -> dict:
        """What D reads in a drawing (a PNG, light strokes on a dark ground, any size), centred as MNIST's digits."""
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # PNG's IHDR chunk
        if png[:8] == b"\x89PNG\r\n\x1a\n" and max(width, height) > MAX_DRAWING_SIDE:  # before decoding it
            raise BadRequest(f"the drawing is {width}x{height} pixels; at most {MAX_DRAWING_SIDE} a side", "drawing")
        try:
            drawing = decode_png(torch.frombuffer(bytearray(png), dtype=torch.uint8), ImageReadMode.GRAY)
        except RuntimeError as err:
            raise BadRequest(f"the drawing is not a readable PNG image ({err})", "drawing") from err
        channels, side = self.model.hparams.img_shape[:2]
        image = centre_like_mnist(drawing[0].float() / 255, side)  # (side, side) in [0, 1]
        return self.read(image.mul(2).sub(1).expand(channels, side, side))

    def read_test_image(self, query: str) -> dict:
        """What D reads in test image ``test`` (an index, or ``random``) of the data, with its label."""
        raw = single_values(query, {"test"}).get("test", "random")
        images, labels = self.test_images.load()  # BadRequest (503) when they cannot be read
        index = int(torch.randint(len(images), ())) if raw == "random" else integer(raw, "test", 0, len(images) - 1)
        label = int(labels[index])
        named = self.class_names[label] if self.class_names and label < len(self.class_names) else str(label)
        return {
            **self.read(to_unit_range(images[index : index + 1])[0]),
            "index": index,
            "label": label,
            "label_name": named,
        }

    def read(self, image: torch.Tensor) -> dict:
        """An image (C, H, W) in [-1, 1] -> what the page sets (``values``: each choice's best, each range's value), the
        numbers behind each choice (``scores``) and the image as D saw it (``input``, a base64 PNG)."""
        with self.lock, torch.inference_mode():
            read = self.reader.read_conditions(image[None].to(self.device))
        values, scores = {}, {}
        for control, reading in zip(self.controls, read, strict=True):
            if "choices" in control:  # (1, k): a probability or a score per value
                scores[control["id"]] = [round(float(x), 6) for x in reading[0]]
                values[control["id"]] = int(reading[0].argmax())
            else:  # (1,): the code's value, which may lie beyond the slider's range
                values[control["id"]] = round(float(reading[0]), 6)
        picture = encode_png(to_uint8(image.float()).cpu(), compression_level=1).numpy().tobytes()
        return {"values": values, "scores": scores, "input": base64.b64encode(picture).decode()}


def centre_like_mnist(drawing: torch.Tensor, side: int) -> torch.Tensor:
    """A drawing (H, W) in [0, 1], ink light -> (side, side) as MNIST's digits were made from NIST's (LeCun et al.):
    the ink's bounding box scaled to fit a 20/28 box, keeping its aspect (antialiased: grey edges), then placed so that
    its centre of mass is the image's centre: the form of every digit D learned from, whatever size and place the
    strokes have on the canvas."""
    ink = drawing > 1 / 255
    if not ink.any():
        raise BadRequest("the drawing is empty: draw a digit (light strokes on the dark square) first", "drawing")
    rows, cols = ink.any(dim=1).nonzero()[:, 0], ink.any(dim=0).nonzero()[:, 0]
    crop = drawing[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = round(side * 20 / 28) / max(crop.shape)
    size = [max(1, round(n * scale)) for n in crop.shape]
    digit = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True)[0, 0].clamp(0, 1)
    mass = digit.sum()
    centre = [(torch.arange(n) * digit.sum(dim=1 - axis)).sum() / mass + 0.5 for axis, n in enumerate(digit.shape)]
    top, left = (round(side / 2 - float(c)) for c in centre)  # where the digit's corner goes: mass at side / 2
    out = drawing.new_zeros(side, side)
    h, w = digit.shape
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + h, side), min(left + w, side)  # a lopsided digit may clip
    out[y0:y1, x0:x1] = digit[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


class RealImages:
    """The data's test split for the page's "real image" picker, read on the first request for one (the explorer starts
    and draws without it); when it cannot be read, the picker says why and drawing still works."""

    def __init__(self, load: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None, shape: tuple[int, ...]):
        self.load_split, self.shape, self.lock = load, shape, threading.Lock()
        self.images: torch.Tensor | None = None  # (N, C, H, W) uint8 once read (31 MB as floats, 8 MB so)
        self.labels: torch.Tensor | None = None
        self.problem = None if load else "no test images: this data has no test split the explorer can read"

    def state(self) -> dict:
        """For the page: whether the picker can work (not yet known until the first request), and why not."""
        return {"count": None if self.images is None else len(self.images), "problem": self.problem}

    def load(self) -> tuple[torch.Tensor, torch.Tensor]:
        with self.lock:
            if self.images is None and self.problem is None:
                try:
                    images, labels = self.load_split()
                    images = images.unsqueeze(1) if images.dim() == 3 else images  # idx files: no channel axis
                    if tuple(images.shape[1:]) != self.shape:
                        self.problem = (
                            f"the test images are {'x'.join(map(str, images.shape[1:]))}, the model draws "
                            f"{'x'.join(map(str, self.shape))}: drawing only"
                        )
                    else:
                        self.images, self.labels = images, labels
                except Exception as err:  # missing, unreadable or corrupt files: the picker says so, the page goes on
                    self.problem = f"the test images cannot be read ({type(err).__name__}: {err}); drawing still works"
        if self.problem:
            raise BadRequest(self.problem, "test", HTTPStatus.SERVICE_UNAVAILABLE)
        return self.images, self.labels


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
    """GET /: the page; /api/model: its controls (JSON); /api/grid and /api/interpolate: PNGs; /api/read?test=N: what
    D reads in test image N; POST /api/read (a PNG): what D reads in a drawing. Errors are JSON naming the parameter."""

    explorer: Explorer  # set on the subclass ``make_server`` builds
    check_host = True

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.answer(lambda: self.route_get(url.path, url.query))

    def do_POST(self) -> None:
        self.answer(lambda: self.route_post(urlsplit(self.path).path))

    def route_get(self, path: str, query: str) -> None:
        if path in ("/", "/index.html"):
            return self.send(page(), "text/html; charset=utf-8")
        if path == "/api/model":
            return self.send_json(self.explorer.describe())
        if path in ("/api/grid", "/api/interpolate"):
            return self.send(self.explorer.draw(path.rsplit("/", 1)[1], query), "image/png")
        if path == "/api/read":
            return self.send_json(self.reader().read_test_image(query))
        return self.send_json({"error": f"no page {path}; try / or /api/model"}, HTTPStatus.NOT_FOUND)

    def route_post(self, path: str) -> None:
        if path != "/api/read":
            return self.send_json({"error": f"nothing to POST to at {path}; try /api/read"}, HTTPStatus.NOT_FOUND)
        explorer = self.reader()
        # image/png only: a page elsewhere cannot send that type here without asking first (a CORS preflight)
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "image/png":
            raise BadRequest(
                "send the drawing as Content-Type: image/png", "drawing", HTTPStatus.UNSUPPORTED_MEDIA_TYPE
            )
        length = integer(self.headers.get("Content-Length", ""), "Content-Length", 1, MAX_DRAWING)
        body = self.rfile.read(length)
        if len(body) != length:
            raise ConnectionResetError("the client sent less than its Content-Length")  # it went away mid-upload
        return self.send_json(explorer.read_drawing(body))

    def reader(self) -> Explorer:
        if self.explorer.reader is None:
            message = f"{self.explorer.model.variant} reads no conditions from an image: nothing to read with"
            raise BadRequest(message, "drawing", HTTPStatus.NOT_FOUND)
        return self.explorer

    def answer(self, route: Callable[[], None]) -> None:
        """Runs a route; the user's mistakes become a JSON message with their status, a bug a 500 with its traceback
        in the terminal, and a client that went away (a reload, a newer redraw) nothing at all."""
        try:
            if self.check_host and self.headers.get("Host", "").rsplit(":", 1)[0] not in LOCAL_NAMES:
                # a page elsewhere that re-points its own name at 127.0.0.1 (DNS rebinding) is not served
                return self.send_json({"error": "Host must be localhost or 127.0.0.1"}, HTTPStatus.FORBIDDEN)
            route()
        except ConnectionError:  # BrokenPipe, ConnectionReset: the browser closed the connection; no one to tell
            self.close_connection = True
        except BadRequest as err:
            self.close_connection = err.status == HTTPStatus.UNSUPPORTED_MEDIA_TYPE  # an unread body may follow
            self.send_json({"error": str(err), "parameter": err.parameter}, err.status)
        except LitGansError as err:  # a condition the model refuses: the user's value, not a bug of ours
            self.send_json({"error": str(err), "parameter": None}, HTTPStatus.BAD_REQUEST)
        except Exception as err:  # a bug: its traceback in the terminal, a line on the page, and the server goes on
            traceback.print_exc()
            message = f"internal error ({type(err).__name__}: {err}); the terminal shows the traceback"
            self.send_json({"error": message, "parameter": None}, HTTPStatus.INTERNAL_SERVER_ERROR)

    def send(self, body: bytes, kind: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:  # the browser went away before its answer arrived (a reload): not an error
            self.close_connection = True

    def send_json(self, data: dict, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send(json.dumps(data).encode(), "application/json", status)

    def log_message(self, format: str, *args) -> None:
        pass  # one line per image would bury the address; errors reach the page as JSON


def check_port(port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= MAX_PORT:  # bind() would overflow
        raise LitGansError(f"--port must be an integer in 0..{MAX_PORT} (0 picks a free port), got {port!r}")


class Server(ThreadingHTTPServer):
    daemon_threads = True  # Ctrl-C does not wait for a browser's open connections

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client gone while its request was read: quiet
            super().handle_error(request, client_address)


def make_server(explorer: Explorer, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server bound to host:port (port 0: a free one), not yet serving; a bad port or one in use: one clear line."""
    check_port(port)
    handler = type("ExploreHandler", (Handler,), {"explorer": explorer, "check_host": is_loopback(host)})
    try:
        server = Server((host, port), handler)
    except OSError as err:
        if err.errno == 98 or "in use" in str(err).lower():  # EADDRINUSE
            raise LitGansError(f"port {port} on {host} is in use; pass another --port (0 picks a free one)") from err
        raise LitGansError(f"cannot listen on {host}:{port} ({err.strerror or err}); check --host and --port") from err
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
    test_images: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None,
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
        test_images: a function returning the data's test split (uint8 images, labels), for the page's "read a real
            image" picker (e.g. ``functools.partial(load_split, data_dir, False)``); called on the first request for
            one, so start-up does not wait for it; None or a call that fails: the picker says so, drawing still works.
        background: serve from a daemon thread and return at once (call ``shutdown()`` on the result to stop);
            otherwise serve until Ctrl-C.

    Returns:
        The server; its address is ``url_of(server)``.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    server = make_server(Explorer(model, class_names, span, device, test_images), host, port)
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
    check_port(kwargs.get("port", 8000))  # before the checkpoint is read: a typo costs no wait
    if ckpt_path is not None:
        checkpoint = torch.load(Path(ckpt_path), map_location="cpu", weights_only=True)
        model.load_state_dict(checkpoint["state_dict"])
    elif getattr(model, "shipped", None):  # --ckpt_path pretrained: the CLI put the shipped weights in
        run = model.shipped["run"]
        print(f"lit_gans: exploring the shipped model {model.shipped['name']} (seed {run['seed']}, step {run['step']})")
    else:
        print("lit_gans: exploring the untrained weights (--ckpt_path untrained)", file=sys.stderr)
    traversal = [c for c in (trainer.callbacks if trainer else []) if isinstance(c, LatentTraversal)]
    span = traversal[0].span if traversal else None  # the range the run's own traversal pictures swept
    device = trainer.strategy.root_device if trainer is not None else None  # the trainer's choice: a GPU if any
    test_images = None  # MNIST's and Fashion-MNIST's test split, read when the page first asks for a real image
    if isinstance(datamodule, MNISTDataModule):
        test_images = partial(load_split, datamodule.data_dir, False, datamodule.folder)
    elif getattr(datamodule, "dataset", None) in DATASETS:  # SamplingData: the checkpoint's data, not read at start
        folder = DATASETS[datamodule.dataset].__name__
        test_images = partial(load_split, default_data_dir(folder), False, folder)
    class_names = getattr(datamodule, "class_names", None)
    serve(model, class_names=class_names, span=span, device=device, test_images=test_images, **kwargs)
