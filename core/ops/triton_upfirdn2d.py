"""Fused upfirdn2d in Triton: each output pixel is summed straight from the input.

With g the filter as applied by cross-correlation (f flipped unless flip_filter, times
gain) and z the zero-inserted input (z[a] = x[a / up] where up divides a), one axis reads

    y[o] = sum_i g[i] * z[o * down + i - pad0]

Only the taps i with (o * down + i - pad0) divisible by up can hit a nonzero of z, so the
kernel visits ceil(k / up) taps per axis (the polyphase form) and never builds z.

The op is linear in x; its adjoint is again an upfirdn2d: substituting m = o * down gives

    dx[n] = sum_m w[m] * g[n * up + pad0 - m],   w = dy zero-inserted by `down`,

which is the forward form with up and down swapped, the filter reversed (flip_filter
negated) and pad0' = k - 1 - pad0. The far padding pad1' makes the padded w exactly
(in - 1) * up + k long, so the adjoint's output has the input's size `in`:
pad1' = in * up - out * down + pad0 - up + 1. The backward calls the same Function, so
derivatives of every order are upfirdn2d's too.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .upfirdn2d import Padding, output_size

BLOCK = 256


@triton.jit
def _upfirdn2d_kernel(
    x_ptr, g_ptr, y_ptr,
    channels, in_h, in_w, out_h, out_w,
    sx_n, sx_c, sx_h, sx_w, sy_n, sy_c, sy_h, sy_w,
    numel, pad_x0, pad_y0,
    UP: tl.constexpr, DOWN: tl.constexpr, FH: tl.constexpr, FW: tl.constexpr,
    PHASE_X0: tl.constexpr, PHASE_Y0: tl.constexpr, CHANNELS_LAST: tl.constexpr,
    COMPUTE: tl.constexpr, BLOCK: tl.constexpr,
):
    """y[n, c, oy, ox] = sum_ij g[i, j] * z[n, c, oy * DOWN + i - pad_y0, ox * DOWN + j - pad_x0].

    z is x zero-inserted by UP, at (zy, zx); only taps with UP | zy and UP | zx are visited.
    PHASE_*0 = pad_*0 mod UP (non-negative); outputs are walked in y's memory order.
    """
    offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offsets < numel
    if CHANNELS_LAST:
        c = offsets % channels
        rest = offsets // channels
        ox = rest % out_w
        rest = rest // out_w
        oy = rest % out_h
        n = rest // out_h
    else:
        ox = offsets % out_w
        rest = offsets // out_w
        oy = rest % out_h
        rest = rest // out_h
        c = rest % channels
        n = rest // channels
    x_base = x_ptr + n * sx_n + c * sx_c
    first_i = (PHASE_Y0 + UP - (oy * DOWN) % UP) % UP
    first_j = (PHASE_X0 + UP - (ox * DOWN) % UP) % UP
    acc = tl.zeros([BLOCK], dtype=COMPUTE)
    for ti in tl.static_range((FH + UP - 1) // UP):
        i = first_i + ti * UP
        zy = oy * DOWN + i - pad_y0
        row = tl.where(zy >= 0, zy, 0) // UP
        row_ok = inside & (i < FH) & (zy >= 0) & (row < in_h)
        for tj in tl.static_range((FW + UP - 1) // UP):
            j = first_j + tj * UP
            zx = ox * DOWN + j - pad_x0
            col = tl.where(zx >= 0, zx, 0) // UP
            ok = row_ok & (j < FW) & (zx >= 0) & (col < in_w)
            tap = tl.load(g_ptr + i * FW + j, mask=ok, other=0.0)
            value = tl.load(x_base + row * sx_h + col * sx_w, mask=ok, other=0.0).to(COMPUTE)
            acc += tap * value
    tl.store(y_ptr + n * sy_n + c * sy_c + oy * sy_h + ox * sy_w, acc.to(y_ptr.dtype.element_ty), mask=inside)


def _launch(x: Tensor, f: Tensor, up: int, down: int, padding: Padding, flip_filter: bool, gain: float) -> Tensor:
    """x: (N, C, H, W), f: (fh, fw) -> (N, C, OH, OW) in x's memory format (channels_last or contiguous)."""
    n, c, h, w = x.shape
    px0, px1, py0, py1 = padding
    out_h, out_w = output_size(h, w, f, up, down, padding)
    assert out_h > 0 and out_w > 0, (tuple(x.shape), tuple(f.shape), up, down, padding)
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    g = f.to(device=x.device, dtype=compute) * gain
    g = (g if flip_filter else g.flip([0, 1])).contiguous()
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    y = torch.empty((n, c, out_h, out_w), dtype=x.dtype, device=x.device, memory_format=layout)
    if y.numel() > 0:
        _upfirdn2d_kernel[(triton.cdiv(y.numel(), BLOCK),)](
            x, g, y, c, h, w, out_h, out_w, *x.stride(), *y.stride(), y.numel(), px0, py0,
            UP=up, DOWN=down, FH=f.shape[0], FW=f.shape[1], PHASE_X0=px0 % up, PHASE_Y0=py0 % up,
            CHANNELS_LAST=channels_last, COMPUTE=tl.float64 if compute == torch.float64 else tl.float32,
            BLOCK=BLOCK,
        )
    return y


class _UpFirDn2d(torch.autograd.Function):
    """x -> upfirdn2d(x); the backward is the adjoint upfirdn2d, through this same Function."""

    @staticmethod
    def forward(
        ctx, x: Tensor, f: Tensor, up: int, down: int, padding: Padding, flip_filter: bool, gain: float
    ) -> Tensor:
        ctx.save_for_backward(f)
        ctx.params = (up, down, padding, flip_filter, gain)
        ctx.in_size = x.shape[2:]
        return _launch(x, f, up, down, padding, flip_filter, gain)

    @staticmethod
    def backward(ctx, dy: Tensor) -> tuple[Tensor, None, None, None, None, None, None]:
        (f,) = ctx.saved_tensors
        up, down, (px0, _, py0, _), flip_filter, gain = ctx.params
        in_h, in_w = ctx.in_size
        out_h, out_w = dy.shape[2:]
        fh, fw = f.shape
        adjoint_padding = (
            fw - 1 - px0,
            in_w * up - out_w * down + px0 - up + 1,
            fh - 1 - py0,
            in_h * up - out_h * down + py0 - up + 1,
        )
        dx = _UpFirDn2d.apply(dy, f, down, up, adjoint_padding, not flip_filter, gain)
        return dx, None, None, None, None, None, None


def upfirdn2d_fused(
    x: Tensor, f: Tensor, up: int, down: int, padding: Padding, flip_filter: bool, gain: float
) -> Tensor:
    """x: (N, C, H, W) float, f: (fh, fw) -> (N, C, OH, OW), same values as `upfirdn2d_reference`.

    The output keeps x's memory format; f gets no gradient (it is a fixed buffer).
    """
    assert x.ndim == 4 and f.ndim == 2, (x.shape, f.shape)
    padding = tuple(int(p) for p in padding)
    return _UpFirDn2d.apply(x, f.detach(), int(up), int(down), padding, bool(flip_filter), float(gain))
