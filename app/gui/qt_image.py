"""Numpy pixels as QImages for display, without copying where the array outlives the image."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap

from core.io.image_io import Picture


def display_pixels(picture: Picture) -> np.ndarray:
    """What the screen shows of `picture`: (H, W, 3) RGB or (H, W, 4) RGBA uint8, contiguous."""
    rgb = picture.rgb8()
    if not picture.has_alpha:
        return rgb
    alpha = picture.pixels[..., 3:]
    if alpha.dtype == np.uint16:
        alpha = ((alpha.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.ascontiguousarray(np.concatenate([rgb, alpha], axis=2))


def image_view(pixels: np.ndarray) -> QImage:
    """A QImage over (H, W, 3|4) uint8 RGB(A) or (H, W) uint8 Indexed8 memory; keep `pixels` alive while it is used."""
    assert pixels.dtype == np.uint8 and pixels.flags.c_contiguous, (pixels.dtype, pixels.flags)
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    layout = {1: QImage.Format.Format_Indexed8, 3: QImage.Format.Format_RGB888, 4: QImage.Format.Format_RGBA8888}[channels]
    return QImage(pixels.data, width, height, pixels.strides[0], layout)


def pixmap_of(pixels: np.ndarray) -> QPixmap:
    """A QPixmap holding its own copy of (H, W, 3|4) uint8 pixels."""
    return QPixmap.fromImage(image_view(np.ascontiguousarray(pixels)).copy())
