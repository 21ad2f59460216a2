"""Fused bias + activation + gain (+ clamp): y = clamp(act(x + b) * gain, -c, c).

Only piecewise-linear activations are offered (`linear`, `relu`, `lrelu`), which is all
StyleGAN2 needs; their derivative can be read off the output, so the fused path keeps
no copy of the input and supports derivatives of any order. At exactly x + b = 0 the slope
is alpha (PyTorch's convention for relu and leaky_relu), on both paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from . import backend


@dataclass(frozen=True)
class Activation:
    """A piecewise-linear activation: slope 1 for x > 0 and `alpha` otherwise."""

    alpha: float
    default_gain: float


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(alpha=1.0, default_gain=1.0),
    "relu": Activation(alpha=0.0, default_gain=math.sqrt(2)),
    "lrelu": Activation(alpha=0.2, default_gain=math.sqrt(2)),
}


def bias_act(
    x: Tensor,
    b: Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
    impl: str = "auto",
) -> Tensor:
    """Add a per-channel bias, apply an activation, scale by `gain`, clamp to ±`clamp`.

    x: (N, C, ...) any float dtype; b: (C,) indexed along `dim` -> same shape as x.
    `alpha` overrides the activation's negative slope and `gain` its default gain.
    `impl` is "auto" (fused on CUDA when available), "reference" or "fused".
    """
    spec = ACTIVATIONS[act]
    alpha = spec.alpha if alpha is None else float(alpha)
    gain = spec.default_gain if gain is None else float(gain)
    if b is not None:
        assert b.ndim == 1 and b.shape[0] == x.shape[dim], (tuple(b.shape), tuple(x.shape), dim)
    assert impl in backend.IMPLEMENTATIONS, impl
    if impl == "fused" or (impl == "auto" and backend.use_fused(x)):
        from .triton_bias_act import bias_act_fused

        return bias_act_fused(x, b, dim, alpha, gain, clamp)
    return bias_act_reference(x, b, dim, alpha, gain, clamp)


def bias_act_reference(
    x: Tensor, b: Tensor | None, dim: int, alpha: float, gain: float, clamp: float | None
) -> Tensor:
    """Plain-PyTorch bias_act on any device and dtype; autograd gives every derivative.

    The clamp is F.hardtanh: one kernel forward and one backward (torch.clamp's backward takes
    four, which made it a tenth of a CPU training step), with the fused op's strict mask.
    """
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + b.to(x.dtype).reshape(shape)
    if alpha != 1.0:
        x = F.leaky_relu(x, alpha)
    if gain != 1.0:
        x = x * gain
    if clamp is not None:
        x = F.hardtanh(x, -clamp, clamp)
    return x
