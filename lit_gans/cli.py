"""The one entry point: ``python -m lit_gans {fit,validate,test,predict,explore} --config configs/<variant>.yaml``."""

import errno
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import lightning as L
import torch
import yaml
from jsonargparse import Namespace
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks.progress import ProgressBar as LightningProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from lit_gans import explore, models, pretrained
from lit_gans.callbacks import (
    AtomicCheckpointIO,
    GANCheckpoint,
    GenerationMetrics,
    InterruptCheckpoint,
    NoDebris,
    ProgressBar,
    ProgressStrip,
    SampleGrid,
    SampleWriter,
    ValidateLastStep,
    point_callbacks,
    variant_pictures,
)
from lit_gans.data import MNISTDataModule, SamplingData
from lit_gans.errors import LitGansError
from lit_gans.lightning_private import ConfigOverCheckpointCLI
from lit_gans.models import GAN, GANModule

CONFIGS = Path(__file__).resolve().parents[1] / "configs"  # the project's configs/ (editable install)
UNTRAINED = "untrained"  # --ckpt_path untrained: validate/test/predict the random initial weights, on purpose
PRETRAINED = "pretrained"  # --ckpt_path pretrained: the shipped model trained with the config (lit_gans.pretrained)


def unknown_option(lines: list[str], config_files: list[str] = ()) -> str | None:
    """ "Option 'x' is not accepted", wherever jsonargparse nests it -> the option, the class, the full key and, when
    the option came from a config file rather than the command line, the file."""
    for i, line in enumerate(lines):
        found = re.search(r"Option '([^']+)' is not accepted", line)
        if not found:
            continue
        # the class is named on the same line (a callable such as an optimizer) or by the nearest Problem above
        named = re.findall(r"class_path='([^']+)'", line) or re.findall(r"class_path '([^']+)'", " ".join(lines[:i]))
        owner = named[-1] if named else "the class"
        keys = re.findall(r'Parser key "([^"]+)"', " ".join(lines[:i]))
        nested = re.findall(r"NestedArg\(key='([^']+)'", " ".join(lines))
        key = ".init_args.".join([*keys[:1], nested[-1] if nested else found[1]]) if keys else found[1]
        if owner == "torch.optim.Optimizer":  # an optimizer left at the variant's paper Adam: no class to take options
            name = key.split(".init_args.")[-2] if ".init_args." in key else key
            return (
                f"--{key}: {name} is the paper's Adam until a class is given; name it first, e.g. "
                f"--model.init_args.{name.split('.')[-1]} torch.optim.Adam --{key} ..."
            )
        where = f"--{key}"
        if not nested:  # not from the command line: name the config file that sets it
            files = [f for f in config_files if re.search(rf"^\s*{re.escape(found[1])}\s*:", read_text(f), re.M)]
            where = f"{key} in {files[-1]}" if files else where
        return f"{owner} does not accept the option '{found[1]}' ({where}); remove it or fix its spelling"
    return None


def read_text(path: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError):
        return ""


SEED_RANGE = "an integer from 0 to 4294967295 (numpy's range), or true for a random one"


def bad_value(lines: list[str]) -> str | None:
    """Values jsonargparse reports by their types: the seed (an int or bool), a choice among several literal lists."""
    key = re.match(r'Parser key "([^"]+)":', lines[0])
    if not key:
        return None
    given = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Given value:")), "?")
    if key[1] == "seed_everything":
        return f"--seed_everything must be {SEED_RANGE}, got {given}"
    literals = [re.match(r"- Expected a typing\.Literal\[(.+)\]$", line) for line in lines]
    accepted = [value.strip() for match in literals if match for value in match[1].split(",")]
    if len([match for match in literals if match]) > 1:  # a union of literal lists (trainer.precision): all of them
        unique = ", ".join(dict.fromkeys(value.strip("'\"") for value in accepted))
        return f"--{key[1]} {given} is not accepted; the choices are {unique}"
    return None


VARIANTS = ", ".join(f"lit_gans.models.{name}" for name in models.__all__ if name != "GANModule")
DATAMODULES = "MNISTDataModule (the default), ImageFolderDataModule, GaussianMixtureDataModule"


