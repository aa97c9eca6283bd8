"""The explorer page as a person uses it: its endpoints over HTTP (every control, every bad value), the CLI's checks,
and (slow) a headless Chromium clicking the page."""

import base64
import contextlib
import http.client
import json
import shutil
import socket
import struct
import threading
import urllib.error
import urllib.request
from functools import partial

import pytest
import torch
from torchvision.io import decode_png, encode_png
from torchvision.utils import make_grid

from lit_gans.data import SHIPPED, MNISTDataModule, load_split, to_uint8
from lit_gans.errors import LitGansError
from lit_gans.explore import BadRequest, Explorer, Server, centre_like_mnist, make_server, serve, url_of
from lit_gans.models import ACGAN, CGAN, GAN, InfoGAN

FASHION = MNISTDataModule(dataset="fashion_mnist").class_names


@contextlib.contextmanager
def served(model, **kwargs):
    """The page for ``model`` on a free local port, served from a thread; yields its address."""
    server = serve(model, port=0, background=True, device="cpu", **kwargs)
    try:
        yield url_of(server)
    finally:
        server.shutdown()
        server.server_close()


def get(url: str, headers: dict | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET, errors included."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


def image(base: str, query: str, view: str = "grid") -> torch.Tensor:
    status, kind, body = get(f"{base}api/{view}?{query}")
    assert status == 200 and kind == "image/png", body
    return decode_png(torch.frombuffer(bytearray(body), dtype=torch.uint8))


def error(base: str, query: str, view: str = "grid", status: int = 400, parameter: str | None = None) -> str:
    """The message of a refused request, checking its status and (when given) the parameter it names."""
    code, kind, body = get(f"{base}api/{view}?{query}")
    assert (code, kind) == (status, "application/json"), body
    answer = json.loads(body)
    assert parameter is None or answer["parameter"] == parameter, answer
    return answer["error"]


def post(url: str, body: bytes, kind: str = "image/png") -> tuple[int, dict]:
    """(status, JSON answer) of a POST, errors included."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": kind})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def drawing(*boxes: tuple[int, int, int, int], side: int = 280) -> torch.Tensor:
    """A (1, side, side) uint8 drawing as the page's canvas sends it: white strokes (y0, y1, x0, x1) on black."""
    canvas = torch.zeros(1, side, side, dtype=torch.uint8)
    for y0, y1, x0, x1 in boxes:
        canvas[0, y0:y1, x0:x1] = 255
    return canvas


def png(image: torch.Tensor) -> bytes:
    return encode_png(image).numpy().tobytes()


def small(kind, **kwargs):
    torch.manual_seed(0)
    return kind(**kwargs)


@pytest.fixture(scope="module")
def infogan():
    model = small(InfoGAN, ema_decay=0.999)
    with torch.no_grad():  # the EMA is a copy of G at the start: move G away so that the two views differ
        for p in model.generator.parameters():
            p.add_(0.05 * torch.randn_like(p))
    with served(model) as base:
        yield model, base


def test_controls_come_from_the_model():
    info = Explorer(small(InfoGAN, categorical=[10, 3], code_range=0.5), span=2.0).describe()
    assert info["generators"] == ["G"] and info["image_shape"] == [1, 28, 28]
    assert [(c["id"], c["label"], c.get("choices"), c.get("range")) for c in info["controls"]] == [
        ("categories.0", "category 1", 10, None),
        ("categories.1", "category 2", 3, None),
        ("codes.0", "code 1", None, [-1.0, 1.0]),  # the traversal's span times the prior's range
        ("codes.1", "code 2", None, [-1.0, 1.0]),
    ]
    assert "names" not in info["controls"][0]  # an unsupervised code's value k is not class k
    fewlabel = Explorer(small(InfoGAN, labelled_per_class=1), class_names=FASHION).describe()["controls"]
    assert fewlabel[0]["names"] == FASHION  # the few-label mode teaches code k = class k
    for kind in (ACGAN, CGAN):
        [control] = Explorer(small(kind), class_names=FASHION).describe()["controls"]
        assert (control["id"], control["choices"], control["names"][9]) == ("labels", 10, "Ankle boot")
        [unnamed] = Explorer(small(kind)).describe()["controls"]
        assert "names" not in unnamed
    assert Explorer(small(GAN)).describe()["controls"] == []
    assert MNISTDataModule().class_names[3] == "3 - three"


def test_the_page_and_its_description(infogan):
    _, base = infogan
    status, kind, body = get(base)
    assert status == 200 and kind.startswith("text/html") and b"/api/model" in body
    status, kind, body = get(base + "api/model")
    info = json.loads(body)
    assert info["variant"] == "InfoGAN" and info["generators"] == ["EMA", "G"]
    assert [c["id"] for c in info["controls"]] == ["categories.0", "codes.0", "codes.1"]
    assert info["limits"] == {"side": 16, "steps": 16, "seed": 2**31 - 1}


def test_infogan_grid_is_what_sample_draws(infogan):
    model, base = infogan
    shown = image(base, "seed=5&rows=3&cols=4&categories.0=7&codes.0=0.5&codes.1=-1.5")
    expected = make_grid(to_uint8(model.sample(12, seed=5, categories=7, codes=[0.5, -1.5])), nrow=4, padding=1)
    assert shown.shape == (1, 3 * 29 + 1, 4 * 29 + 1)  # one grayscale channel, a 1-pixel border
    assert (shown.int() - expected[:1].int()).abs().max() <= 1  # channels-last G: rounding may move a pixel by 1


def test_every_infogan_control_changes_only_what_it_should(infogan):
    _, base = infogan
    q = "seed=3&rows=2&cols=2"
    first = image(base, q)
    assert torch.equal(first, image(base, q))  # the same request draws the same images
    assert not torch.equal(first, image(base, "seed=4&rows=2&cols=2"))
    by_category = [image(base, f"{q}&categories.0={k}") for k in range(10)]
    assert len({bytes(x.flatten().tolist()) for x in by_category}) == 10
    for code in ("codes.0", "codes.1"):
        low, high = image(base, f"{q}&{code}=-2"), image(base, f"{q}&{code}=2")
        assert not torch.equal(low, high)
        assert torch.equal(image(base, f"{q}&{code}=99"), high)  # a slider is clamped to its range, not refused
        assert torch.equal(image(base, f"{q}&{code}=-99"), low)
    assert not torch.equal(first, image(base, q + "&generator=G"))  # the raw G beside the EMA


def test_interpolation_runs_from_seed_a_to_seed_b(infogan):
    _, base = infogan
    held = "categories.0=2&codes.0=0.3&codes.1=0"
    strip = image(base, f"seed=10&seed_b=20&steps=5&{held}", "interpolate")
    assert strip.shape == (1, 30, 5 * 29 + 1)
    for tile, seed in ((0, 10), (4, 20)):  # the ends are the first images of the two seeds' grids
        alone = image(base, f"seed={seed}&rows=1&cols=1&{held}")
        assert torch.equal(strip[:, :, tile * 29 : tile * 29 + 30], alone)
    assert not torch.equal(strip, image(base, f"seed=10&seed_b=20&steps=5&{held}&generator=G", "interpolate"))


BAD = [  # (view, query, words of the message)
    ("grid", "categories.0=10", "categories.0 must be an integer in 0..9 or any, got '10'"),
    ("grid", "categories.0=-1", "in 0..9"),
    ("grid", "categories.0=1.5", "in 0..9"),
    ("grid", "categories.0=", "in 0..9"),
    ("grid", "codes.0=nan", "codes.0 must be a finite number"),
    ("grid", "codes.1=inf", "finite number"),
    ("grid", "codes.1=left", "finite number"),
    ("grid", "rows=0", "rows must be an integer in 1..16"),
    ("grid", "cols=17", "cols must be an integer in 1..16"),
    ("grid", "rows=1000000", "1..16"),
    ("grid", "seed=-1", "seed must be an integer in 0..2147483647"),
    ("grid", "seed=2147483648", "seed must be"),
    ("grid", "seed=abc", "seed must be"),
    ("grid", "generator=D", "generator must be one of EMA, G"),
    ("grid", "labels=3", "unknown parameter 'labels'"),
    ("grid", "seed_b=3", "unknown parameter 'seed_b'"),
    ("grid", "seed=1&seed=2", "given 2 times"),
    ("interpolate", "steps=1", "steps must be an integer in 2..16"),
    ("interpolate", "steps=17", "2..16"),
    ("interpolate", "seed_b=-5", "seed_b must be"),
    ("interpolate", "rows=2", "unknown parameter 'rows'"),
]


@pytest.mark.parametrize("view, query, words", BAD, ids=[q for _, q, _ in BAD])
def test_a_bad_value_is_a_clear_400_and_the_server_keeps_serving(infogan, view, query, words):
    _, base = infogan
    assert words in error(base, query, view)
    assert image(base, "rows=1&cols=1").shape == (1, 30, 30)


def test_unknown_pages_and_foreign_hosts(infogan):
    _, base = infogan
    assert "no page /api/nothing" in error(base, "", "nothing", status=404)
    status, _, body = get(base + "api/model", headers={"Host": "attacker.example:80"})
    assert status == 403 and b"Host must be" in body  # DNS rebinding: a page elsewhere cannot read ours


@pytest.mark.parametrize("kind", [ACGAN, CGAN])
def test_class_buttons_of_acgan_and_cgan(kind):
    model = small(kind)
    with served(model, class_names=FASHION) as base:
        info = json.loads(get(base + "api/model")[2])
        assert info["generators"] == ["G"] and info["controls"][0]["names"] == FASHION
        q = "seed=1&rows=2&cols=3"
        by_class = [image(base, f"{q}&labels={k}") for k in range(10)]
        assert len({bytes(x.flatten().tolist()) for x in by_class}) == 10
        expected = make_grid(to_uint8(model.sample(6, seed=1, labels=4)), nrow=3, padding=1)
        assert (by_class[4].int() - expected[:1].int()).abs().max() <= 1
        assert "labels must be an integer in 0..9 or any, got '10'" in error(base, q + "&labels=10")
        assert "unknown parameter 'categories.0'" in error(base, q + "&categories.0=1")
        assert "generator must be one of G, got 'EMA'" in error(base, q + "&generator=EMA")  # no EMA here
        strip = image(base, "seed=1&seed_b=2&steps=3&labels=4", "interpolate")
        assert strip.shape == (1, 30, 3 * 29 + 1)


def test_dcgan_has_the_seed_grid_and_interpolation_only():
    model = small(GAN, arch="dcgan")
    with served(model) as base:
        info = json.loads(get(base + "api/model")[2])
        assert (info["variant"], info["controls"], info["generators"]) == ("GAN(arch=dcgan)", [], ["G"])
        grid = image(base, "seed=2&rows=4&cols=4")
        expected = make_grid(to_uint8(model.sample(16, seed=2)), nrow=4, padding=1)
        assert (grid.int() - expected[:1].int()).abs().max() <= 1
        assert not torch.equal(grid, image(base, "seed=3&rows=4&cols=4"))
        assert image(base, "seed=2&seed_b=3&steps=16", "interpolate").shape == (1, 30, 16 * 29 + 1)
        assert "unknown parameter 'labels'" in error(base, "labels=1")


def test_a_bug_is_a_500_with_its_traceback_and_the_server_goes_on(monkeypatch, capsys):
    model = small(GAN)
    with served(model) as base:
        monkeypatch.setattr(Explorer, "draw", lambda self, view, query: 1 / 0)
        message = error(base, "", status=500)
        assert "internal error (ZeroDivisionError: division by zero)" in message
        assert "Traceback" in capsys.readouterr().err
        monkeypatch.undo()
        assert image(base, "rows=1&cols=1").shape == (1, 30, 30)


def test_the_latency_benchmark_runs(capsys):
    from benchmarks import explore_latency as benchmark

    result = benchmark.run(["--variant", "infogan", "--ema", "--rows", "2", "--cols", "2", "--requests", "2"])
    assert result["round_trip_ms"] > 0 and result["page_ms"] > 0 and result["read_ms"] > 0
    assert "InfoGAN (EMA + G), 2x2 grid of 1x28x28" in capsys.readouterr().out


def test_serving_leaves_the_model_as_it_was():
    model = small(InfoGAN).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with served(model) as base:
        image(base, "rows=2&cols=2")
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_port_in_use_and_another_host(capsys):
    explorer = Explorer(small(GAN))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LitGansError, match=f"port {port} on 127.0.0.1 is in use; pass another --port"):
            make_server(explorer, port=port)
    server = serve(small(GAN), host="0.0.0.0", port=0, background=True)
    server.shutdown()
    server.server_close()
    err = capsys.readouterr().err
    assert "lit_gans: warning: listening on 0.0.0.0, not only this machine" in err


