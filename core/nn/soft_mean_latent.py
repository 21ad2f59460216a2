"""Soft-update mean latent, SML (the paper's §3.2, DESIGN §3.4).

A sampled mean latent, mean(mapping(z_i)) over a few random z, fluctuates from draw to draw.
The online mean latent w̄_o, which the model uses, follows a target w̄_t softly:
w̄_o ← τ·w̄_t + (1 − τ)·w̄_o every training step, and w̄_t is drawn anew once w̄_o has reached
it. τ = 0 keeps w̄_o fixed: the static mean latent of pSp.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SoftMeanLatent(nn.Module):
    """Holds w̄_t (`target`) and w̄_o (`online`), both (style_dim,), as checkpointed buffers."""

    def __init__(self, style_dim: int, tau: float, samples: int, tolerance: float) -> None:
        super().__init__()
        assert 0.0 <= tau <= 1.0, tau
        self.tau, self.samples, self.tolerance = tau, samples, tolerance
        self.register_buffer("target", torch.zeros(style_dim))
        self.register_buffer("online", torch.zeros(style_dim))

    @property
    def value(self) -> Tensor:
        """The mean latent the model uses: w̄_o, (style_dim,)."""
        return self.online

    @torch.no_grad()
    def sample(self, mapping: nn.Module, generator: torch.Generator | None = None) -> Tensor:
        """mean(mapping(z)) over `samples` random z: (style_dim,)."""
        z = torch.randn(self.samples, self.online.shape[0], generator=generator, device=self.online.device)
        return mapping(z).mean(0).to(self.online.dtype)

    @torch.no_grad()
    def variation(self, mapping: nn.Module, strength: float, generator: torch.Generator | None = None) -> Tensor:
        """A mean latent for a fill variation: w̄_o moved by `strength` (0: w̄_o itself, 1: all the way)
        toward mapping(z) of one random z: (style_dim,). A mean over many z stays near w̄_o, so its
        fills hardly differ; one z moves the style of the fill."""
        z = torch.randn(1, self.online.shape[0], generator=generator, device=self.online.device)
        return torch.lerp(self.online, mapping(z)[0].to(self.online.dtype), strength)

    @torch.no_grad()
    def reset(self, mapping: nn.Module, generator: torch.Generator | None = None, online: Tensor | None = None) -> None:
        """Draw the target and the online mean latent independently; `online` (style_dim,), when
        given, is taken instead of a draw."""
        self.target.copy_(self.sample(mapping, generator))
        self.online.copy_(self.sample(mapping, generator) if online is None else online)

    @torch.no_grad()
    def step(self, mapping: nn.Module, generator: torch.Generator | None = None) -> bool:
        """One soft update of w̄_o; returns True when the target was reached and drawn anew."""
        if self.tau == 0.0:
            return False
        self.online.lerp_(self.target, self.tau)
        if torch.linalg.vector_norm(self.online - self.target) > self.tolerance * torch.linalg.vector_norm(self.target):
            return False
        self.target.copy_(self.sample(mapping, generator))
        return True
