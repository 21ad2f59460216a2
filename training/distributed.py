"""Data-parallel training under `torchrun`: process group, rank, gradient and value averaging.

Gradients are averaged by hand after each backward (rather than by a DDP wrapper), which keeps
the lazy R1 and path-length passes, with their double backward, simple and correct.
NCCL on GPUs, gloo on the CPU. Without torchrun's variables this is a single process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from core.engine.device import resolve_device


@dataclass(frozen=True)
class DistributedContext:
    """This process's rank in `world_size` ranks and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes logs, samples and checkpoints."""
        return self.rank == 0

    def average(self, value: Tensor) -> Tensor:
        """The mean of a tensor over all ranks (the tensor itself in a single process)."""
        if self.world_size == 1:
            return value
        value = value.clone()
        dist.all_reduce(value)
        return value / self.world_size

    def sum(self, value: Tensor) -> Tensor:
        """The sum of a tensor over all ranks."""
        if self.world_size == 1:
            return value
        value = value.clone()
        dist.all_reduce(value)
        return value

    def average_gradients(self, parameters: Iterable[nn.Parameter]) -> None:
        """Average the gradients of `parameters` over ranks in one all-reduce (missing ones count as 0)."""
        if self.world_size == 1:
            return
        params = [p for p in parameters if p.requires_grad]
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for p in params:
            p.grad = flat[offset : offset + p.numel()].view_as(p).clone()
            offset += p.numel()

    def broadcast(self, module: nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every rank."""
        if self.world_size == 1:
            return
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the process group that torchrun describes in WORLD_SIZE / RANK / LOCAL_RANK, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    chosen = resolve_device(device)
    if world_size == 1:
        return DistributedContext(0, 1, chosen)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo", rank=rank, world_size=world_size)
    return DistributedContext(rank, world_size, chosen)


def shutdown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
