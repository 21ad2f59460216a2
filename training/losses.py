"""Stage-2 losses: the paper's Eq. 4–7 (DESIGN §3.5).

L = L_valid + 6·L_hole + 0.05·L_perc + 120·L_style + 0.1·L_tv + λ_msr·L_msr + λ_fid·L_fid

Choices where the paper is silent (written down here, see also training.config.LossWeights):
- L1 terms are normalised by the number of elements of the whole tensor, as Liu et al. 2018
  (partial convolutions) do, so a term weighs in proportion to its region's size; TV likewise.
- Perceptual and style losses compare the output and the composition with the target on a
  pluggable FeatureBackbone: VGG16 pool1–pool3 (the paper's choice) or the first layers of the
  stage-1 discriminator. Without a backbone ("none", for a model kept without its discriminator)
  both terms, and L_msr's, are left out. The style loss is the L1 distance of Gram matrices normalised by C·H·W,
  computed in float32 even under autocast.
- L_msr (Eq. 5) gives its perceptual and style terms the same weights as L_ipt (0.05 and 120),
  reading the paper's unweighted L_perc^r, L_style^r like its unweighted Eq. 4; L_rec^r (MSE)
  has weight 1. Images smaller than MIN_BACKBONE_SIZE (O_E¹ is 2×2 at 32 px, 16×16 at 256 px)
  are upsampled bilinearly, together with their target, before the backbone; the MSE uses the
  images at their own size.
- L_fid = ‖w* − w̄‖₂ over the flattened L×D code, averaged over the batch (DESIGN §3.5).
Every term is finite and ≥ 0, and zero for a perfect fill (output = target), except L_fid
(zero when w* = w̄) and L_tv, which is a smoothness prior on the composition alone: it is zero
only where the composition is constant over the dilated hole.
"""

from __future__ import annotations

import math
import os
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.errors import InvertFillError
from core.nn.discriminator import Discriminator
from core.nn.invertfill import InvertFillOutput

from .config import BACKBONES, LossWeights
from .vgg16 import VGG16Features, load_vgg16

MIN_BACKBONE_SIZE = 32
"""Images with a side below this are upsampled (bilinear) to at least this size before a backbone."""


class FeatureBackbone(Protocol):
    """images (N, 3, H, W) in [-1, 1] -> feature maps [(N, C_k, H_k, W_k), ...]; frozen."""

    def __call__(self, images: Tensor) -> list[Tensor]: ...


class DiscriminatorFeatures(nn.Module):
    """A stage-1 discriminator as a loss backbone: images (N, 3, H, W) in [-1, 1] ->
    [from_rgb (N, C, H, W), block 1 (N, C1, H/2, W/2), block 2 (.., H/4, ..), block 3 (.., H/8, ..)].

    Freezes the given discriminator in place (no gradients to its weights, eval mode); needs no
    external file. H, W ≥ 8.
    """

    def __init__(self, discriminator: Discriminator) -> None:
        super().__init__()
        self.discriminator = discriminator.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> DiscriminatorFeatures:
        """Stays in eval mode whatever a containing module asks."""
        return super().train(False)

    def forward(self, images: Tensor) -> list[Tensor]:
        assert images.ndim == 4 and images.shape[1] == 3, tuple(images.shape)
        x = self.discriminator.from_rgb(images)
        features = [x]
        for block in self.discriminator.blocks[:3]:
            x = block(x)
            features.append(x)
        return features


def make_backbone(
    name: str, discriminator: Discriminator | None = None, vgg_path: str | os.PathLike[str] | None = None
) -> VGG16Features | DiscriminatorFeatures | None:
    """The perceptual/style backbone: "vgg16" (torchvision's weights file at vgg_path or in the
    torch hub cache), "discriminator" (the given stage-1 discriminator) or "none" (None: no
    perceptual or style terms)."""
    if name == "vgg16":
        return load_vgg16(vgg_path)
    if name == "discriminator":
        if discriminator is None:
            raise InvertFillError(
                'the "discriminator" loss backbone needs a checkpoint that holds a discriminator; '
                'use "none" (no perceptual or style terms) or "vgg16" with torchvision\'s VGG16 file otherwise'
            )
        return DiscriminatorFeatures(discriminator)
    if name == "none":
        return None
    raise InvertFillError(f"unknown loss backbone {name!r}; use one of {', '.join(BACKBONES)}")