@pytest.mark.parametrize(
    "view, query, parameter",
    [
        ("grid", "rows=0", "rows"),
        ("grid", "seed=-1", "seed"),
        ("grid", "categories.0=10", "categories.0"),
        ("grid", "codes.1=inf", "codes.1"),
        ("grid", "generator=D", "generator"),
        ("grid", "labels=3", "labels"),
        ("grid", "seed=1&seed=2", "seed"),
        ("interpolate", "seed_b=-5", "seed_b"),
        ("interpolate", "steps=1", "steps"),
    ],
)
def test_a_refusal_names_its_parameter_for_the_page_to_show_it_there(infogan, view, query, parameter):
    _, base = infogan
    error(base, query, view, parameter=parameter)


@pytest.mark.parametrize("port", [70000, -1, 65536])
def test_a_port_out_of_range_is_one_clear_error(port):
    with pytest.raises(
        LitGansError, match=rf"^--port must be an integer in 0\.\.65535 \(0 picks a free port\), got {port}$"
    ):
        make_server(Explorer(small(GAN)), port=port)


def test_a_client_that_goes_away_is_not_an_error(monkeypatch, capsys):
    """A reload closes the connections of images still being drawn: the server says nothing and goes on."""
    release, handled = threading.Event(), threading.Semaphore(0)
    draw = Explorer.draw
    monkeypatch.setattr(Explorer, "draw", lambda self, view, query: release.wait(30) and draw(self, view, query))
    shutdown_request = Server.shutdown_request  # called once per connection, after any error was reported

    def counted(self, request):
        shutdown_request(self, request)
        handled.release()

    monkeypatch.setattr(Server, "shutdown_request", counted)
    with served(small(InfoGAN)) as base:
        port = int(base.rsplit(":", 1)[1].strip("/"))
        for request in (  # a grid asked for, then a drawing whose upload stops half-way
            b"GET /api/grid?rows=8&cols=8 HTTP/1.1\r\nHost: localhost\r\n\r\n",
            b"POST /api/read HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n"
            + png(drawing((20, 200, 100, 130)))[:100],
        ):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(request)
            if request.startswith(b"GET"):
                assert not handled.acquire(timeout=0.3)  # the server is drawing when the client leaves
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # leave at once (RST)
            client.close()
            release.set()
            assert handled.acquire(timeout=30)
        assert image(base, "rows=1&cols=1").shape == (1, 30, 30)  # and the server goes on
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err and "Exception" not in err, err