def not_a_class(lines: list[str]) -> str | None:
    """``--model DCGAN`` (a config's name, not a class): jsonargparse reads it as a path "not accessible"."""
    key = re.match(r'Parser key "(model|data)":', lines[0])
    found = [re.match(r"- Expected a path but (.+) either not accessible", line) for line in lines[1:]]
    found = [match for match in found if match]
    if not key or not found:
        return None
    key, value = key[1], found[0][1]
    if key == "data":
        return f"--data {value} is not a DataModule; the choices are {DATAMODULES}"
    message = f"--model {value} is not a model class; the variants are {VARIANTS}"
    configs = {p.stem.lower(): p.stem for p in CONFIGS.glob("*.yaml")}
    if value.lower().removesuffix(".yaml") in configs:  # DCGAN is a GAN with arch dcgan: a config, not a class
        name = configs[value.lower().removesuffix(".yaml")]
        message += f"; {value} is a config: use --config {name}"
    return message


def condense(message: str, config_files: list[str] = ()) -> str:
    """jsonargparse's many-line parse errors -> the one line that says what is wrong."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if unknown := unknown_option(lines, config_files) or not_a_class(lines) or bad_value(lines):
        return unknown
    for i, line in enumerate(lines):
        if line.startswith("- Problem with given class_path"):
            detail = []
            for nested in lines[i + 1 :]:
                if nested.startswith("- "):
                    break
                detail.append(nested)
            if detail and detail[0].startswith("Parser key"):  # a known class, a bad value of one of its arguments
                return f"{lines[0]} {' '.join(detail)}"
            if lines[0].startswith('Parser key "model"'):  # the list only helps where the model class is wrong
                return f"{lines[0]} {line[2:]} {' '.join(detail)}; the variants are {VARIANTS}"
            return f"{lines[0]} {line[2:]} {' '.join(detail)}"
    specific = [line[2:] for line in lines if line.startswith("- ") and "NoneType" not in line]
    detail = specific[0] if specific else " ".join(lines[1:2])
    return f"{lines[0]} {detail}".strip()


class OneLineParser(LightningArgumentParser):
    """Parse errors as one line on stderr and exit code 2, instead of the usage text and a nested report."""

    config_files: list[str] = []  # the --config files of this command line (``main`` sets them): errors name them

    def error(self, message: str, ex: Exception | None = None):
        if not self.exit_on_error:
            return super().error(message, ex)  # jsonargparse's inner parsers raise; the outer one reports
        print(f"lit_gans: error: {condense(message, self.config_files)} (see --help)", file=sys.stderr)
        raise SystemExit(2)


class GANTrainer(L.Trainer):
    """Lightning's Trainer with two changes: ``explore``, and batch counts typed int first.

    LightningCLI's subcommands are Trainer methods, so the ``explore`` subcommand is a method here (as Lightning Flash
    added ``finetune``). Lightning annotates the batch limits ``float | int``, so the command line's
    ``--trainer.limit_val_batches 1`` reached it as 1.0 (all batches); typed ``int | float`` here, "1" stays one batch
    and "0.25" a fraction.

    Args:
        limit_train_batches: training batches per epoch: an int counts batches, a float is a fraction.
        limit_val_batches: validation batches: an int counts batches, a float is a fraction.
        limit_test_batches: test batches: an int counts batches, a float is a fraction.
        limit_predict_batches: predict batches: an int counts batches, a float is a fraction.
        val_check_interval: validate every this many training batches (int) or fraction of an epoch (float).
        overfit_batches: train and validate on this many training batches (int) or fraction (float); 0: off.
        **kwargs: the Trainer's other arguments.
    """

    def __init__(
        self,
        *,
        limit_train_batches: int | float | None = None,
        limit_val_batches: int | float | None = None,
        limit_test_batches: int | float | None = None,
        limit_predict_batches: int | float | None = None,
        val_check_interval: int | float | None = None,
        overfit_batches: int | float = 0.0,
        **kwargs,
    ):
        super().__init__(
            limit_train_batches=limit_train_batches,
            limit_val_batches=limit_val_batches,
            limit_test_batches=limit_test_batches,
            limit_predict_batches=limit_predict_batches,
            val_check_interval=val_check_interval,
            overfit_batches=overfit_batches,
            **kwargs,
        )

    def explore(
        self,
        model: GANModule,
        datamodule: L.LightningDataModule | None = None,
        ckpt_path: str | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
    ) -> None:
        """Serves a local page to turn the model's knobs (docs/explore.md); --host 0.0.0.0 shares it on the network.

        Args:
            model: the config's model; the checkpoint's weights are loaded into it.
            datamodule: the config's data: it names the classes on the class buttons.
            ckpt_path: a .ckpt file, 'last' (the newest last.ckpt) or 'untrained'.
            host: the interface to listen on (127.0.0.1: this machine only).
            port: the port (0: a free one).
        """
        explore.serve_checkpoint(model, ckpt_path, datamodule, self, host=host, port=port)


class GANCLI(ConfigOverCheckpointCLI):
    """LightningCLI with the callbacks every run needs, linked data shapes and checkpoint checks."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {**LightningCLI.subcommands(), "explore": {"model", "datamodule"}}  # GANTrainer.explore

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(SampleGrid, "images")
        parser.add_lightning_class_args(ProgressStrip, "progress")  # images/progress.png: the run at a glance
        parser.add_lightning_class_args(GenerationMetrics, "metrics")
        parser.add_lightning_class_args(GANCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.save_last": True,  # last.ckpt: what --ckpt_path last resumes from
                "checkpoint.every_n_train_steps": 500,  # a killed run loses at most 500 steps (and every epoch end)
            }
        )
        parser.add_lightning_class_args(SampleWriter, "samples")
        # MNIST (or Fashion-MNIST) unless the config or --data names another DataModule, e.g. ImageFolderDataModule
        parser.set_defaults({"data": {"class_path": f"{MNISTDataModule.__module__}.{MNISTDataModule.__name__}"}})
        # DCGAN unless a config names another variant, so that an overlay (tiny.yaml, fashion_mnist.yaml) runs alone
        parser.set_defaults({"model": {"class_path": f"{GAN.__module__}.{GAN.__name__}"}})
        parser.link_arguments("samples.count", "data.init_args.predict_samples")
        parser.link_arguments("data.img_shape", "model.init_args.img_shape", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")

    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:
        super().parse_arguments(parser, args)
        config = self.config.get(self.config.get("subcommand")) or self.config
        seed = config.get("seed_everything")
        if not isinstance(seed, bool) and seed is not None and not 0 <= seed < 2**32:  # numpy's range
            print(f"lit_gans: error: --seed_everything must be {SEED_RANGE}, got {seed}", file=sys.stderr)
            raise SystemExit(2)

    def instantiate_trainer(self, **kwargs):
        config = (self.config_init[self.subcommand] if self.subcommand else self.config_init).trainer
        accelerator = str(config.get("accelerator"))
        if accelerator in ("gpu", "cuda") and not torch.cuda.is_available() and not torch.backends.mps.is_available():
            build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
            raise LitGansError(
                f"--trainer.accelerator {accelerator}: no GPU is visible to torch here (torch {torch.__version__}, "
                f"{build}); use --trainer.accelerator cpu (or auto), or check the driver (nvidia-smi) and "
                f"CUDA_VISIBLE_DEVICES"
            )
        if self.subcommand == "predict":  # predict logs nothing: no lightning_logs/version_N for each call
            kwargs.setdefault("logger", False)
        on_cpu = config.get("accelerator") == "cpu" or not torch.cuda.is_available()
        precision = str(config.get("precision"))
        if precision in ("16-mixed", "16") and on_cpu:  # Lightning would switch to bf16 itself
            raise LitGansError(
                "--trainer.precision 16-mixed (fp16 AMP with gradient scaling) needs a CUDA GPU; "
                "on the CPU use --trainer.precision bf16-mixed"
            )
        if precision == "16-true" and on_cpu:  # else it would stop at its first step as a "divergence"
            raise LitGansError(
                f"--trainer.precision {precision} (fp16 weights and maths) needs a CUDA GPU; "
                "on the CPU use --trainer.precision bf16-mixed (or 32-true, the default)"
            )
        given = config.get("callbacks") or []
        added = [InterruptCheckpoint(), ValidateLastStep(), NoDebris()]
        pictures = variant_pictures(self.model) + point_callbacks(self.datamodule)  # the 2D toy's map and measures
        added += [c for c in pictures if not any(isinstance(g, type(c)) for g in given)]
        if config.get("enable_progress_bar") is not False and not any(
            isinstance(c, LightningProgressBar) for c in given
        ):
            added.append(ProgressBar())  # Lightning's default redraws every step: ours on a timer
        self.trainer_defaults["callbacks"] = added  # LightningCLI appends these after the config's and the parser's
        trainer = super().instantiate_trainer(**kwargs)
        if self.subcommand != "predict":  # Lightning calls every hook of every callback each batch: none idle
            trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, SampleWriter)]
        else:  # without a log folder it would write config.yaml into the working folder
            trainer.callbacks = [c for c in trainer.callbacks if not isinstance(c, SaveConfigCallback)]
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()  # last.ckpt is whole or absent, never half written
        return trainer

    def _check_ckpt(self) -> None:
        """Turns a missing, truncated or unsafe checkpoint into one clear line before Lightning touches it."""
        key = f"{self.subcommand}.ckpt_path"
        path = self.config_init.get(key)
        if path is None:
            return
        if path == "last":
            path = find_last_checkpoint(Path(self.trainer.default_root_dir), self.subcommand)
            self.config_init[key] = str(path)  # what the subcommand runs with (Lightning would look in the new run)
        if path in ("best", "hpc", "registry"):
            return
        path = Path(path)
        if path.is_dir():
            raise LitGansError(f"checkpoint {path} is a directory, not a checkpoint file; pass a .ckpt file in it")
        if not path.is_file():
            raise LitGansError(f"checkpoint {path} does not exist; pass the path of a .ckpt file (or 'last')")
        with path.open("rb") as file:
            head = file.read(4)
        # torch.save writes a zip archive (PK..), or a pickle (0x80 then the protocol) in its legacy format: anything
        # else is some other file, which torch's safe loader would report as unsafe ("invalid load key")
        if not (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):
            raise LitGansError(
                f"{path} is not a checkpoint (not a file written by torch.save); pass the path of a .ckpt file "
                f"that a lit_gans run wrote under lightning_logs/version_N/checkpoints"
            )
        check_crcs(path)
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            if "weights_only" in str(err) or "Unsupported global" in str(err):
                raise LitGansError(
                    f"checkpoint {path} holds pickled objects beyond tensors and plain data; refusing to load it "
                    f"(it could run code). Only load checkpoints from lit_gans runs you trust"
                ) from err
            raise LitGansError(
                f"checkpoint {path} is unreadable or truncated ({type(err).__name__}); "
                f"use another checkpoint, e.g. an earlier one in the same folder"
            ) from err
        self.model.on_load_checkpoint(checkpoint)  # variant and shape check, with a clear message
        max_steps, step = self.trainer.max_steps, checkpoint.get("global_step", 0)
        if self.subcommand == "fit" and 0 <= max_steps <= step:  # Lightning would stop at once, exit 0, train nothing
            raise LitGansError(
                f"the run in {path} is finished: it is at step {step} and --trainer.max_steps is {max_steps}; "
                f"pass a larger --trainer.max_steps (e.g. {2 * step}) to train on"
            )
        progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {}).get("current", {})
        max_epochs, epochs = self.trainer.max_epochs, progress.get("processed", 0)
        if self.subcommand == "fit" and max_epochs is not None and 0 <= max_epochs <= epochs:  # the same, by epochs
            raise LitGansError(
                f"the run in {path} is finished: it has trained {epochs} epoch(s) and --trainer.max_epochs is "
                f"{max_epochs}; pass a larger --trainer.max_epochs (e.g. {2 * epochs}) to train on"
            )

    def _check_log_dir(self) -> None:
        """A folder that cannot be written fails now, in one line, not after the data has loaded."""
        root = Path(self.trainer.default_root_dir)
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=root):
                pass
        except OSError as err:
            raise LitGansError(
                f"cannot write logs and checkpoints under {root} ({err.strerror or type(err).__name__}); "
                f"pass --trainer.default_root_dir pointing to a writable folder"
            ) from err

    def before_fit(self) -> None:
        if self.config_init.get("fit.ckpt_path") == PRETRAINED:
            raise LitGansError(
                "--ckpt_path pretrained is for validate, test, predict and explore: a shipped model holds no optimizer "
                "state (and, but for InfoGAN, no D), so a fit cannot resume from it; start without --ckpt_path"
            )
        self._check_log_dir()
        self._check_ckpt()

    def before_instantiate_classes(self) -> None:
        """validate, test and predict score or draw from trained weights: without a checkpoint they would silently
        use the random initial ones; a fit without a budget or with a budget of nothing would train for days or not
        at all. Refused here, before anything is built or written."""
        if self.subcommand == "fit":
            check_budget(self.config.fit.trainer)
        if self.subcommand in ("predict", "explore"):
            self._data_from_checkpoint()
        if (
            self.subcommand in ("validate", "test", "predict", "explore")
            and self.config[self.subcommand].ckpt_path is None
        ):
            root = self.config[self.subcommand].trainer.default_root_dir or Path.cwd()
            raise LitGansError(
                f"{self.subcommand} needs trained weights: pass --ckpt_path with a .ckpt file, or --ckpt_path last "
                f"(the newest under {root}/lightning_logs); --ckpt_path {UNTRAINED} uses the untrained model on purpose"
            )

    def _data_from_checkpoint(self) -> None:
        """predict and explore only draw samples: the checkpoint's description of its data (shape, class names,
        dataset) stands in for the config's DataModule, so no image is read and the data need not be on this
        machine (an image folder since deleted). Data options that contradict the checkpoint are refused."""
        config = self.config[self.subcommand]
        path, dataset = config.ckpt_path, dataset_named(config.data)
        if path == UNTRAINED:
            return
        if path == PRETRAINED:
            model = config.model.init_args
            described = pretrained.read(pretrained.match(config.model.class_path, model.as_dict(), dataset))["data"]
        else:
            if path == "last":
                path = config.ckpt_path = str(
                    find_last_checkpoint(Path(config.trainer.default_root_dir or "."), self.subcommand)
                )
            try:
                checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
                described = checkpoint.get("lit_gans", {}).get("data")
            except Exception:
                return  # _check_ckpt names what is wrong with the file, in one line
        shape = configured_shape(config.data)
        if not described or shape is None:
            return  # a checkpoint from before checkpoints described their data, or points: the config's data
        theirs = tuple(described["img_shape"])
        if shape != theirs or dataset != described["dataset"]:
            raise LitGansError(
                f"the checkpoint was trained on {described['dataset']} ({'x'.join(map(str, theirs))}), the config's "
                f"data are {dataset} ({'x'.join(map(str, shape or ['?']))}); pass the --data options it was trained "
                f"with (for a folder of images: --data ImageFolderDataModule --data.root DIR --data.image_size "
                f"--data.channels; the folder itself is not read)"
            )
        init = {k: described[k] for k in ("img_shape", "num_classes", "class_names", "dataset")}
        init["predict_samples"] = config.data.init_args.predict_samples
        init["val_batch_size"] = config.data.init_args.get("val_batch_size", 500)
        config.data = Namespace(class_path=f"{SamplingData.__module__}.SamplingData", init_args=Namespace(**init))

    def _require_ckpt(self) -> None:
        key = f"{self.subcommand}.ckpt_path"
        if self.config_init.get(key) == UNTRAINED:  # asked for on purpose: Lightning runs with the initial weights
            self.config_init[key] = None
        elif self.config_init.get(key) == PRETRAINED:  # the shipped weights, put into the config's model here
            model = self.model
            name = pretrained.match(f"{type(model).__module__}.{type(model).__name__}", dict(model.hparams),
                                    getattr(self.datamodule, "dataset", None) or "mnist")  # fmt: skip
            pretrained.load_into(model, name)
            self.config_init[key] = None
        else:
            self._check_ckpt()

    def before_validate(self) -> None:
        self._require_ckpt()

    def before_test(self) -> None:
        self._require_ckpt()

    def before_predict(self) -> None:
        self._require_ckpt()

    def before_explore(self) -> None:
        self._require_ckpt()  # the same checks and one-line errors as predict


