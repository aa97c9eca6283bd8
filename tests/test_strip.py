"""The progress strip: the steps it keeps, the picture and animation it writes, resumption, its cost between rows."""

import pytest
import torch
from PIL import Image

from lit_gans.callbacks import ProgressStrip
from lit_gans.errors import LitGansError

FAST = ["--trainer.limit_val_batches=0", "--images.every_n_steps=0", "--checkpoint.every_n_train_steps=0"]


def strip_of(cli) -> ProgressStrip:
    (strip,) = [c for c in cli.trainer.callbacks if isinstance(c, ProgressStrip)]
    return strip


def test_the_strip_keeps_evenly_spaced_rows_from_step_0_and_adds_the_last_step(run_cli, tmp_path):
    args = ["--trainer.max_steps=7", "--progress.every_n_steps=1", "--progress.max_rows=3"]
    cli = run_cli("fit", "--config=tiny", *FAST, *args)
    strip = strip_of(cli)
    # rows 0, 1, 2; step 3 makes four: every other goes (0, 2), the interval doubles to 2; step 4 keeps 3 (0, 2, 4);
    # step 6 makes four again: the interval doubles to 4 (0, 4); the end adds step 7
    assert [step for step, _ in strip.rows] == [0, 4] and strip.every_n_steps == 4
    images = tmp_path / "lightning_logs" / "version_0" / "images"
    # each row: 8 MNIST samples (make_grid: 8 x 30 + 2 wide, 32 high) after a 64-pixel label; 3 rows stacked, padded 2
    assert Image.open(images / "progress.png").size == (2 + 64 + 242 + 2, 2 + 3 * (32 + 2))
    with Image.open(images / "progress.gif") as gif:
        assert gif.n_frames == 3 and gif.size == (64 + 242, 32)


def test_a_resumed_run_continues_its_strip(run_cli, tmp_path):
    first = run_cli("fit", "--config=tiny", *FAST, "--trainer.max_steps=4", "--progress.every_n_steps=2")
    assert [step for step, _ in strip_of(first).rows] == [0, 2, 4]
    ckpt = tmp_path / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, weights_only=True)["callbacks"]
    (state,) = [v for k, v in saved.items() if k.startswith("ProgressStrip")]
    assert state["steps"] == [0, 2, 4] and state["rows"].dtype == torch.uint8
    resumed = run_cli("fit", "--config=tiny", *FAST, "--trainer.max_steps=6", "--progress.every_n_steps=2",
                      f"--ckpt_path={ckpt}")  # fmt: skip
    rows = strip_of(resumed).rows
    assert [step for step, _ in rows] == [0, 2, 4, 6]
    assert torch.equal(rows[0][1], state["rows"][0])  # the first run's rows, as drawn then
    with Image.open(tmp_path / "lightning_logs" / "version_1" / "images" / "progress.gif") as gif:
        assert gif.n_frames == 4


def test_points_get_one_panel_per_step_tiled(run_cli, tmp_path):
    cli = run_cli("fit", "--config=ring_gan", *FAST, "--trainer.max_steps=5", "--progress.every_n_steps=2")
    assert [step for step, _ in strip_of(cli).rows] == [0, 2, 4]
    # panels of 160 x 160 under a 16-pixel caption, four to a row: 4 of them (0, 2, 4 and the last step, 5) in one row
    size = Image.open(tmp_path / "lightning_logs" / "version_0" / "images" / "progress.png").size
    assert size == (2 + 4 * (160 + 2), 2 + 160 + 16 + 2)


def test_between_rows_a_step_draws_nothing(run_cli, monkeypatch):
    drawn = []
    row = ProgressStrip.row
    monkeypatch.setattr(
        ProgressStrip, "row", lambda self, pl_module: drawn.append(pl_module.global_step) or row(self, pl_module)
    )
    run_cli("fit", "--config=tiny", *FAST, "--trainer.max_steps=7", "--progress.every_n_steps=3")
    assert drawn == [0, 3, 6, 7]  # no sampling, no copy to the host, on the other steps


@pytest.mark.parametrize("bad", [{"every_n_steps": -1}, {"columns": 0}, {"points": 0}, {"max_rows": 1}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(LitGansError, match="progress: every_n_steps must be >= 0"):
        ProgressStrip(**bad)
