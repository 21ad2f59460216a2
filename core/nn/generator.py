"""StyleGAN2 generator: mapping network z -> w, synthesis network w+ -> image (DESIGN §3.1).

Style indices follow the widely shared rosinality layout, so that its checkpoints import:
conv at 4×4 -> w[0], its ToRGB -> w[1]; the block at resolution 2^(i+2), i = 1, 2, ...
uses w[2i-1] (upsampling conv), w[2i] (second conv) and w[2i+1] (ToRGB).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from . import random_init
from .config import GeneratorConfig
from .layers import EqualLinear, StyledConv, ToRGB, full_precision

NOISE_MODES = ("random", "const", "none")
"""Per-pixel noise of the synthesis: drawn afresh, the stored constant maps, or none."""


class MappingNetwork(nn.Module):
    """PixelNorm then equalized-lr MLP with leaky ReLU, in float32 even inside autocast.

    z: (N, style_dim) -> w: (N, style_dim) float32
    """

    def __init__(self, style_dim: int, num_layers: int, lr_mul: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            *(EqualLinear(style_dim, style_dim, lr_mul=lr_mul, activation="lrelu") for _ in range(num_layers))
        )

    def forward(self, z: Tensor) -> Tensor:
        with full_precision(z.device):
            z = z.float()
            z = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
            return self.layers(z)


class SynthesisBlock(nn.Module):
    """One resolution step: upsampling styled conv, styled conv, ToRGB with upsampled skip.

    x: (N, in_channels, R/2, R/2), ws: (N, 3, style_dim) -> x: (N, out_channels, R, R), rgb: (N, 3, R, R)
    """

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, resolution: int, config: GeneratorConfig) -> None:
        super().__init__()
        kernel, clamp = config.blur_kernel, config.conv_clamp
        self.conv0 = StyledConv(in_channels, out_channels, style_dim, resolution, up=True, blur_kernel=kernel, conv_clamp=clamp)
        self.conv1 = StyledConv(out_channels, out_channels, style_dim, resolution, blur_kernel=kernel, conv_clamp=clamp)
        self.to_rgb = ToRGB(out_channels, style_dim, blur_kernel=kernel, conv_clamp=clamp)

    def forward(
        self, x: Tensor, rgb: Tensor, ws: Tensor, noise: Sequence[Tensor | None], feature: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """noise: the two convolutions' noise maps (see StyledConv)."""
        x = self.conv0(x, ws[:, 0], noise[0])
        x = self.conv1(x, ws[:, 1], noise[1])
        if feature is not None:
            x = x + feature.to(x.dtype)
        return x, self.to_rgb(x, ws[:, 2], rgb)