def dataset_named(data: Namespace) -> str | None:
    """The dataset a config's image DataModule names, read from the config (nothing is built or read)."""
    if data.class_path.endswith("ImageFolderDataModule"):
        return "image_folder"
    return data.init_args.get("dataset") or "mnist" if data.class_path.endswith("MNISTDataModule") else None


def configured_shape(data: Namespace) -> tuple[int, int, int] | None:
    """The (C, H, W) a config's DataModule gives, from its options alone (None: a DataModule of someone else's)."""
    if data.class_path.endswith("ImageFolderDataModule"):
        size = data.init_args.get("image_size") or 32
        return (data.init_args.get("channels") or 3, size, size)
    return MNISTDataModule.img_shape if data.class_path.endswith("MNISTDataModule") else None


def check_crcs(path: Path) -> None:
    """torch.load reads a checkpoint's zip records without checking their CRC-32s, so bytes overwritten inside a
    tensor load as wrong weights without a word; zipfile checks every record (about 0.1 s per 100 MB)."""
    if not zipfile.is_zipfile(path):
        return  # the legacy pickle format carries no checksums; torch.load reports what it can
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        damaged = f"({err})"
    if damaged:
        raise LitGansError(
            f"checkpoint {path} is damaged (record {damaged} fails its checksum): its bytes changed after it was "
            f"written; use another checkpoint, e.g. an earlier one in the same folder"
        )