# ---- reading: D (InfoGAN's Q) reads a drawn or real digit's conditions, which the page sets -----------------------


def test_a_drawing_is_centred_as_mnist_digits_were():
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    for boxes in (
        [(10, 250, 200, 240)],  # a bar at the right edge, tall: scaled to 20 high
        [(0, 40, 0, 200), (0, 200, 0, 30)],  # an L in the top-left corner, lopsided: its mass, not its box, centred
    ):
        out = centre_like_mnist(drawing(*boxes)[0].float() / 255, 28)
        ink = out > 0
        assert max(ink.any(1).sum(), ink.any(0).sum()) == 20  # the longer side fits the 20-pixel box
        mass = out.sum()
        centre = ((out * rows).sum() / mass + 0.5, (out * cols).sum() / mass + 0.5)
        assert all(abs(float(c) - 14) <= 0.5 for c in centre), centre  # the centre of mass in the middle
        assert 0 <= out.min() and out.max() <= 1 and ((out > 0) & (out < 1)).any()  # grey edges, as MNIST's
    thirty_two = centre_like_mnist(drawing((10, 250, 100, 140))[0].float() / 255, 32)
    assert thirty_two.shape == (32, 32) and (thirty_two > 0).any(1).sum() == 23  # 20/28 of the side
    with pytest.raises(BadRequest, match="the drawing is empty"):
        centre_like_mnist(torch.zeros(280, 280), 28)