def l1_valid(output: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """L_valid: Σ over known pixels of |O − I| / numel. output, target (N, 3, H, W); mask (N, 1, H, W), 1 = hole."""
    return ((output - target).abs() * (1 - mask)).mean()


def l1_hole(output: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """L_hole: Σ over hole pixels of |O − I| / numel. Shapes as l1_valid."""
    return ((output - target).abs() * mask).mean()


def gram(features: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C, C) Gram matrices ψψᵀ / (C·H·W), in float32 (autocast off)."""
    n, c, h, w = features.shape
    with torch.autocast(features.device.type, enabled=False):
        flat = features.float().reshape(n, c, h * w)
        return flat @ flat.transpose(1, 2) / (c * h * w)


def _fit_to_backbone(images: Tensor) -> Tensor:
    """(N, 3, H, W) -> (N, 3, kH, kW) with the smallest integer k that makes both sides ≥ MIN_BACKBONE_SIZE."""
    k = math.ceil(MIN_BACKBONE_SIZE / min(images.shape[-2:]))
    if k <= 1:
        return images
    return F.interpolate(images, scale_factor=k, mode="bilinear", align_corners=False)


def _feature_distances(backbone: FeatureBackbone, images: list[Tensor], target: Tensor) -> tuple[Tensor, Tensor]:
    """Σ over images and backbone layers of mean |ψ(image) − ψ(target)| and of mean |G(ψ(image)) − G(ψ(target))|.

    images: each (N, 3, H, W) like target. One backbone pass over the images, and one without
    autograd over the target, whose input gradient nobody needs (it would be a third of the
    backbone's backward).
    """
    n = target.shape[0]
    batch = _fit_to_backbone(torch.cat(images))
    with torch.no_grad():
        references = backbone(_fit_to_backbone(target.to(images[0].dtype)))
    perceptual = target.new_zeros((), dtype=torch.float32)
    style = target.new_zeros((), dtype=torch.float32)
    for features, reference in zip(backbone(batch), references, strict=True):
        reference = reference.float()
        reference_gram = gram(reference)
        for i in range(len(images)):
            feature = features[i * n : (i + 1) * n].float()
            perceptual = perceptual + (feature - reference).abs().mean()
            style = style + (gram(feature) - reference_gram).abs().mean()
    return perceptual, style


def perceptual_loss(backbone: FeatureBackbone, output: Tensor, composite: Tensor, target: Tensor) -> Tensor:
    """L_perc: Σ_layers mean |ψ(O) − ψ(I)| + mean |ψ(I_comp) − ψ(I)|. All (N, 3, H, W) in [-1, 1]."""
    return _feature_distances(backbone, [output, composite], target)[0]


def style_loss(backbone: FeatureBackbone, output: Tensor, composite: Tensor, target: Tensor) -> Tensor:
    """L_style: as perceptual_loss on Gram matrices (normalised by C·H·W)."""
    return _feature_distances(backbone, [output, composite], target)[1]


def tv_loss(composite: Tensor, mask: Tensor) -> Tensor:
    """L_tv: Σ |horizontal| + |vertical| neighbour differences of the composition over pairs of
    pixels both in the hole dilated by 1 px (3×3 max-pool), / numel. composite (N, 3, H, W); mask (N, 1, H, W)."""
    region = F.max_pool2d(mask, kernel_size=3, stride=1, padding=1)
    vertical = (composite[:, :, 1:] - composite[:, :, :-1]).abs() * (region[:, :, 1:] * region[:, :, :-1])
    horizontal = (composite[..., 1:] - composite[..., :-1]).abs() * (region[..., 1:] * region[..., :-1])
    return (vertical.sum() + horizontal.sum()) / composite.numel()


def msr_loss(
    backbone: FeatureBackbone | None,
    encoder_images: tuple[Tensor, ...],
    target: Tensor,
    perceptual_weight: float = 1.0,
    style_weight: float = 1.0,
) -> Tensor:
    """L_msr (Eq. 5): Σ_r perceptual_weight·L_perc^r + style_weight·L_style^r + MSE(O_E^r, I_r);
    the MSE alone without a backbone.

    encoder_images: O_E¹..³ (N, 3, R/16 | R/8 | R/4); target I (N, 3, R, R), area-averaged down to
    each O_E^r's size as I_r. Images below MIN_BACKBONE_SIZE are upsampled for the backbone only.
    """
    total = target.new_zeros((), dtype=torch.float32)
    for image in encoder_images:
        assert image.shape[:2] == target.shape[:2], (tuple(image.shape), tuple(target.shape))
        small_target = F.adaptive_avg_pool2d(target, image.shape[-2:])
        total = total + F.mse_loss(image.float(), small_target.float())
        if backbone is not None:
            perceptual, style = _feature_distances(backbone, [image], small_target)
            total = total + perceptual_weight * perceptual + style_weight * style
    return total


def fidelity_loss(latents: Tensor, mean_latent: Tensor) -> Tensor:
    """L_fid (Eq. 6): ‖w* − w̄‖₂ over the flattened (L, D) code, averaged over the batch.
    latents w* (N, L, D); mean_latent w̄ (D,) or (L, D)."""
    return (latents.float() - mean_latent.float()).flatten(1).norm(dim=1).mean()


def inpainting_loss(
    output: InvertFillOutput,
    target: Tensor,
    mask: Tensor,
    backbone: FeatureBackbone | None,
    weights: LossWeights,
    mean_latent: Tensor,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 7 -> (the weighted total, {valid, hole, perceptual, style, tv, msr, fid}: each weighted
    term; without a backbone no perceptual and style terms).

    output: the model's InvertFillOutput (O_G as .output, I_comp as .composite); target I
    (N, 3, R, R) in [-1, 1]; mask (N, 1, R, R), 1 = hole; mean_latent w̄ (D,), the one the
    pre-modulation used.
    """
    assert output.output.shape == target.shape and mask.shape == (target.shape[0], 1, *target.shape[2:]), (
        tuple(output.output.shape),
        tuple(target.shape),
        tuple(mask.shape),
    )
    msr = msr_loss(backbone, output.encoder_images, target, weights.perceptual, weights.style)
    terms = {
        "valid": weights.valid * l1_valid(output.output, target, mask),
        "hole": weights.hole * l1_hole(output.output, target, mask),
        "tv": weights.tv * tv_loss(output.composite, mask),
        "msr": weights.msr * msr,
        "fid": weights.fid * fidelity_loss(output.latents, mean_latent),
    }
    if backbone is not None:
        perceptual, style = _feature_distances(backbone, [output.output, output.composite], target)
        terms.update(perceptual=weights.perceptual * perceptual, style=weights.style * style)
    total = torch.stack([term.float() for term in terms.values()]).sum()
    return total, terms
