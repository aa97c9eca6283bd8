"""``torch.compile`` of the generator and the discriminator."""

import torch
from lightning import Callback, LightningModule, Trainer

from lit_gans.errors import LitGansError


class CompileNetworks(Callback):
    """Compiles the generator and the discriminator with ``torch.compile`` before training (not the LightningModule:
    its Python step, logging and hooks stay eager, and checkpoints keep their keys).

    Usage: ``--trainer.callbacks+=lit_gans.callbacks.CompileNetworks``. The first steps are slow (compilation,
    and again for eval mode when pictures are drawn); afterwards G and D run as fused kernels. Compiles in place
    (``nn.Module.compile``), so the EMA copy, ``state_dict`` and DDP see the same modules.

    Args:
        mode: ``torch.compile`` mode: "default", "reduce-overhead" (CUDA graphs on a GPU) or "max-autotune".
        backend: ``torch.compile`` backend; "inductor" generates kernels (needs a C++ compiler on the CPU).
        dynamic: compile for varying batch sizes (None: torch decides after a size changes).
    """

    def __init__(self, mode: str = "default", backend: str = "inductor", dynamic: bool | None = None):
        self.mode, self.backend, self.dynamic = mode, backend, dynamic

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        options = {"backend": self.backend, "dynamic": self.dynamic}
        if self.backend == "inductor":
            options["mode"] = self.mode  # other backends take no mode
        for name in ("generator", "discriminator"):
            net = getattr(pl_module, name, None)
            if not isinstance(net, torch.nn.Module):
                raise LitGansError(f"CompileNetworks compiles pl_module.{name}; {type(pl_module).__name__} has none")
            net.compile(**options)
        head = getattr(pl_module.discriminator, "q", None)  # InfoGAN's Q head is called on its own, outside D
        if isinstance(head, torch.nn.Module):
            head.compile(**options)