def check_budget(trainer) -> None:
    """A fit must train something, and not Lightning's default 1,000 epochs by accident (no --config, no budget)."""
    if trainer.get("fast_dev_run"):
        return
    max_steps, max_epochs = trainer.get("max_steps", -1), trainer.get("max_epochs")
    for name, value in (("max_steps", max_steps), ("max_epochs", max_epochs)):
        if value == 0:
            raise LitGansError(
                f"--trainer.{name} 0 trains nothing; pass a positive number (a variant's config sets its paper's "
                f"budget), or score a checkpoint with: python -m lit_gans validate --ckpt_path ..."
            )
    limit = trainer.get("limit_train_batches")
    if limit is not None and limit == 0:
        raise LitGansError(
            f"--trainer.limit_train_batches {limit} trains nothing; pass a positive number of batches (or a "
            f"fraction of an epoch), or score a checkpoint with: python -m lit_gans validate --ckpt_path ..."
        )
    if max_steps in (None, -1) and max_epochs is None:  # an explicit max_epochs -1 is endless on purpose
        configs = ", ".join(sorted(p.stem for p in CONFIGS.glob("*.yaml") if "class_path" in read_text(str(p))))
        raise LitGansError(
            "fit has no budget: no --config sets one, so it would train for Lightning's default 1,000 epochs "
            f"(days on a CPU); pass a variant's config ({configs}), or --trainer.max_steps N"
        )


