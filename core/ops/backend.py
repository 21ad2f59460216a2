"""Chooses between the plain-PyTorch reference path and the fused Triton path.

The fused path is taken automatically for CUDA tensors when Triton is importable.
Set `force_reference = True` (or use `reference_ops()`) to run the reference path
everywhere, e.g. to compare the two or to debug.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

import torch

force_reference: bool = False
IMPLEMENTATIONS = ("auto", "reference", "fused")


@functools.cache
def triton_available() -> bool:
    """True when the `triton` package can be imported (it ships with CUDA builds of PyTorch)."""
    return importlib.util.find_spec("triton") is not None


def use_fused(x: torch.Tensor) -> bool:
    """Whether an op on `x` takes the fused Triton path."""
    return not force_reference and x.is_cuda and triton_available()


@contextmanager
def reference_ops() -> Iterator[None]:
    """Run every op on the reference path inside this block."""
    global force_reference
    previous, force_reference = force_reference, True
    try:
        yield
    finally:
        force_reference = previous
