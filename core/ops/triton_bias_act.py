"""Fused bias_act in Triton: one elementwise kernel forward, one backward, any order.

The activations are piecewise linear, so the forward keeps only its output y and the
derivative is read off y:

    dy/dx = gain * slope(y) * [|y| < clamp]
    slope(y) = 1 where y > 0, alpha where y <= 0 (at y == 0, i.e. x + b == 0 for lrelu and every
               x + b <= 0 for relu, this is PyTorch's leaky_relu/relu convention, which the
               reference path uses too).

The clamp mask is strict because y == ±clamp is where clamping saturated, as in the
reference's F.hardtanh.
The second derivative with respect to x is zero, so the backward is the same mask applied
to the incoming gradient, itself differentiable in that gradient.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

BLOCK = 1024


@triton.jit
def _bias_act_forward_kernel(
    x_ptr, b_ptr, y_ptr, numel, channel_stride, channels, alpha, gain, clamp,
    HAS_BIAS: tl.constexpr, HAS_CLAMP: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr,
):
    """y = clamp(act(x + b[channel]) * gain); x and y share one dense layout, walked in memory order."""
    offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offsets < numel
    v = tl.load(x_ptr + offsets, mask=inside).to(COMPUTE)
    if HAS_BIAS:
        channel = (offsets // channel_stride) % channels
        v += tl.load(b_ptr + channel, mask=inside).to(COMPUTE)
    v = tl.where(v >= 0, v, v * alpha) * gain
    if HAS_CLAMP:
        v = tl.minimum(tl.maximum(v, -clamp), clamp)
    tl.store(y_ptr + offsets, v.to(y_ptr.dtype.element_ty), mask=inside)


@triton.jit
def _bias_act_grad_kernel(
    g_ptr, y_ptr, out_ptr, numel, alpha, gain, clamp,
    HAS_CLAMP: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr,
):
    """out = g * gain * slope(y) * [|y| < clamp]; g, y and out share one dense layout."""
    offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offsets < numel
    g = tl.load(g_ptr + offsets, mask=inside).to(COMPUTE)
    y = tl.load(y_ptr + offsets, mask=inside).to(COMPUTE)
    g = tl.where(y > 0, g, g * alpha) * gain
    if HAS_CLAMP:
        g = tl.where(tl.abs(y) < clamp, g, 0.0)
    tl.store(out_ptr + offsets, g.to(out_ptr.dtype.element_ty), mask=inside)


def _is_dense(x: Tensor) -> bool:
    """Whether x's elements fill a block of memory without gaps or overlaps (any dim order)."""
    expected = 1
    for size, stride in sorted(zip(x.shape, x.stride()), key=lambda pair: pair[1]):
        if size == 1:
            continue
        if stride != expected:
            return False
        expected *= size
    return True


def _with_layout(t: Tensor, like: Tensor) -> Tensor:
    """t with exactly like's strides (a copy unless it already has them)."""
    if t.stride() == like.stride():
        return t
    return torch.empty_strided(like.shape, like.stride(), dtype=t.dtype, device=t.device).copy_(t)


def _compute_dtype(x: Tensor) -> tl.dtype:
    return tl.float64 if x.dtype == torch.float64 else tl.float32


def _grid(numel: int) -> tuple[int]:
    return (triton.cdiv(numel, BLOCK),)


class _BiasActGrad(torch.autograd.Function):
    """(dy, y) -> dy * dy/dx read off y; linear in dy, constant in y."""

    @staticmethod
    def forward(ctx, dy: Tensor, y: Tensor, alpha: float, gain: float, clamp: float | None) -> Tensor:
        ctx.save_for_backward(y)
        ctx.params = (alpha, gain, clamp)
        dy = _with_layout(dy.to(y.dtype), y)
        dx = torch.empty_like(y)
        if y.numel() > 0:
            _bias_act_grad_kernel[_grid(y.numel())](
                dy, y, dx, y.numel(), alpha, gain, 0.0 if clamp is None else clamp,
                HAS_CLAMP=clamp is not None, COMPUTE=_compute_dtype(y), BLOCK=BLOCK,
            )
        return dx

    @staticmethod
    def backward(ctx, ddx: Tensor) -> tuple[Tensor, None, None, None, None]:
        (y,) = ctx.saved_tensors
        return _BiasActGrad.apply(ddx, y, *ctx.params), None, None, None, None


class _BiasAct(torch.autograd.Function):
    """(x, b) -> y = clamp(act(x + b) * gain), saving only y."""

    @staticmethod
    def forward(
        ctx, x: Tensor, b: Tensor | None, dim: int, alpha: float, gain: float, clamp: float | None
    ) -> Tensor:
        if not _is_dense(x):
            x = x.contiguous()
        y = torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device=x.device)
        if x.numel() > 0:
            _bias_act_forward_kernel[_grid(x.numel())](
                x, b.contiguous() if b is not None else x, y, x.numel(), x.stride(dim), x.shape[dim],
                alpha, gain, 0.0 if clamp is None else clamp,
                HAS_BIAS=b is not None, HAS_CLAMP=clamp is not None, COMPUTE=_compute_dtype(x), BLOCK=BLOCK,
            )
        ctx.save_for_backward(y)
        ctx.params = (dim, alpha, gain, clamp)
        ctx.b_dtype = None if b is None else b.dtype
        return y

    @staticmethod
    def backward(ctx, dy: Tensor) -> tuple[Tensor | None, Tensor | None, None, None, None, None]:
        (y,) = ctx.saved_tensors
        dim, alpha, gain, clamp = ctx.params
        dx = _BiasActGrad.apply(dy, y, alpha, gain, clamp)
        db = None
        if ctx.needs_input_grad[1]:
            other_dims = [d for d in range(dx.ndim) if d != dim]
            accumulate = torch.promote_types(dx.dtype, torch.float32)
            db = dx.sum(other_dims, dtype=accumulate).to(ctx.b_dtype)
        return (dx if ctx.needs_input_grad[0] else None), db, None, None, None, None


def bias_act_fused(
    x: Tensor, b: Tensor | None, dim: int, alpha: float, gain: float, clamp: float | None
) -> Tensor:
    """x: (N, C, ...) float, b: (C,) along `dim` or None -> y like x (same memory format).

    Same values and derivatives as `bias_act_reference`, up to the tie conventions at
    y == 0 and |y| == clamp described in this module's docstring.
    """
    assert clamp is None or clamp >= 0, clamp
    return _BiasAct.apply(x, b, dim % x.ndim, float(alpha), float(gain), None if clamp is None else float(clamp))