def find_last_checkpoint(root: Path, subcommand: str = "fit") -> Path:
    """The newest ``last*.ckpt`` under ``<root>/lightning_logs/*/checkpoints`` (a resumed run logs to a new version)."""
    found = sorted(root.glob("lightning_logs/*/checkpoints/last*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not found:
        if subcommand == "fit":
            fix = "start without --ckpt_path, or pass the checkpoint's path"
        else:  # validate, test and predict refuse to run without trained weights
            fix = (
                "train first (python -m lit_gans fit ...), pass the checkpoint's path, or point "
                "--trainer.default_root_dir at the folder the run was trained in"
            )
        raise LitGansError(f"--ckpt_path last: no last.ckpt under {root}/lightning_logs/*/checkpoints; {fix}")
    return found[-1]


def resolve_config_args(args: list[str]) -> list[str]:
    """``--config infogan.yaml`` (or ``infogan``) that is not a path is looked up in the project's configs/."""
    out = list(args)
    for i, arg in enumerate(out):
        if arg in ("--config", "-c") and i + 1 < len(out):
            j, value = i + 1, out[i + 1]
        elif arg.startswith("--config="):
            j, value = i, arg.split("=", 1)[1]
        else:
            continue
        if Path(value).exists():
            continue
        for candidate in (CONFIGS / value, CONFIGS / f"{value}.yaml", CONFIGS / Path(value).name):
            if candidate.is_file():
                out[j] = str(candidate) if j == i + 1 else f"--config={candidate}"
                break
        else:
            names = ", ".join(sorted(p.stem for p in CONFIGS.glob("*.yaml")))
            raise LitGansError(f"config {value} not found here or in {CONFIGS}; available: {names}")
    check_overlay_order(out)
    return out


def config_paths(args: list[str]) -> list[str]:
    """The files given with ``--config``/``-c``, in order."""
    paths = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg in ("--config", "-c")]
    return paths + [arg.split("=", 1)[1] for arg in args if arg.startswith("--config=")]


def read_config(path: str) -> dict:
    """A config file as a mapping; a file that is not YAML, or whose top level is not a mapping, is one clear line."""
    try:
        config = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise LitGansError(f"config {path} cannot be read ({err.strerror or err}); pass a readable YAML file") from err
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise LitGansError(
            f"config {path} is not valid YAML{where} ({problem}); fix it (configs/dcgan.yaml shows the form)"
        ) from err
    if config is not None and not isinstance(config, dict):
        raise LitGansError(
            f"config {path} holds a {type(config).__name__}, not options: a config is a mapping of sections "
            f"(trainer:, model:, data:, ...), as configs/dcgan.yaml"
        )
    return config or {}


def check_overlay_order(args: list[str]) -> None:
    """An overlay with model options (infogan_fewlabel.yaml) given before any config or option that names the
    variant would be laid over the default DCGAN, which refuses its options in jsonargparse's words: say it plainly."""
    named = False
    for i, arg in enumerate(args):
        if arg == "--model" or arg.startswith(("--model=", "--model.class_path")):
            named = True
        path = args[i + 1] if arg in ("--config", "-c") and i + 1 < len(args) else None
        path = arg.split("=", 1)[1] if arg.startswith("--config=") else path
        if path is None or not Path(path).is_file():
            continue
        model = read_config(path).get("model") or {}
        if not isinstance(model, dict):
            continue
        if "class_path" in model:
            named = True
        elif model and not named:
            raise LitGansError(
                f"{Path(path).name} is an overlay of model options: give the variant's config before it, e.g. "
                f"--config {Path(path).stem.split('_')[0]} --config {Path(path).stem}"
            )


def main(args: list[str] | None = None) -> GANCLI:
    """Runs the CLI; problems the user can fix become one line on stderr and exit code 2."""
    try:
        if args is None:  # the command line: resolve in place (DDP re-launches this same command on each rank)
            sys.argv[1:] = resolve_config_args(sys.argv[1:])
        else:
            args = resolve_config_args(args)
        OneLineParser.config_files = config_paths(sys.argv[1:] if args is None else args)
        return GANCLI(
            model_class=GANModule,
            datamodule_class=L.LightningDataModule,
            trainer_class=GANTrainer,  # Lightning's, plus the explore subcommand and batch counts that stay ints
            subclass_mode_model=True,
            subclass_mode_data=True,  # --data ImageFolderDataModule --data.root DIR: your own images
            auto_configure_optimizers=False,  # each GAN configures its own two optimizers
            parser_class=OneLineParser,
            save_config_kwargs={"overwrite": True},
            args=args,
        )
    except Exception as err:
        cause = err
        while cause is not None and not isinstance(cause, (LitGansError, MisconfigurationException)):
            if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
                cause = LitGansError(
                    f"no space left on the disk writing {cause.filename or 'logs or a checkpoint'} ({cause.strerror}); "
                    f"free some space and resume with --ckpt_path last: the last complete checkpoint is intact"
                )
                break
            cause = cause.__cause__ or cause.__context__  # jsonargparse wraps errors raised in constructors
        if cause is None:
            raise  # a bug, not a user error: keep the traceback
        print(f"lit_gans: error: {cause}", file=sys.stderr)
        raise SystemExit(2) from None
