"""The InvertFill model: encoder + pre-modulation + F&W+ generator + soft-update mean latent.

O_G = G(w*, RGBBranch(I_m, M)) with w* = PreModulation(E(I_m, M), w̄)   (the paper's Eq. 1 and 3)
The composition I_m ⊙ (1 − M) + O_G ⊙ M satisfies the hard constraint by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .config import InvertFillConfig
from .encoder import Encoder
from .generator import Generator
from .pre_modulation import PreModulation, style_levels
from .rgb_branch import RGBBranch
from .soft_mean_latent import SoftMeanLatent


@dataclass
class InvertFillOutput:
    """output: O_G (N, 3, R, R); composite: I_m ⊙ (1 − M) + O_G ⊙ M (N, 3, R, R);
    encoder_images: O_E¹..³ at R/16, R/8, R/4; latents: w* (N, L, style_dim)."""

    output: Tensor
    composite: Tensor
    encoder_images: tuple[Tensor, Tensor, Tensor]
    latents: Tensor


def compose(image: Tensor, output: Tensor, mask: Tensor) -> Tensor:
    """I ⊙ (1 − M) + O ⊙ M for a binary mask, exact at known pixels even for a non-finite output.

    image, output: (N, 3, H, W); mask: (N, 1, H, W), 1 = hole.
    """
    return torch.where(mask > 0.5, output.to(image.dtype), image)


class InvertFill(nn.Module):
    """(I_m, M) -> InvertFillOutput. Images in [-1, 1]; mask 1 = hole, 0 = known (DESIGN §2).

    A fresh model gives w* = w̄ exactly and leaves the generator's features unchanged, so stage 2
    starts from the frozen generator's own mean image: pre-modulation's γ and β start at zero
    (without pre-modulation, map2style's last linear layers do) and so do the RGB branch's outputs.
    """

    def __init__(self, config: InvertFillConfig) -> None:
        super().__init__()
        self.config = config
        g = config.generator
        self.generator = Generator(g)
        self.encoder = Encoder(config.encoder, g.resolution, g.style_dim, with_structure=config.premod, blur_kernel=g.blur_kernel)
        self.pre_modulation = PreModulation(g.num_styles, g.style_dim) if config.premod else None
        if self.pre_modulation is None:
            for block in self.encoder.map2style:
                nn.init.zeros_(block.linear.weight)
        self.levels = style_levels(g.num_styles)
        self.rgb_branch = RGBBranch(config.rgb_branch, g.channels, g.blur_kernel) if config.latent_space == "fw+" else None
        sml = config.soft_mean_latent
        self.soft_mean_latent = SoftMeanLatent(
            g.style_dim,
            tau=sml.tau if config.sml else 0.0,
            samples=sml.samples if config.sml else sml.static_samples,
            tolerance=sml.tolerance,
        )

    def forward(
        self,
        image_masked: Tensor,
        mask: Tensor,
        noise_mode: str = "random",
        mean_latent: Tensor | None = None,
        generator: torch.Generator | None = None,
        noise: Sequence[Tensor | None] | None = None,
    ) -> InvertFillOutput:
        """image_masked: (N, 3, R, R), mask: (N, 1, R, R) -> InvertFillOutput.

        `mean_latent` (style_dim,) replaces the stored w̄, e.g. a freshly sampled one for a variation.
        The generator's random noise is drawn from `generator`, or given as `noise` (SynthesisNetwork.noise).
        """
        r = self.config.resolution
        assert image_masked.shape[1:] == (3, r, r) and mask.shape[1:] == (1, r, r), (tuple(image_masked.shape), tuple(mask.shape))
        known = image_masked * (1 - mask)
        x = torch.cat([known, mask.to(known.dtype)], dim=1)
        encoded = self.encoder(x)
        mean_latent = self.soft_mean_latent.value if mean_latent is None else mean_latent
        if self.pre_modulation is not None:
            latents = self.pre_modulation(encoded.styles, encoded.structure, mean_latent)
        else:
            latents = encoded.styles[:, self.levels] + mean_latent
        features = self.rgb_branch(x) if self.rgb_branch is not None else None
        output = self.generator.synthesis(latents, noise_mode, features, generator, noise)
        return InvertFillOutput(output, compose(known, output, mask), encoded.images, latents)

    def freeze_generator(self) -> None:
        """Stage 2: the pretrained generator's weights take no gradient."""
        self.generator.requires_grad_(False)

    @torch.no_grad()
    def reset_mean_latent(self, generator: torch.Generator | None = None, mean_latent: Tensor | None = None) -> None:
        """Draw the mean latents from the generator's mapping network (before stage 2); the online
        one starts at `mean_latent` (style_dim,) instead when the GAN came with one (pSp's latent_avg)."""
        self.soft_mean_latent.reset(self.generator.mapping, generator, mean_latent)