def strong_reader(model):
    """An untrained model whose D reads with conviction (its heads' weights scaled up), so readings differ clearly."""
    with torch.no_grad():
        for head in ("q", "classes", "embed"):
            if hasattr(model.discriminator, head):
                for p in getattr(model.discriminator, head).parameters():
                    p.mul_(300)
    return model


def test_infogan_reads_a_drawn_digit_with_q(infogan):
    model, base = infogan
    digit = drawing((40, 240, 120, 150), (40, 70, 80, 200))  # a 7 of two strokes
    status, read = post(base + "api/read", png(digit))
    assert status == 200, read
    seen = centre_like_mnist(digit[0].float() / 255, 28).mul(2).sub(1)[None, None]  # what D should read
    probabilities, code_1, code_2 = model.read_conditions(seen)
    assert read["values"]["categories.0"] == int(probabilities.argmax())
    assert read["scores"]["categories.0"] == pytest.approx(probabilities[0].tolist(), abs=1e-5)
    assert sum(read["scores"]["categories.0"]) == pytest.approx(1, abs=1e-4)
    assert (read["values"]["codes.0"], read["values"]["codes.1"]) == pytest.approx(
        (float(code_1), float(code_2)), abs=1e-5
    )
    shown = decode_png(torch.frombuffer(bytearray(base64.b64decode(read["input"])), dtype=torch.uint8))
    assert torch.equal(shown, to_uint8(seen[0]))  # the page shows the image D read, as it read it
    info = json.loads(get(base + "api/model")[2])
    assert "Q, the code reader on D's trunk" in info["reader"]


def test_read_conditions_of_each_variant_in_eval_mode():
    images = torch.rand(3, 1, 28, 28) * 2 - 1
    infogan = strong_reader(small(InfoGAN, categorical=[10, 3])).train()
    probabilities, categories_2, code_1, code_2 = infogan.read_conditions(images)
    assert infogan.discriminator.training  # its mode is restored
    infogan.discriminator.eval()
    logits, mean, _ = infogan.discriminator.q(infogan.discriminator(images)[1])
    assert torch.allclose(probabilities, logits[0].softmax(1)) and torch.allclose(categories_2, logits[1].softmax(1))
    assert torch.allclose(torch.stack([code_1, code_2], 1), mean)
    acgan = strong_reader(small(ACGAN))
    [classes] = acgan.read_conditions(images)
    assert torch.allclose(classes, acgan.eval().discriminator(images)[1].softmax(1))
    cgan = strong_reader(small(CGAN))
    [scores] = cgan.read_conditions(images)
    cgan.eval()
    for y in range(10):  # D(x, y) of each class, as the page shows them
        assert torch.allclose(scores[:, y], cgan.discriminator(images, torch.full((3,), y)), atol=1e-5)
    assert not hasattr(small(GAN), "read_conditions")


