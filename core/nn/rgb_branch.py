"""The RGB branch of the F&W+ latent space (the paper's Eq. 3, Fig. 2b, DESIGN §3.3).

It reads (I_m, M) at full resolution and produces, for every synthesis resolution, a feature
map with the generator's channel count there, which the generator adds to its own feature
map. The output convolutions start at zero, so a fresh branch leaves the generator's image
exactly unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .config import RGBBranchConfig, channel_table
from .layers import ConvLayer


class RGBBranch(nn.Module):
    """(I_m, M): (N, 4, R, R) -> [(N, C_G[4], 4, 4), (N, C_G[8], 8, 8), ..., (N, C_G[R], R, R)]."""

    def __init__(self, config: RGBBranchConfig, generator_channels: dict[int, int], blur_kernel: Sequence[int] = (1, 3, 3, 1)) -> None:
        super().__init__()
        self.resolution = max(generator_channels)
        ch = channel_table(config.channel_base, config.channel_max, self.resolution)
        resolutions = list(ch)[::-1]
        self.stem = ConvLayer(4, ch[self.resolution], 3)
        self.downs = nn.ModuleList(ConvLayer(ch[res], ch[res // 2], 3, down=True, blur_kernel=blur_kernel) for res in resolutions[:-1])
        self.outputs = nn.ModuleList(ConvLayer(ch[res], generator_channels[res], 1, activate=False) for res in resolutions)
        for layer in self.outputs:
            nn.init.zeros_(layer.weight)

    def forward(self, x: Tensor) -> list[Tensor]:
        r = self.resolution
        assert x.shape[1:] == (4, r, r), (tuple(x.shape), r)
        x = self.stem(x)
        features = [self.outputs[0](x)]
        for down, output in zip(self.downs, self.outputs[1:]):
            x = down(x)
            features.append(output(x))
        return features[::-1]
