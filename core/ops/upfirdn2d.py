"""FIR resampling: upsample by zero insertion, pad, convolve with a 2-D FIR filter, downsample.

`upfirdn2d` is the general op; `upsample2d`, `downsample2d` and `blur2d` pick the padding
that keeps an image centred. Filters are 2-D tensors made by `setup_filter`; the
convolution is a true convolution (the filter is flipped) unless `flip_filter=True`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from . import backend

Padding = tuple[int, int, int, int]


def setup_filter(taps: Sequence[float] | Tensor, normalize: bool = True) -> Tensor:
    """1-D taps (k,) -> separable 2-D filter (k, k) as their outer product, summing to 1."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 1:
        f = f[:, None] * f[None, :]
    assert f.ndim == 2, f.shape
    if normalize:
        f = f / f.sum()
    return f


def _as_padding(padding: int | Sequence[int]) -> Padding:
    """int -> (p, p, p, p); (x, y) -> (x, x, y, y); (x0, x1, y0, y1) stays."""
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[0], padding[1], padding[1])
    assert len(padding) == 4, padding
    return tuple(padding)


def output_size(in_h: int, in_w: int, f: Tensor, up: int, down: int, padding: Padding) -> tuple[int, int]:
    """Spatial size of upfirdn2d's output."""
    px0, px1, py0, py1 = padding
    fh, fw = f.shape
    return ((in_h * up + py0 + py1 - fh + down) // down, (in_w * up + px0 + px1 - fw + down) // down)


def upfirdn2d(
    x: Tensor,
    f: Tensor,
    up: int = 1,
    down: int = 1,
    padding: int | Sequence[int] = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
    impl: str = "auto",
) -> Tensor:
    """x: (N, C, H, W), f: (fh, fw) -> (N, C, OH, OW), see `output_size`.

    padding is (x0, x1, y0, y1) in upsampled pixels; negative values crop.
    `impl` is "auto" (fused on CUDA when available), "reference" or "fused".
    """
    assert x.ndim == 4 and f.ndim == 2, (x.shape, f.shape)
    assert up >= 1 and down >= 1
    padding = _as_padding(padding)
    assert impl in backend.IMPLEMENTATIONS, impl
    if impl == "fused" or (impl == "auto" and backend.use_fused(x)):
        from .triton_upfirdn2d import upfirdn2d_fused

        return upfirdn2d_fused(x, f, up, down, padding, flip_filter, gain)
    return upfirdn2d_reference(x, f, up, down, padding, flip_filter, gain)


def upfirdn2d_reference(
    x: Tensor, f: Tensor, up: int, down: int, padding: Padding, flip_filter: bool, gain: float
) -> Tensor:
    """Plain-PyTorch upfirdn2d on any device and dtype; autograd gives every derivative.

    Symmetric zero padding is left to the convolution, which saves a padded copy of x.
    """
    n, c, h, w = x.shape
    px0, px1, py0, py1 = padding
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    symmetric = px0 == px1 >= 0 and py0 == py1 >= 0
    if not symmetric:
        x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
        x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    f = (f * gain).to(x.dtype)
    if not flip_filter:
        f = f.flip([0, 1])
    weight = f[None, None].repeat(c, 1, 1, 1)
    x = F.conv2d(x, weight, groups=c, padding=(py0, px0) if symmetric else 0)
    return x[:, :, ::down, ::down]


def upsample2d(x: Tensor, f: Tensor, up: int = 2, gain: float = 1.0, impl: str = "auto") -> Tensor:
    """x: (N, C, H, W) -> (N, C, H*up, W*up), filtered; the mean is kept (gain up²)."""
    fh, fw = f.shape
    padding = ((fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2)
    return upfirdn2d(x, f, up=up, padding=padding, gain=gain * up * up, impl=impl)


def downsample2d(x: Tensor, f: Tensor, down: int = 2, gain: float = 1.0, impl: str = "auto") -> Tensor:
    """x: (N, C, H, W) -> (N, C, H/down, W/down), low-pass filtered first."""
    fh, fw = f.shape
    padding = ((fw - down + 1) // 2, (fw - down) // 2, (fh - down + 1) // 2, (fh - down) // 2)
    return upfirdn2d(x, f, down=down, padding=padding, gain=gain, impl=impl)


def blur2d(x: Tensor, f: Tensor, padding: int | Sequence[int] = 0, gain: float = 1.0, impl: str = "auto") -> Tensor:
    """x: (N, C, H, W) -> filtered (N, C, H + p_y0 + p_y1, W + p_x0 + p_x1), centred."""
    px0, px1, py0, py1 = _as_padding(padding)
    fh, fw = f.shape
    padding = (px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2)
    return upfirdn2d(x, f, padding=padding, gain=gain, impl=impl)
