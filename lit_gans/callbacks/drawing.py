"""Pictures of points, drawn with torch and Pillow (which torchvision needs anyway), no plotting library: a colour
map, points marked on a picture of the plane, a caption band. Used by the 2D toy's heat map, the sample grid and the
progress strip."""

import functools

import torch
from PIL import Image, ImageDraw, ImageFont

# matplotlib's viridis at 0, 1/4, 1/2, 3/4 and 1: dark purple (D says generated) to yellow (D says real)
VIRIDIS = torch.tensor([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]) / 255.0
REAL, FAKE, MODE = (1.0, 1.0, 1.0), (0.9, 0.1, 0.1), (0.75, 0.75, 0.75)  # white data, red samples, grey mode marks


def colour_map(values: torch.Tensor) -> torch.Tensor:
    """(H, W) values in [0, 1] -> (3, H, W) RGB in [0, 1] along viridis, linearly between its five anchors."""
    x = values.float().clamp(0.0, 1.0) * (len(VIRIDIS) - 1)
    low = x.floor().long().clamp(max=len(VIRIDIS) - 2)
    t = (x - low).unsqueeze(-1)
    return (VIRIDIS[low] * (1 - t) + VIRIDIS[low + 1] * t).permute(2, 0, 1)


def plane(extent: float, size: int) -> torch.Tensor:
    """(size * size, 2) points of [-extent, extent]^2, one per pixel, row by row from the top (y = extent)."""
    ticks = torch.linspace(-extent, extent, size)
    y, x = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")
    return torch.stack([x, y], dim=-1).reshape(-1, 2)


def draw_points(image: torch.Tensor, points: torch.Tensor, extent: float, colour, radius: int = 1) -> torch.Tensor:
    """Marks ``points`` (N, 2) on ``image`` (3, S, S), which pictures [-extent, extent]^2, as squares of side
    2 * radius + 1 pixels in ``colour`` (RGB in [0, 1]); points outside the square are left out. In place."""
    size = image.size(-1)
    pixels = ((points.float().cpu() + extent) / (2 * extent) * (size - 1)).round().long()  # (N, 2): column, row up
    col, row = pixels[:, 0], size - 1 - pixels[:, 1]
    inside = (col >= 0) & (col < size) & (row >= 0) & (row < size)
    col, row = col[inside], row[inside]
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            r, c = (row + dy).clamp(0, size - 1), (col + dx).clamp(0, size - 1)
            image[:, r, c] = torch.tensor(colour).view(3, 1)
    return image


@functools.cache
def font() -> ImageFont.ImageFont:
    """Pillow's built-in font at 11 pixels (Pillow >= 10.1 with FreeType); older Pillows have only its bitmap font."""
    try:
        return ImageFont.load_default(size=11)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def with_caption(image: torch.Tensor, lines: list[str]) -> torch.Tensor:
    """``image`` (3, H, W) in [0, 1] with ``lines`` of text in a white band above it (Pillow's built-in font)."""
    band = Image.new("RGB", (image.size(-1), 12 * len(lines) + 4), "white")
    draw = ImageDraw.Draw(band)
    for i, line in enumerate(lines):
        draw.text((3, 1 + 12 * i), line, fill="black", font=font())
    text = torch.frombuffer(bytearray(band.tobytes()), dtype=torch.uint8).view(band.height, band.width, 3)
    return torch.cat([text.permute(2, 0, 1).float() / 255.0, image.cpu().float()], dim=1)


def with_label(image: torch.Tensor, text: str, width: int = 64) -> torch.Tensor:
    """``image`` (3, H, W) in [0, 1] with ``text`` written in a white band of ``width`` pixels at its left."""
    band = Image.new("RGB", (width, image.size(1)), "white")
    ImageDraw.Draw(band).text((3, max(0, image.size(1) // 2 - 6)), text, fill="black", font=font())
    text = torch.frombuffer(bytearray(band.tobytes()), dtype=torch.uint8).view(band.height, band.width, 3)
    return torch.cat([text.permute(2, 0, 1).float() / 255.0, image.cpu().float()], dim=2)


def scatter(points: torch.Tensor, centers: torch.Tensor, extent: float, size: int = 160) -> torch.Tensor:
    """(3, size, size) in [0, 1]: generated ``points`` in red on white over [-extent, extent]^2, the mixture's means
    (``centers``) in grey."""
    image = torch.ones(3, size, size)
    draw_points(image, centers, extent, MODE, radius=2)
    return draw_points(image, points, extent, FAKE, radius=0 if len(points) > 200 else 1)


def points_panel(points: torch.Tensor, datamodule, size: int = 160) -> torch.Tensor:
    """``scatter`` of generated points over the DataModule's square and modes (``points.GaussianMixtureDataModule``);
    without them (a Trainer fed plain DataLoaders) over a square that holds the points."""
    points = points.detach().float().cpu()
    centers = getattr(datamodule, "centers", points[:0])
    extent = getattr(datamodule, "extent", None) or float(points.abs().max().clamp(min=1e-6)) * 1.1
    return scatter(points, centers, extent, size)
