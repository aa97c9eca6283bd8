"""Trained models shipped with the package: the runs behind the README's rows, small enough to ship in the repository.

Each file in ``lit_gans/weights/`` holds what sampling and the variant's own measure need (the sampling G: the EMA
copy where the run kept one; for InfoGAN also D with its Q head, which read real digits), every weight matrix as
6-bit integers with a float32 scale per row (four to three bytes), everything else in float16, made float32 again on
load; beside them the variant and its options, the data's description, the run it came from (configs, seed, steps,
commit) and the numbers ``validate`` measured on the file itself. docs/pretrained.md lists them.

    model = lit_gans.pretrained.load("infogan_fewlabel")       # or InfoGAN.load_pretrained("infogan_fewlabel")
    python -m lit_gans explore --config infogan --ckpt_path pretrained
"""

import importlib
from pathlib import Path

import torch

from lit_gans.errors import LitGansError

WEIGHTS = Path(__file__).with_name("weights")
FORMAT = 1  # the layout below; a loader meeting a newer one says so instead of misreading it
BITS = 6  # per weight: FID and code accuracy as float32's to 0.1% (docs/pretrained.md, how small)
LEVELS = 2 ** (BITS - 1) - 1  # 31: symmetric integers -31..31 around a zero that stays exact
USE_TIME = {"predict_category", "predict_codes", "predict_classes", "samples_per_class", "ema_decay"}  # not training


def names() -> list[str]:
    """The shipped models, by name (``infogan``, ``infogan_fewlabel``, ...)."""
    return sorted(path.stem for path in WEIGHTS.glob("*.pt"))


def path_of(name: str) -> Path:
    path = WEIGHTS / f"{name}.pt"
    if not path.is_file():
        raise LitGansError(f"no shipped model named {name!r}; the shipped models are {', '.join(names()) or 'none'}")
    return path


def read(name: str) -> dict:
    """A shipped file as saved (tensors still packed), memory-mapped: reading its description costs no weights."""
    shipped = torch.load(path_of(name), map_location="cpu", weights_only=True, mmap=True)
    if shipped.get("format") != FORMAT:
        raise LitGansError(f"shipped model {name} has format {shipped.get('format')}, this lit_gans reads {FORMAT}")
    return shipped


# ---- packing: 6-bit rows, float16 rest --------------------------------------------------------------------------


def pack(tensor: torch.Tensor) -> dict:
    """A float tensor as stored: a matrix (or convolution kernel) as 6-bit integers per row with a float32 scale,
    four values to three bytes; a vector (bias, BatchNorm) in float16; anything else as it is."""
    if not tensor.is_floating_point():
        return {"raw": tensor}
    if tensor.dim() < 2:
        return {"float16": tensor.half()}
    rows = tensor.detach().float().reshape(tensor.shape[0], -1)  # (rows, values per row)
    scale = rows.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / LEVELS
    codes = (rows / scale).round().clamp(-LEVELS, LEVELS).to(torch.int32).flatten() + LEVELS + 1  # 1..63
    codes = torch.cat([codes, codes.new_zeros(-len(codes) % 4)]).reshape(-1, 4)
    word = codes[:, 0] | codes[:, 1] << 6 | codes[:, 2] << 12 | codes[:, 3] << 18  # 24 bits
    packed = torch.stack([word & 255, word >> 8 & 255, word >> 16 & 255], dim=1).to(torch.uint8).flatten()
    return {"int6": packed, "scale": scale.flatten(), "shape": list(tensor.shape)}


def unpack(stored: dict) -> torch.Tensor:
    """``pack``'s inverse, in float32 (or the raw tensor)."""
    if "raw" in stored:
        return stored["raw"]
    if "float16" in stored:
        return stored["float16"].float()
    shape, scale = stored["shape"], stored["scale"]
    b = stored["int6"].to(torch.int32).reshape(-1, 3)
    word = b[:, 0] | b[:, 1] << 8 | b[:, 2] << 16
    codes = torch.stack([word >> shift & 63 for shift in (0, 6, 12, 18)], dim=1).flatten()
    values = (codes[: torch.Size(shape).numel()] - LEVELS - 1).float()  # the padding to four dropped
    return (values.reshape(scale.numel(), -1) * scale[:, None]).reshape(shape)


