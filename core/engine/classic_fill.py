"""OpenCV's Telea and Navier–Stokes inpainting as a fill method (core.engine.fill_methods.FillMethod):
the fallback when no model is available, and a baseline. Needs no torch."""

from __future__ import annotations

import cv2
import numpy as np

from .choices import CLASSIC_NAMES

OPENCV_FLAGS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


class ClassicFill:
    """OpenCV inpainting (Telea or Navier–Stokes) with a small neighbourhood radius, at any size."""

    resolution = None
    framing = None
    windows_per_pass = 1
    full_detail = True

    def __init__(self, method: str = "telea", radius: int = 5) -> None:
        self.flag = OPENCV_FLAGS[method]
        self.radius = radius
        self.description = f"classic OpenCV fill ({CLASSIC_NAMES[method]})"

    def fill_windows(self, patches: list[np.ndarray], holes: list[np.ndarray], seed: int, variation: int) -> list[np.ndarray]:
        return [cv2.inpaint(patch, hole.astype(np.uint8), self.radius, self.flag) for patch, hole in zip(patches, holes, strict=True)]
