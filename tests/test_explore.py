"""The explorer page as a person uses it: its endpoints over HTTP (every control, every bad value), the CLI's checks,
and (slow) a headless Chromium clicking the page."""

import contextlib
import json
import shutil
import socket
import urllib.error
import urllib.request

import pytest
import torch
from torchvision.io import decode_png
from torchvision.utils import make_grid

from lit_gans.data import MNISTDataModule, to_uint8
from lit_gans.errors import LitGansError
from lit_gans.explore import Explorer, make_server, serve, url_of
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


def error(base: str, query: str, view: str = "grid", status: int = 400) -> str:
    code, kind, body = get(f"{base}api/{view}?{query}")
    assert (code, kind) == (status, "application/json"), body
    return json.loads(body)["error"]


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
    assert result["round_trip_ms"] > 0 and result["page_ms"] > 0
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


def test_cli_takes_the_traversal_span_of_the_config(run_cli, monkeypatch):
    seen = {}
    monkeypatch.setattr("lit_gans.explore.serve", lambda model, **kwargs: seen.update(kwargs))
    traversal = ["--trainer.callbacks+=lit_gans.callbacks.LatentTraversal", "--trainer.callbacks.init_args.span=1.5"]
    run_cli("explore", "--config=infogan", "--ckpt_path=untrained", *traversal)  # a config's own traversal
    assert seen["span"] == 1.5


# ---- a person with a browser: headless Debian Chromium clicks a category and moves a slider -------------------------


def browser_or_skip():
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
        "--disable-component-update --disable-sync --window-size=1400,1100"
    ).split():
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.mark.slow
def test_a_browser_clicks_a_category_and_moves_a_slider(tmp_path):
    model = small(InfoGAN, ema_decay=0.999)
    browser = browser_or_skip()  # before selenium's imports: it skips when selenium is not installed
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
            assert len(browser.find_elements(By.CSS_SELECTOR, "img")) == 4  # EMA and raw G: grid and strip each
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
            assert browser.find_element(By.CSS_SELECTOR, "[data-control='codes.0'] span:last-child").text == "1.20"
            assert browser.find_element(By.ID, "status").get_attribute("class") != "error"
            saved = browser.execute_script(  # "save PNG": the download link it makes, caught instead of followed
                "let href = null; HTMLAnchorElement.prototype.click = function () { href = this.href; };"
                "document.getElementById('save').click(); return href;"
            )
            assert saved.startswith("data:image/png;base64,") and len(saved) > 10_000
            browser.save_screenshot(str(tmp_path / "explore.png"))
    finally:
        browser.quit()
