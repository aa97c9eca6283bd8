"""DDP that works for manual-optimization GANs, and is Lightning's own DDP for every other module.

Lightning's DDPStrategy wraps the whole LightningModule in DistributedDataParallel. A GAN step runs D's backward
with G frozen and G's backward with D frozen, so DDP's reducer finds parameters without gradients and raises
"parameters that were not used in producing the loss" (unless ``find_unused_parameters=True``, which walks the
autograd graph after every forward). Instead, this strategy leaves the module unwrapped and averages gradients
itself: one all-reduce of one flat buffer per optimizer step, over exactly that optimizer's parameters. Everything
else (process launch, samplers, metric sync, rank-zero checkpoints) is Lightning's DDP unchanged.

Only lit_gans' GANs (``GANModule``) get this: any other LightningModule trained in the same process, under the same
strategy name, gets Lightning's DDPStrategy untouched (the DistributedDataParallel wrapper and its gradient hooks).
"""

import torch
import torch.distributed as dist
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry

from lit_gans.models.base import GANModule


def _copy_back(flat: torch.Tensor, tensors: list[torch.Tensor]) -> None:
    offset = 0
    for t in tensors:
        t.copy_(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()


def _flat_all_reduce_mean(tensors: list[torch.Tensor]) -> None:
    flat = torch.cat([t.reshape(-1) for t in tensors])  # one collective instead of one per tensor
    dist.all_reduce(flat)
    _copy_back(flat / dist.get_world_size(), tensors)


def _flat_broadcast(tensors: list[torch.Tensor], src: int = 0) -> None:
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.broadcast(flat, src)
    _copy_back(flat, tensors)


class GANDDPStrategy(DDPStrategy):
    """DDP for GANs: gradients averaged per optimizer step; BatchNorm statistics follow rank 0 (as DDP's buffers do).

    Takes DDPStrategy's arguments. ``import lit_gans`` registers it under the names ``ddp`` and ``ddp_spawn``, so
    ``Trainer(strategy="ddp")``, ``--trainer.strategy ddp`` and ``devices > 1`` with the default strategy use it;
    pass ``GANDDPStrategy(...)`` as the strategy to set DDPStrategy's options yourself. A module that is not a
    lit_gans GAN (``GANModule``) is trained exactly as by Lightning's DDPStrategy: the registry entry changes nothing
    for it.
    """

    @property
    def _for_gan(self) -> bool:
        return isinstance(self.lightning_module, GANModule)

    def configure_ddp(self) -> None:
        if not self._for_gan:
            return super().configure_ddp()  # Lightning's DistributedDataParallel wrapper, as for any module
        # no DistributedDataParallel wrapper: start every rank from rank 0's weights and buffers
        for tensors in (list(self.model.parameters()), [b for b in self.model.buffers() if b.is_floating_point()]):
            if tensors:
                with torch.no_grad():
                    _flat_broadcast([t.data for t in tensors])

    def optimizer_step(self, optimizer, closure, model=None, **kwargs):
        if not self._for_gan:
            return super().optimizer_step(optimizer, closure, model, **kwargs)
        params = [p for group in optimizer.param_groups for p in group["params"]]

        def closure_then_average():
            # the closure computes the gradients (automatic optimization: forward and backward; manual: nothing, the
            # step already called manual_backward), so the average comes after it and before clipping and the step
            output = closure()
            grads = [p.grad for p in params if p.grad is not None]
            if grads and self.world_size > 1:
                _flat_all_reduce_mean(grads)
            return output

        output = super().optimizer_step(optimizer, closure_then_average, model, **kwargs)
        if self.world_size > 1:  # BatchNorm running stats: rank 0's, like DDP's broadcast_buffers
            # only the stepped network's own buffers: the other one may still be in a graph awaiting backward
            ids = {id(p) for p in params}
            owners = [m for m in self.lightning_module.modules() if any(id(p) in ids for p in m.parameters(False))]
            buffers = [b for m in owners for b in m.buffers(recurse=False) if b.is_floating_point()]
            if buffers:
                _flat_broadcast(buffers)
        return output


def register() -> None:
    """Makes ``ddp`` (by name, or chosen by Lightning for devices > 1) mean GANDDPStrategy, which is Lightning's
    DDPStrategy for every module that is not a lit_gans GAN."""
    for name, start_method in (("ddp", "popen"), ("ddp_spawn", "spawn")):
        StrategyRegistry.register(
            name, GANDDPStrategy, description="lit_gans DDP for GANs", override=True, start_method=start_method
        )
