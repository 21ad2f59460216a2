"""Fill methods that take one square window of an image and fill its hole.

`ModelFill` runs an InvertFill model at its resolution; `ClassicFill` runs OpenCV's Telea or
Navier–Stokes inpainting at any size (the fallback when no model is available, and a baseline).
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np
import torch

from .invertfill import InvertFill

CLASSIC_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
CLASSIC_NAMES = {"telea": "Telea", "ns": "Navier–Stokes"}


class FillMethod(Protocol):
    """Fills a square window. `resolution` is the side it works at, or None for any size."""

    resolution: int | None
    description: str

    def fill_window(self, rgb8: np.ndarray, hole: np.ndarray, seed: int, variation: int) -> np.ndarray:
        """rgb8: (S, S, 3) uint8, hole: (S, S) bool -> (S, S, 3) uint8 with the hole filled."""


def window_seed(seed: int, variation: int, window: int) -> int:
    """A 63-bit seed for one window of one variation, reproducible from the user's seed."""
    return int(np.random.SeedSequence([seed, variation, window]).generate_state(1, np.uint64)[0] >> 1)


class ClassicFill:
    """OpenCV inpainting (Telea or Navier–Stokes) with a small neighbourhood radius."""

    resolution = None

    def __init__(self, method: str = "telea", radius: int = 5) -> None:
        self.flag = CLASSIC_METHODS[method]
        self.radius = radius
        self.description = f"classic OpenCV fill ({CLASSIC_NAMES[method]})"

    def fill_window(self, rgb8: np.ndarray, hole: np.ndarray, seed: int, variation: int) -> np.ndarray:
        return cv2.inpaint(rgb8, hole.astype(np.uint8), self.radius, self.flag)


class ModelFill:
    """An InvertFill model on a device in a dtype; noise and variations are drawn from a
    torch.Generator seeded with the window's seed, so other threads cannot change a fill.

    Weights and activations are channels-last, which runs the convolutions about 28 % faster on
    the CPU (benchmarks/fill_cpu.py).
    """

    def __init__(self, model: InvertFill, device: torch.device, dtype: torch.dtype, description: str) -> None:
        self.model = model.eval().to(device=device, dtype=dtype, memory_format=torch.channels_last)
        self.device, self.dtype = device, dtype
        self.resolution = model.config.resolution
        self.description = description

    @torch.no_grad()
    def fill_window(self, rgb8: np.ndarray, hole: np.ndarray, seed: int, variation: int) -> np.ndarray:
        r = self.resolution
        assert rgb8.shape == (r, r, 3) and hole.shape == (r, r), (rgb8.shape, hole.shape)
        channels_last = torch.channels_last
        image = (torch.from_numpy(rgb8).to(self.device).permute(2, 0, 1)[None].to(self.dtype) / 127.5 - 1).contiguous(memory_format=channels_last)
        mask = torch.from_numpy(hole).to(self.device)[None, None].to(self.dtype).contiguous(memory_format=channels_last)
        generator = torch.Generator(self.device).manual_seed(seed)
        mean_latent = None
        if variation > 0:
            mean_latent = self.model.soft_mean_latent.sample(self.model.generator.mapping, generator)
        out = self.model(image, mask, "random", mean_latent, generator).composite
        out = ((out[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return out.permute(1, 2, 0).cpu().numpy()
