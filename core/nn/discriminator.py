"""StyleGAN2 residual discriminator with minibatch standard deviation (DESIGN §3.1)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .config import DiscriminatorConfig
from .layers import ConvLayer, EqualLinear, ResBlock


def minibatch_stddev(x: Tensor, group_size: int) -> Tensor:
    """Append the mean std over groups of samples as one extra channel.

    x: (N, C, H, W) -> (N, C + 1, H, W). The group is the largest size ≤ group_size dividing N.
    """
    n, c, h, w = x.shape
    group = min(group_size, n)
    while n % group:
        group -= 1
    y = x.reshape(group, n // group, c, h, w).float()
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=[1, 2, 3])
    y = y.reshape(1, n // group, 1, 1, 1).expand(group, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y.to(x.dtype)], dim=1)


class Discriminator(nn.Module):
    """image (N, 3, R, R) in [-1, 1] -> real/fake logits (N, 1)."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channels
        resolutions = list(ch)[::-1]
        clamp = config.conv_clamp
        self.from_rgb = ConvLayer(3, ch[config.resolution], 1, conv_clamp=clamp)
        self.blocks = nn.ModuleList(
            ResBlock(ch[res], ch[res // 2], blur_kernel=config.blur_kernel, conv_clamp=clamp) for res in resolutions[:-1]
        )
        self.final_conv = ConvLayer(ch[4] + 1, ch[4], 3, conv_clamp=clamp)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 16, ch[4], activation="lrelu"), EqualLinear(ch[4], 1))

    def forward(self, image: Tensor) -> Tensor:
        r = self.config.resolution
        assert image.shape[1:] == (3, r, r), (tuple(image.shape), r)
        x = self.from_rgb(image)
        for block in self.blocks:
            x = block(x)
        x = self.final_conv(minibatch_stddev(x, self.config.mbstd_group))
        return self.final_linear(x.flatten(1))