@pytest.mark.parametrize("kind", [ACGAN, CGAN])
def test_acgan_and_cgan_read_a_class(kind):
    model = strong_reader(small(kind))
    digit = drawing((40, 240, 130, 160))
    with served(model, class_names=FASHION) as base:
        status, read = post(base + "api/read", png(digit))
        assert status == 200, read
        seen = centre_like_mnist(digit[0].float() / 255, 28).mul(2).sub(1)[None, None]
        [expected] = model.read_conditions(seen)
        assert read["scores"]["labels"] == pytest.approx(expected[0].tolist(), abs=1e-4)
        assert read["values"] == {"labels": int(expected.argmax())}
        reader = json.loads(get(base + "api/model")[2])["reader"]
        assert reader.startswith("D's class head" if kind is ACGAN else "D(x, y) for each class y")


def test_a_real_test_image_is_read_with_its_label():
    loads = []

    def test_split():
        loads.append(1)
        return load_split(SHIPPED, False, "MNIST")

    model = strong_reader(small(InfoGAN))
    with served(model, test_images=test_split, class_names=MNISTDataModule().class_names) as base:
        assert json.loads(get(base + "api/model")[2])["test_images"] == {"count": None, "problem": None}
        assert loads == []  # nothing read at start: the page draws at once, and without any data
        status, _, body = get(base + "api/read?test=7")
        read = json.loads(body)
        images, labels = load_split(SHIPPED, False, "MNIST")
        assert status == 200 and (read["index"], read["label"]) == (7, int(labels[7]))
        assert read["label_name"] == MNISTDataModule().class_names[int(labels[7])]
        shown = decode_png(torch.frombuffer(bytearray(base64.b64decode(read["input"])), dtype=torch.uint8))
        assert torch.equal(shown[0], images[7])  # a real image is read as it is: no centring
        [probabilities, *_] = model.read_conditions(images[7][None, None].float() / 127.5 - 1)
        assert read["values"]["categories.0"] == int(probabilities.argmax())
        status, _, body = get(base + "api/read?test=random")
        assert status == 200 and 0 <= json.loads(body)["index"] < 10000
        assert len(loads) == 1  # read once, kept
        assert "test must be an integer in 0..9999" in error(base, "test=10000", "read", parameter="test")
        assert "unknown parameter 'index'" in error(base, "index=3", "read", parameter="index")
        assert json.loads(get(base + "api/model")[2])["test_images"] == {"count": 10000, "problem": None}


def test_without_test_images_the_picker_says_why_and_drawing_still_works(tmp_path):
    def missing():
        return load_split(tmp_path, False, "MNIST")  # no files there

    with served(small(InfoGAN), test_images=missing) as base:
        message = error(base, "test=0", "read", status=503, parameter="test")
        assert (
            message.startswith("the test images cannot be read (FileNotFoundError") and "drawing still works" in message
        )
        assert json.loads(get(base + "api/model")[2])["test_images"]["problem"] == message
        assert post(base + "api/read", png(drawing((40, 240, 130, 160))))[0] == 200
        assert image(base, "rows=1&cols=1").shape == (1, 30, 30)
    with served(small(InfoGAN)) as base:  # no test split at all (an image folder): said at start
        problem = json.loads(get(base + "api/model")[2])["test_images"]["problem"]
        assert problem.startswith("no test images") and problem in error(base, "test=0", "read", status=503)
    rgb = small(InfoGAN, img_shape=(3, 32, 32))  # MNIST's test split does not fit a model of colour images
    with served(rgb, test_images=partial(load_split, SHIPPED, False, "MNIST")) as base:
        assert "the test images are 1x28x28, the model draws 3x32x32" in error(base, "test=0", "read", status=503)
        status, read = post(base + "api/read", png(drawing((40, 240, 130, 160))))  # drawing works at 32
        assert status == 200 and decode_png(
            torch.frombuffer(bytearray(base64.b64decode(read["input"])), dtype=torch.uint8)
        ).shape == (3, 32, 32)


def test_bad_drawings_are_refused_clearly(infogan):
    _, base = infogan
    for body, kind, status, words in (
        (png(drawing()), "image/png", 400, "the drawing is empty: draw a digit"),
        (b"not a picture", "image/png", 400, "the drawing is not a readable PNG image"),
        (png(drawing((1, 5, 1, 5))), "text/plain", 415, "send the drawing as Content-Type: image/png"),
        (png(drawing((1, 50, 1, 50), side=3000)), "image/png", 400, "the drawing is 3000x3000 pixels; at most 2048"),
    ):
        code, answer = post(base + "api/read", body, kind)
        assert (code, answer["parameter"]) == (status, "drawing") and words in answer["error"], answer
    connection = http.client.HTTPConnection(base.split("//")[1].strip("/"), timeout=30)
    connection.request("POST", "/api/read", headers={"Content-Type": "image/png", "Content-Length": str(2**30)})
    answer = connection.getresponse()  # refused before a byte of it is read
    assert (
        answer.status == 400 and "Content-Length must be an integer in 1..4194304" in json.loads(answer.read())["error"]
    )
    assert "nothing to POST to at /api/grid" in post(base + "api/grid", png(drawing((1, 5, 1, 5))))[1]["error"]
    assert image(base, "rows=1&cols=1").shape == (1, 30, 30)


