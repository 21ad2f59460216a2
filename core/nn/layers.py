"""Building blocks shared by the generator, the discriminator, the encoder and the RGB branch.

Weights use the equalized learning rate of StyleGAN: parameters are drawn from N(0, 1/lr_mul)
and scaled at run time by lr_mul / sqrt(fan_in). Biases and activations go through the fused
`bias_act` op; resampling goes through the FIR `upfirdn2d` op.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.ops import ACTIVATIONS, bias_act, setup_filter, upfirdn2d, upsample2d

from . import random_init

def full_precision(device: torch.device):
    """A region that runs in float32 even inside autocast (mapping, styles, demodulation)."""
    return torch.autocast(device.type, enabled=False)


class EqualLinear(nn.Module):
    """Fully connected layer with equalized learning rate; optional fused leaky ReLU.

    x: (N, in_features) -> (N, out_features)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: str = "linear",
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(random_init.normal(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init))) if bias else None
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        x = F.linear(x, (self.weight * self.scale).to(x.dtype))
        bias = None if self.bias is None else self.bias * self.lr_mul
        return bias_act(x, bias, act=self.activation)


class ConvLayer(nn.Module):
    """Equalized-lr conv, optionally preceded by FIR blur and stride 2, then bias + leaky ReLU.

    x: (N, in_channels, H, W) -> (N, out_channels, H, W), or H/2 × W/2 with `down=True`.
    The activation's gain g and the bias go into the convolution, which adds the bias in its own
    pass: lrelu(g·(Wx + b)) = g·lrelu(Wx + b) for g > 0, so one activation pass remains instead of
    three (bias, activation, gain), in the forward and the backward.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        down: bool = False,
        activate: bool = True,
        bias: bool = True,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(random_init.normal(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.down = down
        self.activation = "lrelu" if activate else "linear"
        self.conv_clamp = conv_clamp
        if down:
            self.register_buffer("blur_filter", setup_filter(blur_kernel), persistent=False)
            p = len(blur_kernel) - 2 + kernel_size - 1
            self.blur_padding = ((p + 1) // 2, p // 2)
        self.padding = 0 if down else kernel_size // 2

    def forward(self, x: Tensor) -> Tensor:
        if self.down:
            x = upfirdn2d(x, self.blur_filter, padding=self.blur_padding * 2)
        gain = ACTIVATIONS[self.activation].default_gain
        weight = (self.weight * (self.scale * gain)).to(x.dtype)
        bias = None if self.bias is None else (self.bias * gain).to(x.dtype)
        x = F.conv2d(x, weight, bias, stride=2 if self.down else 1, padding=self.padding)
        return bias_act(x, act=self.activation, gain=1.0, clamp=self.conv_clamp)


class ResBlock(nn.Module):
    """Residual block (conv, conv) + skip, scaled by 1/√2; halves the resolution with `down`.

    x: (N, in_channels, H, W) -> (N, out_channels, H/2, W/2), or (H, W) without `down`.
    The skip is a 1×1 conv (after blur and stride 2 with `down`), or the identity where shapes agree;
    `conv_clamp` applies to the two convs, not to the skip.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        down: bool = True,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, conv_clamp=conv_clamp)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, down=down, blur_kernel=blur_kernel, conv_clamp=conv_clamp)
        self.skip = (
            ConvLayer(in_channels, out_channels, 1, down=down, activate=False, bias=False, blur_kernel=blur_kernel)
            if down or in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: Tensor) -> Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) * (1 / math.sqrt(2))


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated (and demodulated) convolution, optionally upsampling 2×.

    Modulation scales the input channels by s = affine(w) and demodulation scales the output
    channels by 1/‖W·s‖, which equals a per-sample weight W'_oi = W_oi·s_i / ‖W_o·s‖.
    Styles and demodulation coefficients are computed in fp32 (autocast off) whatever the
    activations' dtype; only the convolution runs in the activations' (or autocast's) dtype.
    x: (N, in_channels, H, W), w: (N, style_dim) -> (N, out_channels, H, W) or (2H, 2W) with up.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        up: bool = False,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(random_init.normal(out_channels, in_channels, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.demodulate = demodulate
        self.up = up
        if up:
            self.register_buffer("blur_filter", setup_filter(blur_kernel), persistent=False)
            p = len(blur_kernel) - 2 - (kernel_size - 1)
            self.blur_padding = ((p + 1) // 2 + 1, p // 2 + 1)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        with full_precision(x.device):
            styles = self.modulation(w.float())
            weight = self.weight.float() * self.scale
            if self.demodulate:
                demod = torch.rsqrt(styles.square() @ weight.square().sum([2, 3]).t() + 1e-8)
        x = x * styles.to(x.dtype)[:, :, None, None]
        if self.up:
            x = F.conv_transpose2d(x, weight.transpose(0, 1).to(x.dtype), stride=2)
            x = upfirdn2d(x, self.blur_filter, padding=self.blur_padding * 2, gain=4)
        else:
            x = F.conv2d(x, weight.to(x.dtype), padding=self.weight.shape[-1] // 2)
        if self.demodulate:
            x = x * demod.to(x.dtype)[:, :, None, None]
        return x


class StyledConv(nn.Module):
    """Modulated conv + per-pixel noise (learned strength) + bias + leaky ReLU.

    x: (N, in_channels, H, W), w: (N, style_dim) -> (N, out_channels, resolution, resolution)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        style_dim: int,
        resolution: int,
        up: bool = False,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, style_dim, up=up, blur_kernel=blur_kernel)
        self.noise_strength = nn.Parameter(torch.zeros(1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("noise_const", random_init.normal(1, 1, resolution, resolution))
        self.conv_clamp = conv_clamp

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None = None) -> Tensor:
        """noise: (N or 1, 1, resolution, resolution), scaled by the learned strength, or None for none."""
        x = self.conv(x, w)
        if noise is not None:
            x = x + (self.noise_strength * noise).to(x.dtype)
        return bias_act(x, self.bias, act="lrelu", clamp=self.conv_clamp)


class ToRGB(nn.Module):
    """1×1 modulated conv (no demodulation) to RGB, plus the FIR-upsampled RGB of the block below.

    x: (N, in_channels, H, W), w: (N, style_dim), skip: (N, 3, H/2, W/2) or None -> (N, 3, H, W)
    """

    def __init__(
        self,
        in_channels: int,
        style_dim: int,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(3))
        self.register_buffer("blur_filter", setup_filter(blur_kernel), persistent=False)
        self.conv_clamp = conv_clamp

    def forward(self, x: Tensor, w: Tensor, skip: Tensor | None = None) -> Tensor:
        x = bias_act(self.conv(x, w), self.bias, clamp=self.conv_clamp)
        if skip is not None:
            x = x + upsample2d(skip.to(x.dtype), self.blur_filter)
        return x