def shipped_state(model) -> dict[str, torch.Tensor]:
    """What a shipped file keeps of a trained model: the sampling G (the EMA copy where there is one) as
    ``generator.*``, and D where the variant's measure reads real images with it (InfoGAN's Q)."""
    state = {f"generator.{k}": v for k, v in model.sampling_generator.state_dict().items()}
    if type(model).__name__ == "InfoGAN":
        state |= {f"discriminator.{k}": v for k, v in model.discriminator.state_dict().items()}
    return state


def save(model, path: Path, *, name: str, run: dict, data: dict) -> None:
    """Writes ``model``'s shipped file (``measured`` is filled by ``record``)."""
    hparams = {k: list(v) if isinstance(v, tuple) else v for k, v in model.hparams.items() if not k.startswith("_")}
    torch.save(
        {
            "format": FORMAT,
            "name": name,
            "class_path": f"{type(model).__module__}.{type(model).__name__}",
            "init_args": hparams,
            "data": data,
            "run": run,
            "measured": {},
            "tensors": {key: pack(value) for key, value in shipped_state(model).items()},
        },
        path,
    )


# ---- loading ----------------------------------------------------------------------------------------------------


def load(name: str, map_location: str | torch.device = "cpu"):
    """The shipped model ``name``, built from its own options, in eval mode: ``model.sample(...)`` draws at once.

    Networks the file does not hold (D of the variants whose measure needs only G) are ``None``, so that nothing
    reads random weights as if trained; ``model.shipped`` holds the file's description (run, data, measured).
    """
    shipped = read(name)
    model = model_class(shipped["class_path"])(**shipped["init_args"])
    load_into(model, name, shipped)
    return model.to(map_location).eval()


def load_into(model, name: str, shipped: dict | None = None) -> None:
    """Puts the shipped weights ``name`` into ``model`` (built from the same options), as the CLI does for
    ``--ckpt_path pretrained``: the shipped G becomes the only G (no EMA beside it: it is the EMA), D is the shipped
    one or ``None``. A model of other networks is refused with the key that differs."""
    shipped = shipped or read(name)
    if type(model) is not model_class(shipped["class_path"]):
        raise LitGansError(f"shipped model {name} is a {shipped['class_path']}, not a {type(model).__name__}")
    state = {key: unpack(stored) for key, stored in shipped["tensors"].items()}
    has_d = any(key.startswith("discriminator.") for key in state)
    parts = ("generator.", "discriminator.") if has_d else ("generator.",)
    ours = {k: v for k, v in model.state_dict().items() if k.startswith(parts)}
    for key in sorted(set(ours) | set(state)):
        if key not in ours or key not in state or ours[key].shape != state[key].shape:
            mine = list(ours[key].shape) if key in ours else "absent"
            theirs = list(state[key].shape) if key in state else "absent"
            raise LitGansError(
                f"shipped model {name} does not fit these networks ({key}: shipped {theirs}, here {mine}); build the "
                f"model with the shipped options (lit_gans.pretrained.load({name!r}) does)"
            )
    model.load_state_dict(state, strict=False)  # strict over G (and D) by the check above; the rest is dropped next
    model.generator_ema = None
    if not has_d:
        model.discriminator = None  # not shipped: no measure or reader may use an untrained D unawares
    model.shipped = {k: v for k, v in shipped.items() if k != "tensors"}


