"""Pre-modulation (the paper's Eq. 1, Fig. 2c): w*_l = γ_l(S_r) ⊙ IN(w′_r) + β_l(S_r) + w̄."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

COARSE_END, MIDDLE_END = 3, 7
"""pSp's split: style indices 0–2 are coarse, 3–6 middle, 7 and above fine."""


def style_levels(num_styles: int) -> list[int]:
    """Pyramid level r(l) ∈ {0: coarse, 1: middle, 2: fine} of each style index l."""
    return [0 if l < COARSE_END else 1 if l < MIDDLE_END else 2 for l in range(num_styles)]


def instance_norm(w: Tensor, eps: float = 1e-5) -> Tensor:
    """Normalize each style vector over its features. w: (..., D) -> (..., D)"""
    return (w - w.mean(-1, keepdim=True)) * torch.rsqrt(w.var(-1, keepdim=True, unbiased=False) + eps)


class PreModulation(nn.Module):
    """L pairs of affine maps (γ_l, β_l) from the structure vector S_r(l) to a style modulation.

    styles w′: (N, 3, D), structure S: (N, 3, D), mean_latent w̄: (D,) -> w*: (N, L, D).
    γ_l and β_l are equalized-lr affine maps that start at zero, so a fresh model gives w* = w̄
    exactly: stage 2 starts from the frozen generator's own mean image, and the first optimizer
    step makes them non-zero (their gradients are IN(w′)·S and S, which are not).
    """

    def __init__(self, num_styles: int, style_dim: int) -> None:
        super().__init__()
        self.register_buffer("levels", torch.tensor(style_levels(num_styles)), persistent=False)
        self.gamma_weight = nn.Parameter(torch.zeros(num_styles, style_dim, style_dim))
        self.gamma_bias = nn.Parameter(torch.zeros(num_styles, style_dim))
        self.beta_weight = nn.Parameter(torch.zeros(num_styles, style_dim, style_dim))
        self.beta_bias = nn.Parameter(torch.zeros(num_styles, style_dim))
        self.scale = 1 / math.sqrt(style_dim)

    def forward(self, styles: Tensor, structure: Tensor, mean_latent: Tensor) -> Tensor:
        assert styles.shape == structure.shape and styles.shape[1] == 3, (tuple(styles.shape), tuple(structure.shape))
        s = structure[:, self.levels]
        gamma = torch.einsum("nld,lkd->nlk", s, self.gamma_weight * self.scale) + self.gamma_bias
        beta = torch.einsum("nld,lkd->nlk", s, self.beta_weight * self.scale) + self.beta_bias
        return gamma * instance_norm(styles[:, self.levels]) + beta + mean_latent
