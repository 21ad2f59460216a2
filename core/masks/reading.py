"""Mask files: any image read as a bool hole mask, and fitted to the picture it belongs to (DESIGN §2).

A mask pixel is a hole when its gray value lies above half the range (after conversion to gray,
alpha ignored), so white-on-black masks of every tool read the same.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from core.io.image_io import read_pixels


def mask_from_pixels(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) pixels of any mask image -> bool (H, W), True = hole (gray above half range)."""
    color = pixels[..., :3] if pixels.shape[2] >= 3 else pixels[..., :1]
    gray = color[..., 0] if color.shape[2] == 1 else cv2.cvtColor(np.ascontiguousarray(color), cv2.COLOR_RGB2GRAY)
    return gray > np.iinfo(pixels.dtype).max // 2


def read_mask(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a mask file: bool (H, W), True = hole."""
    return mask_from_pixels(read_pixels(path, "mask"))


def fit_mask(mask: np.ndarray, height: int, width: int, name: str = "the mask") -> tuple[np.ndarray, str | None]:
    """Resize a bool mask (h, w) to (height, width) by nearest neighbour, with a note if it was needed."""
    if mask.shape == (height, width):
        return mask, None
    note = f"{name} is {mask.shape[1]}×{mask.shape[0]} but the image is {width}×{height}; resized the mask"
    resized = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    return resized.astype(bool), note