def match(class_path: str, init_args: dict, dataset: str) -> str:
    """The shipped model trained with these options on this dataset (what ``--ckpt_path pretrained`` loads)."""
    found = []
    for name in names():
        shipped = read(name)
        same = model_class(shipped["class_path"]) is model_class(class_path) and shipped["data"]["dataset"] == dataset
        trained = {k: v for k, v in shipped["init_args"].items() if k not in USE_TIME | {"img_shape", "num_classes"}}
        if same and all(_same(init_args.get(k, v), v) for k, v in trained.items()):
            found.append(name)
    if not found:
        listing = "; ".join(f"{n}: {' '.join(f'--config {c}' for c in read(n)['run']['configs'])}" for n in names())
        raise LitGansError(
            f"--ckpt_path pretrained: no shipped model was trained with this config ({class_path.rsplit('.', 1)[1]} "
            f"with these options on {dataset}); the shipped models and their configs are {listing}"
        )
    return found[0]


def model_class(class_path: str) -> type:
    """``lit_gans.models.InfoGAN`` and ``lit_gans.models.infogan.InfoGAN`` alike -> the class."""
    module, name = class_path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _same(given, shipped) -> bool:
    if isinstance(given, (list, tuple)) or isinstance(shipped, (list, tuple)):
        return list(given or []) == list(shipped or [])
    return given == shipped


def record(name: str, measured: dict[str, float]) -> None:
    """Stores what ``validate`` measured on the shipped file in it (the test re-measures against these)."""
    shipped = torch.load(path_of(name), map_location="cpu", weights_only=True)
    shipped["measured"] = {key: round(float(value), 6) for key, value in measured.items()}
    torch.save(shipped, path_of(name))


def ship(ckpt: str, name: str, configs: list[str], run: dict) -> dict[str, float]:
    """Packs a run's ``last.ckpt`` as the shipped model ``name``, then validates the shipped file as a user would
    (``validate --ckpt_path pretrained``) and records what it measures. For maintainers; docs/pretrained.md."""
    import yaml

    from lit_gans.cli import CONFIGS, main
    from lit_gans.data import MNISTDataModule, describe_data

    layers = [yaml.safe_load((CONFIGS / f"{config}.yaml").read_text()) or {} for config in configs]
    class_path = next(layer["model"]["class_path"] for layer in layers if "class_path" in (layer.get("model") or {}))
    dataset = next((layer["data"]["dataset"] for layer in layers if "dataset" in (layer.get("data") or {})), "mnist")
    model = model_class(class_path).load_from_checkpoint(ckpt, map_location="cpu")
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=True)
    data = checkpoint.get("lit_gans", {}).get("data") or describe_data(
        MNISTDataModule(dataset=dataset), model.hparams.img_shape, model.hparams.num_classes
    )
    run = {"configs": configs, "step": int(checkpoint["global_step"]), **run}
    WEIGHTS.mkdir(exist_ok=True)
    save(model, WEIGHTS / f"{name}.pt", name=name, run=run, data=data)
    args = [f"--config={config}" for config in configs]
    cli = main(["validate", *args, "--ckpt_path=pretrained", "--trainer.enable_progress_bar=false"])
    measured = {key: float(value) for key, value in cli.trainer.callback_metrics.items() if key.startswith("val/")}
    record(name, measured)
    return measured


if __name__ == "__main__":  # python -m lit_gans.pretrained [ship CKPT NAME CONFIG... --seed S --commit C ...]
    import argparse

    parser = argparse.ArgumentParser(description="list the shipped models, or ship a run's checkpoint as one")
    parser.add_argument("ship", nargs="*", help="ship CKPT NAME CONFIG [CONFIG ...]")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--commit", default="")
    parser.add_argument("--date", default="")
    parser.add_argument("--wall", default="", help="the run's wall time, as docs/results.md gives it")
    args = parser.parse_args()
    if args.ship:
        _, ckpt_path, model_name, *config_names = args.ship
        info = {"seed": args.seed, "commit": args.commit, "date": args.date, "wall": args.wall}
        print(model_name, ship(ckpt_path, model_name, config_names, info))
    for model_name in names():
        info = read(model_name)
        print(model_name, info["class_path"], info["run"], info["measured"])
