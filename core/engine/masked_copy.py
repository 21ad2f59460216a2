"""Masked copies of images, the engine's hottest array operation on large photos."""

from __future__ import annotations

import cv2
import numpy as np


def copy_where(target: np.ndarray, source: np.ndarray, mask: np.ndarray) -> None:
    """Copy `source` into `target` (both (h, w, 3) uint8, target perhaps a view) where `mask` (h, w)
    bool is set, in place. OpenCV's masked copy: numpy's copyto with the mask broadcast over the
    channels took 15 times as long on a 1100² box."""
    assert target.shape == source.shape and target.shape[:2] == mask.shape and target.dtype == source.dtype == np.uint8, (
        target.shape, source.shape, mask.shape)
    target[...] = cv2.copyTo(source, mask.view(np.uint8), target)
