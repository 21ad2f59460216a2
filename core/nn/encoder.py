"""The InvertFill encoder E (the paper's Fig. 2a, DESIGN §3.2).

(I_m, M) -> residual backbone -> feature pyramid P_coarse (R/16), P_mid (R/8), P_fine (R/4).
On each level: a map2style block gives w′_r, an RGB head gives O_E^r, and (for
pre-modulation) a map2structure block turns O_E^r into the structure vector S_r.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from core.ops import setup_filter, upsample2d

from .config import EncoderConfig, channel_table
from .layers import ConvLayer, EqualLinear, ResBlock

PYRAMID_SCALES = (16, 8, 4)
"""Downsampling factor of the pyramid levels, coarse to fine: O_E¹ is R/16, O_E² R/8, O_E³ R/4."""


class Map2Style(nn.Module):
    """log2(S) stride-2 convs down to 1×1, then a linear layer (pSp's map2style).

    x: (N, in_channels, S, S) -> (N, out_features)
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_features: int, spatial: int, blur_kernel: Sequence[int]) -> None:
        super().__init__()
        steps = int(math.log2(spatial))
        widths = [in_channels] + [hidden_channels] * steps
        self.convs = nn.Sequential(
            *(ConvLayer(widths[i], widths[i + 1], 3, down=True, blur_kernel=blur_kernel) for i in range(steps))
        )
        self.linear = EqualLinear(widths[-1], out_features)
        self.spatial = spatial

    def forward(self, x: Tensor) -> Tensor:
        assert x.shape[-1] == self.spatial, (tuple(x.shape), self.spatial)
        return self.linear(self.convs(x).flatten(1))


@dataclass
class EncoderOutput:
    """What the encoder hands to pre-modulation and to the losses.

    styles: w′ (N, 3, style_dim), coarse to fine.
    structure: S (N, 3, style_dim), coarse to fine; None without pre-modulation.
    images: O_E¹ (N, 3, R/16, R/16), O_E² (N, 3, R/8, R/8), O_E³ (N, 3, R/4, R/4).
    """

    styles: Tensor
    structure: Tensor | None
    images: tuple[Tensor, Tensor, Tensor]


class Encoder(nn.Module):
    """(I_m, M): (N, 4, R, R) -> EncoderOutput. Backbone widths min(channel_base // res, channel_max)."""

    def __init__(
        self,
        config: EncoderConfig,
        resolution: int,
        style_dim: int,
        with_structure: bool = True,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        self.resolution = resolution
        ch = channel_table(config.channel_base, config.channel_max, resolution, lowest=resolution // max(PYRAMID_SCALES))
        self.register_buffer("resample_filter", setup_filter(blur_kernel), persistent=False)
        self.stem = ConvLayer(4, ch[resolution], 3)
        self.stages = nn.ModuleList()
        res = resolution
        while res > resolution // max(PYRAMID_SCALES):
            blocks = [ResBlock(ch[res], ch[res // 2], blur_kernel=blur_kernel)]
            blocks += [ResBlock(ch[res // 2], ch[res // 2], down=False) for _ in range(config.blocks_per_stage - 1)]
            self.stages.append(nn.Sequential(*blocks))
            res //= 2
        fpn = config.fpn_channels
        sizes = [resolution // s for s in PYRAMID_SCALES]
        self.laterals = nn.ModuleList(ConvLayer(ch[size], fpn, 1, activate=False) for size in sizes)
        self.map2style = nn.ModuleList(Map2Style(fpn, fpn, style_dim, size, blur_kernel) for size in sizes)
        self.rgb_heads = nn.ModuleList(ConvLayer(fpn, 3, 1, activate=False) for _ in sizes)
        self.map2structure = (
            nn.ModuleList(Map2Style(3, config.structure_channels, style_dim, size, blur_kernel) for size in sizes)
            if with_structure
            else None
        )

    def forward(self, x: Tensor) -> EncoderOutput:
        r = self.resolution
        assert x.shape[1:] == (4, r, r), (tuple(x.shape), r)
        x = self.stem(x)
        backbone = {}
        for depth, stage in enumerate(self.stages, 1):
            x = stage(x)
            backbone[2**depth] = x
        pyramid = []
        for scale, lateral in zip(PYRAMID_SCALES, self.laterals):
            level = lateral(backbone[scale])
            if pyramid:
                level = level + upsample2d(pyramid[-1], self.resample_filter)
            pyramid.append(level)
        styles = torch.stack([block(p) for block, p in zip(self.map2style, pyramid)], dim=1)
        images = tuple(head(p) for head, p in zip(self.rgb_heads, pyramid))
        structure = None
        if self.map2structure is not None:
            structure = torch.stack([block(img) for block, img in zip(self.map2structure, images)], dim=1)
        return EncoderOutput(styles=styles, structure=structure, images=images)
