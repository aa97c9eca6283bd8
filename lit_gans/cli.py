"""The one entry point: ``python -m lit_gans {fit,validate,test,predict,explore} --config configs/<variant>.yaml``."""

import re
import sys
import tempfile
from pathlib import Path

import lightning as L
import torch
import yaml
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks.progress import ProgressBar as LightningProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lit_gans import explore, models
from lit_gans.callbacks import (
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
from lit_gans.data import MNISTDataModule
from lit_gans.errors import LitGansError
from lit_gans.lightning_private import ConfigOverCheckpointCLI
from lit_gans.models import GAN, GANModule

CONFIGS = Path(__file__).resolve().parents[1] / "configs"  # the project's configs/ (editable install)
UNTRAINED = "untrained"  # --ckpt_path untrained: validate/test/predict the random initial weights, on purpose


def unknown_option(lines: list[str]) -> str | None:
    """ "Option 'x' is not accepted", wherever jsonargparse nests it -> the option, the class and the full key."""
    for i, line in enumerate(lines):
        found = re.search(r"Option '([^']+)' is not accepted", line)
        if not found:
            continue
        # the class is named on the same line (a callable such as an optimizer) or by the nearest Problem above
        named = re.findall(r"class_path='([^']+)'", line) or re.findall(r"class_path '([^']+)'", " ".join(lines[:i]))
        owner = named[-1] if named else "the class"
        keys = re.findall(r'Parser key "([^"]+)"', " ".join(lines[:i]))
        nested = re.findall(r"NestedArg\(key='([^']+)'", " ".join(lines))
        key = ".init_args.".join([*keys[:1], nested[-1]]) if keys and nested else found[1]
        if owner == "torch.optim.Optimizer":  # an optimizer left at the variant's paper Adam: no class to take options
            name = key.split(".init_args.")[-2] if ".init_args." in key else key
            return (
                f"--{key}: {name} is the paper's Adam until a class is given; name it first, e.g. "
                f"--model.init_args.{name.split('.')[-1]} torch.optim.Adam --{key} ..."
            )
        return f"{owner} does not accept the option '{found[1]}' (--{key}); remove it or fix its spelling"
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


def condense(message: str) -> str:
    """jsonargparse's many-line parse errors -> the one line that says what is wrong."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if unknown := unknown_option(lines) or not_a_class(lines):
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

    def error(self, message: str, ex: Exception | None = None):
        if not self.exit_on_error:
            return super().error(message, ex)  # jsonargparse's inner parsers raise; the outer one reports
        print(f"lit_gans: error: {condense(message)} (see --help)", file=sys.stderr)
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

    def instantiate_trainer(self, **kwargs):
        config = (self.config_init[self.subcommand] if self.subcommand else self.config_init).trainer
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
        self._check_log_dir()
        self._check_ckpt()

    def before_instantiate_classes(self) -> None:
        """validate, test and predict score or draw from trained weights: without a checkpoint they would silently
        use the random initial ones. Refused here, before anything is built or written."""
        if (
            self.subcommand in ("validate", "test", "predict", "explore")
            and self.config[self.subcommand].ckpt_path is None
        ):
            root = self.config[self.subcommand].trainer.default_root_dir or Path.cwd()
            raise LitGansError(
                f"{self.subcommand} needs trained weights: pass --ckpt_path with a .ckpt file, or --ckpt_path last "
                f"(the newest under {root}/lightning_logs); --ckpt_path {UNTRAINED} uses the untrained model on purpose"
            )

    def _require_ckpt(self) -> None:
        key = f"{self.subcommand}.ckpt_path"
        if self.config_init.get(key) == UNTRAINED:  # asked for on purpose: Lightning runs with the initial weights
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
        model = (yaml.safe_load(Path(path).read_text()) or {}).get("model") or {}
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
            cause = cause.__cause__ or cause.__context__  # jsonargparse wraps errors raised in constructors
        if cause is None:
            raise  # a bug, not a user error: keep the traceback
        print(f"lit_gans: error: {cause}", file=sys.stderr)
        raise SystemExit(2) from None
