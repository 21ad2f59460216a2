"""Stage-2 losses (the paper's Eq. 4–7, DESIGN §3.5).

L = L_valid + 6·L_hole + 0.05·L_perc + 120·L_style + 0.1·L_tv + λ_msr·L_msr + λ_fid·L_fid
The L1, perceptual, style and TV weights are those of the partial-convolution losses that RFR
and the paper follow; λ_msr = 1 and λ_fid = 0.01 are our choices (the paper gives none).
L1 terms are normalised by the whole tensor's size (as Liu et al. 2018), so a small hole
weighs less than a large one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from core.config import Serializable
from core.discriminator import Discriminator
from core.errors import InvertFillError
from core.invertfill import InvertFillOutput

from .vgg16 import load_vgg16

FeatureBackbone = Callable[[Tensor], list[Tensor]]
"""images (N, 3, H, W) in [-1, 1] -> a list of feature maps (N, C_k, H_k, W_k)."""
MIN_BACKBONE_SIZE = 32
"""Smaller images (the coarse O_E at R/16) are upsampled to this size before the backbone."""


@dataclass(frozen=True)
class LossWeights(Serializable):
    valid: float = 1.0
    hole: float = 6.0
    perceptual: float = 0.05
    style: float = 120.0
    tv: float = 0.1
    msr: float = 1.0
    fid: float = 0.01


class DiscriminatorFeatures(nn.Module):
    """Features of a frozen stage-1 discriminator: after from_rgb and its first three blocks."""

    def __init__(self, discriminator: Discriminator) -> None:
        super().__init__()
        self.discriminator = discriminator.eval().requires_grad_(False)

    def forward(self, images: Tensor) -> list[Tensor]:
        x = self.discriminator.from_rgb(images)
        features = [x]
        for block in self.discriminator.blocks[:3]:
            x = block(x)
            features.append(x)
        return features


def make_backbone(name: str, discriminator: Discriminator | None = None, vgg_path: str | None = None) -> nn.Module:
    """The perceptual backbone: "vgg16" (torchvision's weights file) or "discriminator"."""
    if name == "vgg16":
        return load_vgg16(vgg_path)
    if name == "discriminator":
        if discriminator is None:
            raise InvertFillError('the "discriminator" loss backbone needs a stage-1 checkpoint that holds a discriminator')
        return DiscriminatorFeatures(discriminator)
    raise InvertFillError(f'unknown loss backbone {name!r}; use "vgg16" or "discriminator"')


def l1_valid(output: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean |O − I| over known pixels (normalised by the whole tensor). mask (N, 1, H, W), 1 = hole."""
    return ((output - target) * (1 - mask)).abs().mean()


def l1_hole(output: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean |O − I| over hole pixels (normalised by the whole tensor)."""
    return ((output - target) * mask).abs().mean()


def gram(features: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C, C) Gram matrices normalised by C·H·W."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def _fit(images: Tensor) -> Tensor:
    if images.shape[-1] >= MIN_BACKBONE_SIZE:
        return images
    return F.interpolate(images, size=(MIN_BACKBONE_SIZE, MIN_BACKBONE_SIZE), mode="bilinear", align_corners=False)


def perceptual_and_style(backbone: FeatureBackbone, images: list[Tensor], target: Tensor) -> tuple[Tensor, Tensor]:
    """Σ over images and layers of ‖ψ(image) − ψ(target)‖₁ and of the Gram-matrix L1 distance."""
    target_features = [f.detach() for f in backbone(_fit(target))]
    perceptual = target.new_zeros(())
    style = target.new_zeros(())
    for image in images:
        for feature, reference in zip(backbone(_fit(image)), target_features):
            perceptual = perceptual + (feature - reference).abs().mean()
            style = style + (gram(feature.float()) - gram(reference.float())).abs().mean()
    return perceptual, style


def tv_loss(composite: Tensor, mask: Tensor) -> Tensor:
    """Total variation of the composition over the hole dilated by one pixel."""
    region = F.max_pool2d(mask, 3, stride=1, padding=1)
    dy = (composite[:, :, 1:] - composite[:, :, :-1]).abs() * region[:, :, 1:] * region[:, :, :-1]
    dx = (composite[:, :, :, 1:] - composite[:, :, :, :-1]).abs() * region[:, :, :, 1:] * region[:, :, :, :-1]
    return dy.mean() + dx.mean()


def msr_loss(backbone: FeatureBackbone, encoder_images: tuple[Tensor, ...], target: Tensor) -> Tensor:
    """Eq. 5: per scale r, perceptual + style + MSE between O_E^r and the target averaged down to its size."""
    total = target.new_zeros(())
    for image in encoder_images:
        small = F.adaptive_avg_pool2d(target, image.shape[-2:])
        perceptual, style = perceptual_and_style(backbone, [image], small)
        total = total + perceptual + style + F.mse_loss(image, small)
    return total


def fidelity_loss(latents: Tensor, mean_latent: Tensor) -> Tensor:
    """Eq. 6: ‖w* − w̄‖₂ over the flattened (L, D) codes, averaged over the batch."""
    return (latents - mean_latent).flatten(1).norm(dim=1).mean()


def inpainting_loss(
    out: InvertFillOutput, target: Tensor, mask: Tensor, backbone: FeatureBackbone, weights: LossWeights, mean_latent: Tensor
) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 7: the weighted total and each weighted term by name. target (N, 3, R, R), mask (N, 1, R, R)."""
    perceptual, style = perceptual_and_style(backbone, [out.output, out.composite], target)
    terms = {
        "valid": weights.valid * l1_valid(out.output, target, mask),
        "hole": weights.hole * l1_hole(out.output, target, mask),
        "perceptual": weights.perceptual * perceptual,
        "style": weights.style * style,
        "tv": weights.tv * tv_loss(out.composite, mask),
        "msr": weights.msr * msr_loss(backbone, out.encoder_images, target),
        "fid": weights.fid * fidelity_loss(out.latents, mean_latent),
    }
    return sum(terms.values()), terms