def test_an_unconditional_model_reads_nothing():
    with served(small(GAN)) as base:
        info = json.loads(get(base + "api/model")[2])
        assert info["reader"] is None and info["test_images"] is None  # the page shows no reading panel
        status, answer = post(base + "api/read", png(drawing((40, 240, 130, 160))))
        assert (
            status == 404
            and answer["error"] == "GAN(arch=dcgan) reads no conditions from an image: nothing to read with"
        )
        assert "reads no conditions" in error(base, "test=0", "read", status=404)


# ---- the CLI: the checkpoint checked and loaded as predict does, the same one-line errors -------------------------


def one_line(capsys, run_cli, *args) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run_cli("explore", *args)
    assert exit_info.value.code == 2
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("lit_gans: error:")]
    return line


def fake_checkpoint(path, model) -> str:
    torch.save({"state_dict": model.state_dict(), "lit_gans": {"variant": model.variant}}, path)
    return str(path)


def test_cli_checks_the_checkpoint_like_predict(run_cli, tmp_path, capsys):
    assert "explore needs trained weights: pass --ckpt_path" in one_line(capsys, run_cli, "--config=infogan")
    missing = tmp_path / "missing.ckpt"
    assert f"checkpoint {missing} does not exist" in one_line(
        capsys, run_cli, "--config=infogan", f"--ckpt_path={missing}"
    )
    assert "no last.ckpt under" in one_line(capsys, run_cli, "--config=infogan", "--ckpt_path=last")
    foreign = fake_checkpoint(tmp_path / "acgan.ckpt", small(ACGAN))
    line = one_line(capsys, run_cli, "--config=infogan", f"--ckpt_path={foreign}")
    assert "the checkpoint holds ACGAN but the config builds InfoGAN" in line
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(b"PK\x03\x04 not a whole checkpoint")
    assert "is unreadable or truncated" in one_line(capsys, run_cli, "--config=infogan", f"--ckpt_path={truncated}")


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_cli_port_out_of_range_is_one_line_and_leaves_nothing(run_cli, capsys, tmp_path, port):
    line = one_line(capsys, run_cli, "--config=tiny", "--ckpt_path=untrained", f"--port={port}")
    assert line == f"lit_gans: error: --port must be an integer in 0..65535 (0 picks a free port), got {port}"
    assert list(tmp_path.iterdir()) == []  # --trainer.default_root_dir: nothing written


def test_cli_port_in_use_is_one_line(run_cli, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line(capsys, run_cli, "--config=tiny", "--ckpt_path=untrained", f"--port={port}")
    assert line == f"lit_gans: error: port {port} on 127.0.0.1 is in use; pass another --port (0 picks a free one)"


def test_cli_serves_the_checkpoint_weights(run_cli, tmp_path, monkeypatch):
    trained = small(ACGAN)
    with torch.no_grad():
        next(trained.generator.parameters()).mul_(3)  # not what the config's model starts with
    path = fake_checkpoint(tmp_path / "acgan.ckpt", trained)
    seen = {}
    monkeypatch.setattr("lit_gans.explore.serve", lambda model, **kwargs: seen.update(model=model, **kwargs))
    run_cli("explore", "--config=acgan", f"--ckpt_path={path}", "--data.dataset=fashion_mnist", "--port=0")
    assert all(torch.equal(v, trained.state_dict()[k]) for k, v in seen["model"].state_dict().items())
    assert seen["class_names"] == FASHION and (seen["host"], seen["port"]) == ("127.0.0.1", 0)
    assert seen["device"].type in ("cpu", "cuda")
    images, labels = seen["test_images"]()  # the config's data: its test split, for the page's real-image picker
    assert images.shape == (10000, 28, 28) and labels[0] == 9  # Fashion-MNIST's first test image is an ankle boot


def test_cli_takes_the_traversal_span_of_the_config(run_cli, monkeypatch):
    seen = {}
    monkeypatch.setattr("lit_gans.explore.serve", lambda model, **kwargs: seen.update(kwargs))
    traversal = ["--trainer.callbacks+=lit_gans.callbacks.LatentTraversal", "--trainer.callbacks.init_args.span=1.5"]
    run_cli("explore", "--config=infogan", "--ckpt_path=untrained", *traversal)  # a config's own traversal
    assert seen["span"] == 1.5


# ---- a person with a browser: headless Debian Chromium clicks a category and moves a slider -------------------------


def browser_or_skip(profile, size: str = "1400,1100"):
    """Headless Debian Chromium with a fresh profile folder, the window ``size`` (width,height) in pixels."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip('needs selenium: pip install -e ".[browser]"')
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
        f"--disable-component-update --disable-sync --window-size={size} --user-data-dir={profile}"
    ).split():
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


def counter(browser, name: str) -> int:
    """The page's count of finished redraws (``draws``) or reads (``reads``)."""
    return int(browser.execute_script(f"return document.body.dataset.{name} || 0"))


def wait_for(browser, name: str, count: int) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 60).until(lambda b: counter(b, name) > count)


