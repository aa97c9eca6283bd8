"""``predict``'s writer: the samples as a ``.pt`` file and a PNG grid (the 2D toy's points: a PNG of them)."""

import os
from pathlib import Path

import torch
from lightning import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from torchvision.utils import make_grid, save_image

from lit_gans.callbacks.drawing import points_panel
from lit_gans.data import to_uint8
from lit_gans.errors import LitGansError


class SampleWriter(BasePredictionWriter):
    """Writes ``predict``'s samples: a ``.pt`` file {"images": uint8 (N, C, H, W), plus labels/codes} and a PNG; the 2D
    toy's samples as {"points": float (N, 2)} (their coordinates, not pixels) and a PNG of them over the plane.

    Args:
        count: how many samples to generate.
        output: path of the samples file (a ``torch.save`` file, whatever its suffix); the PNG grid of the first 64
            goes beside it with a ``.png`` suffix (``samples.pt`` -> ``samples.png``), or ``.grid.png`` when
            ``output`` already ends in ``.png`` (``out.png`` -> ``out.grid.png``): never over the samples.
    """

    def __init__(self, count: int = 64, output: str = "samples.pt"):
        super().__init__(write_interval="epoch")
        if count < 1:
            raise LitGansError(f"samples.count must be >= 1, got {count}")
        self.count = count
        self.output = Path(output)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "predict":
            return
        folder = self.output.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise LitGansError(f"cannot write samples to {self.output}: {folder} is not a writable folder")

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        keys = predictions[0].keys()
        out = {k: torch.cat([p[k] for p in predictions]).cpu() for k in keys}
        if out["images"].dim() == 2:  # points
            out["points"] = out.pop("images").float()
            picture = points_panel(out["points"], getattr(trainer, "datamodule", None), size=320)
        else:
            out["images"] = to_uint8(out["images"])
            picture = make_grid(out["images"][:64].float() / 255, nrow=8, padding=2, pad_value=1.0)
        path = self.output
        if trainer.world_size > 1:  # each rank generated its own share; keep them apart rather than gather
            path = path.with_name(f"{path.stem}.rank{trainer.global_rank}{path.suffix}")
        torch.save(out, path)
        save_image(picture, grid_path(path))
        if "points" in out:
            print(f"wrote {len(out['points'])} samples to {path} and a picture of them to {grid_path(path)}")
        else:
            print(f"wrote {len(out['images'])} samples to {path} and a grid to {grid_path(path)}")


def grid_path(samples: Path) -> Path:
    """Where SampleWriter puts the PNG grid of ``samples``: beside it, under a name of its own."""
    png = samples.with_suffix(".png")
    return png if png != samples else samples.with_name(f"{samples.stem}.grid.png")
