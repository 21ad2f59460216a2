"""Random parameter initialisation that other threads cannot disturb (DESIGN §3.1).

Modules draw their initial weights with `normal`. Inside `seeded_initialization(seed)` the draws
come from a CPU generator private to the current thread, so two models built with the same seed
get identical weights whatever other threads draw meanwhile; outside it they come from torch's
default generator, as `torch.randn` would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

_local = threading.local()


@contextmanager
def seeded_initialization(seed: int) -> Iterator[None]:
    """Within the block, `normal` on this thread draws from a CPU generator seeded with `seed`.

    Blocks nest; on exit the thread's previous generator (or none) is restored.
    """
    previous = getattr(_local, "generator", None)
    _local.generator = torch.Generator().manual_seed(seed)
    try:
        yield
    finally:
        _local.generator = previous


def normal(*shape: int) -> Tensor:
    """A standard normal CPU tensor of `shape`, from this thread's initialisation generator when one is set."""
    return torch.randn(*shape, generator=getattr(_local, "generator", None))