def pixels(browser, img_id: str) -> str:
    """An image's pixels as the browser decoded them (a PNG data URL of them)."""
    return browser.execute_script(
        "const i = document.getElementById(arguments[0]); const c = document.createElement('canvas');"
        "c.width = i.naturalWidth; c.height = i.naturalHeight; c.getContext('2d').drawImage(i, 0, 0);"
        "return c.toDataURL();",
        img_id,
    )


def decoded(data_url: str, mode=None) -> torch.Tensor:
    from torchvision.io import ImageReadMode

    data = bytearray(base64.b64decode(data_url.split(",", 1)[1]))
    return decode_png(torch.frombuffer(data, dtype=torch.uint8), mode or ImageReadMode.UNCHANGED)


@pytest.mark.slow
def test_a_browser_clicks_a_category_and_moves_a_slider(tmp_path):
    model = small(InfoGAN, ema_decay=0.999)
    browser = browser_or_skip(tmp_path / "profile")  # before selenium's imports: it skips without selenium
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        with served(model) as base:
            browser.get(base)
            wait = WebDriverWait(browser, 30)

            def drawn_after(count: int) -> str:
                wait.until(lambda b: int(b.find_element(By.TAG_NAME, "body").get_attribute("data-draws") or 0) > count)
                return browser.execute_script(  # the grid's pixels, as the browser decoded them
                    "const i = document.getElementById('grid-EMA'); const c = document.createElement('canvas');"
                    "c.width = i.naturalWidth; c.height = i.naturalHeight; c.getContext('2d').drawImage(i, 0, 0);"
                    "return c.toDataURL();"
                )

            def draws() -> int:
                return int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-draws") or 0)

            first = drawn_after(0)
            assert browser.find_element(By.ID, "variant").text.startswith("InfoGAN")
            assert len(browser.find_elements(By.CSS_SELECTOR, "#grids img, #strips img")) == 4  # EMA, raw G: 2 each
            count = draws()
            browser.find_element(By.CSS_SELECTOR, "[data-control='categories.0'] button[data-value='7']").click()
            by_category = drawn_after(count)
            assert by_category != first
            button = browser.find_element(By.CSS_SELECTOR, "[data-control='categories.0'] button[data-value='7']")
            assert "on" in button.get_attribute("class")
            count = draws()
            slider = browser.find_element(By.CSS_SELECTOR, "input[type=range][data-control='codes.0']")
            for _ in range(30):
                slider.send_keys(Keys.ARROW_RIGHT)  # 30 steps of 1/100 of the range -2..2
            assert drawn_after(count) != by_category
            assert browser.find_element(By.CSS_SELECTOR, "output[data-control='codes.0']").text == "1.20"
            assert browser.find_element(By.ID, "status").get_attribute("class") != "error"
            saved = browser.execute_script(  # "save PNG": the download link it makes, caught instead of followed
                "let href = null; HTMLAnchorElement.prototype.click = function () { href = this.href; };"
                "document.getElementById('save').click(); return href;"
            )
            assert saved.startswith("data:image/png;base64,") and len(saved) > 10_000
            browser.save_screenshot(str(tmp_path / "explore.png"))
    finally:
        browser.quit()