class SynthesisNetwork(nn.Module):
    """Constant 4×4 input, a styled conv and ToRGB at 4×4, then one SynthesisBlock per resolution.

    ws: (N, L, style_dim) -> image (N, 3, resolution, resolution).
    `features` (the F&W+ RGB branch) holds one map per resolution 4, 8, ..., resolution with
    that resolution's channel count; each is added to the feature map at that resolution.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channels
        self.const = nn.Parameter(random_init.normal(1, ch[4], 4, 4))
        self.conv = StyledConv(ch[4], ch[4], config.style_dim, 4, blur_kernel=config.blur_kernel, conv_clamp=config.conv_clamp)
        self.to_rgb = ToRGB(ch[4], config.style_dim, blur_kernel=config.blur_kernel, conv_clamp=config.conv_clamp)
        self.blocks = nn.ModuleList(
            SynthesisBlock(ch[res // 2], ch[res], config.style_dim, res, config) for res in list(ch)[1:]
        )

    def styled_convs(self) -> list[StyledConv]:
        """The convolutions that take noise, in the order they run."""
        return [self.conv, *(conv for block in self.blocks for conv in (block.conv0, block.conv1))]

    def noise(self, n: int, noise_mode: str, generator: torch.Generator | None = None) -> list[Tensor | None]:
        """One noise map per styled conv for `noise_mode`: (n, 1, r, r) float32 drawn from `generator`
        ("random", in the order the convolutions run), the stored (1, 1, r, r) maps ("const"), or None ("none")."""
        assert noise_mode in NOISE_MODES, noise_mode
        convs = self.styled_convs()
        if noise_mode == "const":
            return [conv.noise_const for conv in convs]
        if noise_mode == "none":
            return [None] * len(convs)
        device = self.const.device
        return [torch.randn((n, 1, *conv.noise_const.shape[2:]), generator=generator, device=device) for conv in convs]

    def forward(
        self,
        ws: Tensor,
        noise_mode: str = "random",
        features: Sequence[Tensor] | None = None,
        generator: torch.Generator | None = None,
        noise: Sequence[Tensor | None] | None = None,
    ) -> Tensor:
        """Noise comes from `noise_mode` (random noise drawn from `generator`), or is given as `noise`:
        one map per styled conv, as `self.noise` returns."""
        n, num_styles, _ = ws.shape
        assert num_styles == self.config.num_styles, (tuple(ws.shape), self.config.num_styles)
        if features is not None:
            assert len(features) == len(self.blocks) + 1, (len(features), len(self.blocks) + 1)
        noise = self.noise(n, noise_mode, generator) if noise is None else noise
        assert len(noise) == 2 * len(self.blocks) + 1, (len(noise), 2 * len(self.blocks) + 1)
        x = self.conv(self.const.expand(n, -1, -1, -1).to(ws.dtype), ws[:, 0], noise[0])
        if features is not None:
            x = x + features[0].to(x.dtype)
        rgb = self.to_rgb(x, ws[:, 1])
        for i, block in enumerate(self.blocks):
            feature = None if features is None else features[i + 1]
            x, rgb = block(x, rgb, ws[:, 2 * i + 1 : 2 * i + 4], noise[2 * i + 1 : 2 * i + 3], feature)
        return rgb


class Generator(nn.Module):
    """StyleGAN2 generator. z: (N, style_dim) -> image (N, 3, resolution, resolution) in about [-1, 1]."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.mapping = MappingNetwork(config.style_dim, config.mapping_layers, config.mapping_lr_mul)
        self.synthesis = SynthesisNetwork(config)

    @property
    def num_styles(self) -> int:
        return self.config.num_styles

    def forward(
        self,
        z: Tensor,
        truncation: float = 1.0,
        truncation_latent: Tensor | None = None,
        mixing_prob: float = 0.0,
        noise_mode: str = "random",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """z: (N, style_dim) -> (N, 3, R, R); see `styles` for truncation and style mixing.

        Style mixing and noise are drawn from `generator`.
        """
        ws = self.styles(z, truncation, truncation_latent, mixing_prob, generator)
        return self.synthesis(ws, noise_mode, generator=generator)

    def styles(
        self,
        z: Tensor,
        truncation: float = 1.0,
        truncation_latent: Tensor | None = None,
        mixing_prob: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """z: (N, style_dim) -> w+: (N, L, style_dim).

        truncation ψ < 1 pulls w towards `truncation_latent` (required then, shape (style_dim,)).
        With probability `mixing_prob` a sample takes the styles of a second random z from a
        random crossover layer on (style mixing regularization); the second z, the crossover and
        the coin are drawn from `generator`.
        """
        w = self.mapping(z)
        ws = w[:, None].repeat(1, self.num_styles, 1)
        if mixing_prob > 0:
            n = z.shape[0]
            w_mix = self.mapping(torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype))
            crossover = torch.randint(1, self.num_styles, (n,), generator=generator, device=z.device)
            coin = torch.rand(n, generator=generator, device=z.device)
            crossover = torch.where(coin < mixing_prob, crossover, self.num_styles)
            later = torch.arange(self.num_styles, device=z.device)[None, :] >= crossover[:, None]
            ws = torch.where(later[:, :, None], w_mix[:, None], ws)
        if truncation != 1.0:
            if truncation_latent is None:
                raise ValueError("truncation < 1 needs a truncation_latent (see mean_latent)")
            ws = truncation_latent + truncation * (ws - truncation_latent)
        return ws

    @torch.no_grad()
    def mean_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Mean of mapping(z) over n random z: (style_dim,)."""
        device = self.synthesis.const.device
        z = torch.randn(n, self.config.style_dim, generator=generator, device=device)
        return self.mapping(z).mean(0)
