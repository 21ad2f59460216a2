"""Fill methods that take one square window of an image and fill its hole.

`FillMethod` is what every fill method offers the strategies (core.engine.fill_strategy);
`ModelFill` runs an InvertFill model at its resolution. The classic fills that need no model are
core.engine.classic_fill (OpenCV) and core.engine.patchmatch_fill.
"""

from __future__ import annotations

import copy
from typing import Protocol

import numpy as np
import torch

from core.errors import InvertFillError
from core.nn.invertfill import InvertFill

from .choices import VARIATION_STRENGTH
from .model_runtime import ModelRunner

class FillMethod(Protocol):
    """Fills square windows. `resolution` is the side it works at, or None for any size; `framing`
    how a model's training images were framed (core.io.checkpoint_header.FRAMINGS), None for a classic fill."""

    resolution: int | None
    framing: str | None
    description: str
    windows_per_pass: int
    """How many windows `fill_windows` takes at once (the strategy hands it no more)."""
    full_detail: bool
    """Whether `detail` gives the hole the photo's fine detail in full (core.engine.detail.CRISP_BLEND and
    CRISP_CHOICES, and over the hole's outer band too, where it otherwise fades in with the continuation
    of the photo).
    True for the classic fills, which carry no detail of their own at the photo's scale: with the fade
    their band, most of a brush stroke's width, stayed smooth (24 scenery photos outside the evaluation
    set, 512 px, hard masks, Telea: a sharpness of 0.43 of the photo's; in full 0.73, at 0.3 dB less
    PSNR, still 0.1 dB over single-scale Telea). A model keeps the fade: in full, the 64-px faces demo
    lost 0.15 dB and 0.03 SSIM at 256 px (24 faces outside the evaluation set, hard masks)."""

    def fill_windows(self, patches: list[np.ndarray], holes: list[np.ndarray], seed: int, variation: int) -> list[np.ndarray]:
        """patches: each (S, S, 3) uint8 (S = resolution when it is set), holes: each (S, S) bool
        -> each patch with its hole filled, known pixels unchanged; at most `windows_per_pass`
        patches; `seed` makes the result reproducible."""


class ModelFill:
    """An InvertFill model run by a runner (core.engine.model_runtime: torch or OpenVINO). Noise and
    variations are drawn from a torch.Generator seeded with the window's seed, so other threads
    cannot change a fill, and both runtimes get the same noise.

    Variation 0 uses the model's own mean latent w̄; each further variation moves it by
    `variation_strength` toward a random style.
    """

    full_detail = False

    def __init__(self, model: InvertFill, runner: ModelRunner, description: str, framing: str = "scene") -> None:
        self.model, self.runner = model, runner
        self.device = next(model.parameters()).device
        self.resolution = model.config.resolution
        self.framing = framing
        self.description = description
        self.windows_per_pass = runner.windows_per_pass
        self.variation_strength = VARIATION_STRENGTH

    def varied(self, strength: float) -> ModelFill:
        """This fill (the same loaded model) with another variation strength, 0-1."""
        if not 0.0 <= strength <= 1.0:
            raise InvertFillError(f"the variation strength must be between 0 and 1, got {strength:g}")
        other = copy.copy(self)
        other.variation_strength = strength
        return other

    @torch.no_grad()
    def fill_windows(self, patches: list[np.ndarray], holes: list[np.ndarray], seed: int, variation: int) -> list[np.ndarray]:
        """One pass over all windows: (B, R, R, 3) uint8 in, (B, R, R, 3) uint8 out."""
        r = self.resolution
        assert all(p.shape == (r, r, 3) for p in patches) and all(h.shape == (r, r) for h in holes), (r, [p.shape for p in patches])
        image = torch.from_numpy(np.stack(patches)).permute(0, 3, 1, 2).float() / 127.5 - 1
        mask = torch.from_numpy(np.stack(holes))[:, None].float()
        generator = torch.Generator(self.device).manual_seed(seed)
        mean_latent = self.model.soft_mean_latent.value
        if variation > 0:
            mean_latent = self.model.soft_mean_latent.variation(self.model.generator.mapping, self.variation_strength, generator)
        noise = self.model.generator.synthesis.noise(len(patches), "random", generator)
        out = self.runner(image, mask, mean_latent, noise)
        out = ((out.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return list(out.permute(0, 2, 3, 1).cpu().numpy())
