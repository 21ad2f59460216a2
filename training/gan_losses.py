"""StyleGAN2 losses: non-saturating logistic loss, R1 penalty, path-length regularization."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Logistic loss of D: softplus(D(fake)) + softplus(−D(real)), averaged. logits: (N, 1)"""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def generator_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating loss of G: softplus(−D(G(z))), averaged. fake_logits: (N, 1)"""
    return F.softplus(-fake_logits).mean()


def r1_penalty(real_images: Tensor, real_logits: Tensor) -> Tensor:
    """‖∇_x D(x)‖² per real image, differentiable (double backward). images (N, 3, H, W) -> (N,)"""
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.square().sum(dim=[1, 2, 3])


class PathLengthRegularizer(nn.Module):
    """Path-length regularization: (‖J_wᵀ y‖ − a)² with a the running mean of ‖J_wᵀ y‖.

    y is Gaussian noise scaled by 1/√(H·W); `mean` is a checkpointed buffer updated with `decay`.
    """

    def __init__(self, decay: float = 0.01) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("mean", torch.zeros(()))

    def forward(
        self,
        images: Tensor,
        ws: Tensor,
        average: Callable[[Tensor], Tensor] | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """images (N, 3, H, W) = G.synthesis(ws), ws (N, L, D) -> penalty (N,).

        `average` averages a tensor over data-parallel ranks so that every rank keeps the same mean;
        the noise y is drawn from `generator`.
        """
        noise = torch.randn(images.shape, generator=generator, device=images.device, dtype=images.dtype)
        noise = noise / math.sqrt(images.shape[2] * images.shape[3])
        (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
        lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
        batch_mean = lengths.mean().detach()
        if average is not None:
            batch_mean = average(batch_mean)
        self.mean.lerp_(batch_mean, self.decay)
        return (lengths - self.mean).square()
