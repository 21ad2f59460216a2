"""Fill methods that take one square window of an image and fill its hole.

`ModelFill` runs an InvertFill model at its resolution; `ClassicFill` runs OpenCV's Telea or
Navier–Stokes inpainting at any size (the fallback when no model is available, and a baseline).
"""

from __future__ import annotations

import copy
from typing import Protocol

import cv2
import numpy as np
import torch

from core.errors import InvertFillError
from core.nn.invertfill import InvertFill

CLASSIC_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
CLASSIC_NAMES = {"telea": "Telea", "ns": "Navier–Stokes"}
CUDA_WINDOWS_PER_PASS = 16
"""Windows a model fills in one forward pass on CUDA (memory grows with it)."""
VARIATION_STRENGTH = 0.35
"""How far a variation's mean latent moves from w̄ toward one random style (SoftMeanLatent.variation).
With the faces demo on 30 held-out faces, 4 variations differ by 21 grey levels in the hole on
average at 0.35 (29 at 0.5, 62 at 1), where a mean over 256 styles gave 5.8; they differ in
colour and tone more than in shape, and from about 0.5 a variation's colours stop matching the border."""


class FillMethod(Protocol):
    """Fills square windows. `resolution` is the side it works at, or None for any size; `framing`
    how a model's training images were framed (core.io.checkpoint.FRAMINGS), None for a classic fill."""

    resolution: int | None
    framing: str | None
    description: str
    windows_per_pass: int
    """How many windows `fill_windows` takes at once (the strategy hands it no more)."""

    def fill_windows(self, patches: list[np.ndarray], holes: list[np.ndarray], seed: int, variation: int) -> list[np.ndarray]:
        """patches: each (S, S, 3) uint8 (S = resolution when it is set), holes: each (S, S) bool
        -> each patch with its hole filled, known pixels unchanged; at most `windows_per_pass`
        patches; `seed` makes the result reproducible."""


def window_seed(seed: int, variation: int, window: int) -> int:
    """A 63-bit seed for one window of one variation, reproducible from the user's seed."""
    return int(np.random.SeedSequence([seed, variation, window]).generate_state(1, np.uint64)[0] >> 1)


class ClassicFill:
    """OpenCV inpainting (Telea or Navier–Stokes) with a small neighbourhood radius."""

    resolution = None
    framing = None
    windows_per_pass = 1

    def __init__(self, method: str = "telea", radius: int = 5) -> None:
        self.flag = CLASSIC_METHODS[method]
        self.radius = radius
        self.description = f"classic OpenCV fill ({CLASSIC_NAMES[method]})"

    def fill_windows(self, patches: list[np.ndarray], holes: list[np.ndarray], seed: int, variation: int) -> list[np.ndarray]:
        return [cv2.inpaint(patch, hole.astype(np.uint8), self.radius, self.flag) for patch, hole in zip(patches, holes, strict=True)]


class ModelFill:
    """An InvertFill model on a device in a dtype; noise and variations are drawn from a
    torch.Generator seeded with the window's seed, so other threads cannot change a fill.

    Weights and activations are channels-last, which runs the convolutions about 28 % faster on
    the CPU (benchmarks/fill_cpu.py). On CUDA the windows of a fill go through the model in one
    batch; on the CPU one at a time, because there a batch costs more per window than it saves
    (a 4-window fill of a 4000×3000 photo took 1.3–1.45× as long batched: benchmarks/crop_fill.py).

    Variation 0 uses the model's own mean latent w̄; each further variation moves it by
    `variation_strength` toward a random style.
    """

    def __init__(self, model: InvertFill, device: torch.device, dtype: torch.dtype, description: str, framing: str = "scene") -> None:
        self.model = model.eval().to(device=device, dtype=dtype, memory_format=torch.channels_last)
        self.device, self.dtype = device, dtype
        self.resolution = model.config.resolution
        self.framing = framing
        self.description = description
        self.windows_per_pass = CUDA_WINDOWS_PER_PASS if device.type == "cuda" else 1
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
        """One forward pass over all windows: (B, R, R, 3) uint8 in, (B, R, R, 3) uint8 out."""
        r = self.resolution
        assert all(p.shape == (r, r, 3) for p in patches) and all(h.shape == (r, r) for h in holes), (r, [p.shape for p in patches])
        channels_last = torch.channels_last
        rgb8 = torch.from_numpy(np.stack(patches)).to(self.device)
        image = (rgb8.permute(0, 3, 1, 2).to(self.dtype) / 127.5 - 1).contiguous(memory_format=channels_last)
        mask = torch.from_numpy(np.stack(holes)).to(self.device)[:, None].to(self.dtype).contiguous(memory_format=channels_last)
        generator = torch.Generator(self.device).manual_seed(seed)
        mean_latent = None
        if variation > 0:
            mean_latent = self.model.soft_mean_latent.variation(self.model.generator.mapping, self.variation_strength, generator)
        out = self.model(image, mask, "random", mean_latent, generator).composite
        out = ((out.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return list(out.permute(0, 2, 3, 1).cpu().numpy())
