"""SSIM, PSNR and the seam on 8-bit RGB images (the paper's §4.1), computed on the composited images.

SSIM follows Wang et al. 2004: an 11×11 Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03,
population (not sample) covariances, data range 255, computed per RGB channel over the
region the window fits in (a 5-pixel border is left out, as scikit-image does) and averaged.

The seam measures the paper's "gapping" artefact: the colour step across the hole's boundary.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
DATA_RANGE = 255.0


def _gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable valid-region filtering of (C, 1, H, W)."""
    x = F.conv2d(x, window.view(1, 1, -1, 1))
    return F.conv2d(x, window.view(1, 1, 1, -1))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two (H, W, 3) uint8 RGB images (1.0 for identical images)."""
    assert a.shape == b.shape and a.ndim == 3 and min(a.shape[:2]) >= SSIM_WINDOW, (a.shape, b.shape)
    x = torch.from_numpy(a.astype(np.float64)).permute(2, 0, 1)[:, None]
    y = torch.from_numpy(b.astype(np.float64)).permute(2, 0, 1)[:, None]
    window = _gaussian_window()
    mx, my = _filter(x, window), _filter(y, window)
    vx = _filter(x * x, window) - mx * mx
    vy = _filter(y * y, window) - my * my
    cxy = _filter(x * y, window) - mx * my
    c1, c2 = (0.01 * DATA_RANGE) ** 2, (0.03 * DATA_RANGE) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean(dim=[1, 2, 3]).mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images; infinite for identical images."""
    assert a.shape == b.shape, (a.shape, b.shape)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(DATA_RANGE**2 / mse)


def seam(image: np.ndarray, hole: np.ndarray) -> float:
    """Mean colour step across the hole's boundary of an (H, W, 3) uint8 image with an (H, W) bool hole.

    Every pair of a hole pixel and a known pixel that are 4-neighbours counts once; its step is
    the mean over RGB of their absolute difference, in 8-bit levels (0-255). NaN when the mask
    has no such pair (no hole, or no known pixel).
    """
    assert image.ndim == 3 and image.shape[:2] == hole.shape, (image.shape, hole.shape)
    pixels = image.astype(np.float64)
    vertical = np.abs(pixels[1:] - pixels[:-1])[hole[1:] != hole[:-1]]
    horizontal = np.abs(pixels[:, 1:] - pixels[:, :-1])[hole[:, 1:] != hole[:, :-1]]
    steps = np.concatenate([vertical, horizontal])
    return float(steps.mean()) if len(steps) else math.nan


def hole_gradient(image: np.ndarray, hole: np.ndarray) -> float:
    """Mean gradient magnitude (3×3 Sobel of the luma, in 8-bit levels per pixel) over the hole
    pixels of an (H, W, 3) uint8 image; NaN when there is no hole pixel. A fill's value over the
    ground truth's measures how sharp it is (a smooth fill scores near 0, one as detailed as the
    photo 1)."""
    assert image.ndim == 3 and image.shape[:2] == hole.shape, (image.shape, hole.shape)
    if not hole.any():
        return math.nan
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    magnitude = np.hypot(cv2.Sobel(luma, cv2.CV_32F, 1, 0), cv2.Sobel(luma, cv2.CV_32F, 0, 1)) / 8
    return float(magnitude[hole].mean())