def stroke(browser, element, points: list[tuple[int, int]]) -> None:
    """A pen stroke through points (offsets from the element's centre, in CSS pixels), as a mouse draws it."""
    from selenium.webdriver.common.action_chains import ActionChains

    actions = ActionChains(browser).move_to_element_with_offset(element, *points[0]).click_and_hold()
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        for k in range(1, 6):  # a few moves per segment, as a hand sends them
            actions.move_to_element_with_offset(element, x0 + (x1 - x0) * k // 5, y0 + (y1 - y0) * k // 5)
    actions.release().perform()


@pytest.mark.slow
def test_a_browser_draws_a_digit_that_is_read_and_redrawn(tmp_path):
    model = strong_reader(small(InfoGAN, ema_decay=0.999))
    browser = browser_or_skip(tmp_path / "profile")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    from torchvision.io import ImageReadMode

    def on(control: str) -> str:
        return browser.find_element(By.CSS_SELECTOR, f"[data-control='{control}'] button.on").get_attribute(
            "data-value"
        )

    def shown(control: str) -> str:
        return browser.find_element(By.CSS_SELECTOR, f"output[data-control='{control}']").text

    try:
        with served(model, test_images=partial(load_split, SHIPPED, False, "MNIST")) as base:
            browser.get(base)
            wait_for(browser, "draws", 0)
            assert browser.find_element(By.ID, "reading").is_displayed()
            assert (on("categories.0"), shown("codes.0"), shown("codes.1")) == ("any", "0.00", "0.00")
            pad, draws = browser.find_element(By.ID, "pad"), counter(browser, "draws")
            stroke(browser, pad, [(-30, -50), (30, -50), (0, 60)])  # a 7, in one stroke
            wait_for(browser, "reads", 0)
            wait_for(browser, "draws", draws)
            # what D should have read: the canvas the page sent, centred here as the server does
            canvas = decoded(
                browser.execute_script("return document.getElementById('pad').toDataURL()"), ImageReadMode.GRAY
            )
            seen = centre_like_mnist(canvas[0].float() / 255, 28).mul(2).sub(1)[None, None]
            probabilities, *codes = model.read_conditions(seen)
            category = int(probabilities.argmax())
            assert on("categories.0") == str(category)  # the category button is set to what Q read
            for j, code in enumerate(codes):  # and each slider, within its range
                assert shown(f"codes.{j}") == f"{min(max(float(code), -2), 2):.2f}"
            best = browser.find_element(By.CSS_SELECTOR, "table.scores td.best").text
            assert best == f"{float(probabilities.max()):.2f}"  # every probability shown, the best marked
            # G redraws it from what was read, with the noise of the seed's first image
            values = browser.execute_script("return state.values")
            expected = model.sample(1, seed=0, categories=category, codes=[float(values[f"codes.{j}"]) for j in (0, 1)])
            redraw = pixels(browser, "read-redraw")
            assert (decoded(redraw)[0, 1:29, 1:29].int() - to_uint8(expected)[0, 0].int()).abs().max() <= 1
            # turning a slider changes the redrawn digit
            slider = browser.find_element(By.CSS_SELECTOR, "input[type=range][data-control='codes.0']")
            for _ in range(40):
                slider.send_keys(Keys.ARROW_LEFT if float(values["codes.0"]) > 0 else Keys.ARROW_RIGHT)
            WebDriverWait(browser, 60).until(lambda b: pixels(b, "read-redraw") != redraw)
            # a real test image: read with its label
            index = browser.find_element(By.ID, "test-index")
            index.clear()
            index.send_keys("7")
            reads = counter(browser, "reads")
            browser.find_element(By.ID, "test-read").click()
            wait_for(browser, "reads", reads)
            label = int(load_split(SHIPPED, False, "MNIST")[1][7])
            assert f"test image 7: its label is {label}" in browser.find_element(By.ID, "readout").text
            assert browser.find_element(By.ID, "error-test").text == ""
            browser.save_screenshot(str(tmp_path / "read.png"))
    finally:
        browser.quit()


@pytest.mark.slow
def test_a_browser_shows_a_bad_value_beside_its_control_in_view(tmp_path):
    browser = browser_or_skip(tmp_path / "profile", size="1280,857")  # the window of issue 36's new user
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def in_view(element_id: str) -> bool:
        return browser.execute_script(
            "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
            "return r.width > 0 && r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;",
            element_id,
        )

    def enter(element_id: str, value: str) -> None:
        field = browser.find_element(By.ID, element_id)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(value, Keys.TAB)  # "change" fires as the field loses focus

    def stale(img_id: str) -> bool:
        return "stale" in browser.find_element(By.ID, img_id).get_attribute("class")

    try:
        with served(small(InfoGAN)) as base:
            from selenium.webdriver.support.ui import WebDriverWait

            browser.get(base)
            wait_for(browser, "draws", 0)
            wait = WebDriverWait(browser, 60)
            enter("rows", "99")
            wait.until(lambda b: "got '99'" in b.find_element(By.ID, "error-rows").text)
            assert browser.find_element(By.ID, "error-rows").text == "rows must be an integer in 1..16, got '99'"
            assert in_view("error-rows") and stale("grid-G")  # beside the field, and the old grid marked as old
            assert "not redrawn" in browser.find_element(By.CSS_SELECTOR, "#grids figure").text
            assert "invalid" in browser.find_element(By.ID, "rows").get_attribute("class")  # the field outlined
            enter("rows", "4")
            wait.until(lambda b: b.find_element(By.ID, "error-rows").text == "" and not stale("grid-G"))
            assert browser.execute_script("return document.getElementById('grid-G').naturalHeight") == 4 * 29 + 1
            enter("steps", "1")  # a field below the fold: its message is scrolled into view
            wait.until(lambda b: "steps must be an integer in 2..16" in b.find_element(By.ID, "error-steps").text)
            assert in_view("error-steps") and stale("strip-G") and not stale("grid-G")
            browser.save_screenshot(str(tmp_path / "bad.png"))
    finally:
        browser.quit()
