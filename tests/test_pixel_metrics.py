"""SSIM and PSNR against an independent implementation (scikit-image, a test-only dependency)."""

import math

import numpy as np
import pytest

from training.metrics.pixel import hole_gradient, psnr, ssim

skimage_metrics = pytest.importorskip("skimage.metrics")


def pair(seed: int, shape=(48, 64, 3)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, shape), 0, 255).astype(np.uint8)
    return a, b


def test_identical_images_give_ssim_one_and_infinite_psnr():
    a, _ = pair(0)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert psnr(a, a) == math.inf


@pytest.mark.parametrize("seed", range(5))
def test_ssim_and_psnr_agree_with_scikit_image(seed):
    a, b = pair(seed)
    expected_ssim = skimage_metrics.structural_similarity(
        a, b, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert ssim(a, b) == pytest.approx(expected_ssim, abs=1e-4)
    assert psnr(a, b) == pytest.approx(skimage_metrics.peak_signal_noise_ratio(a, b, data_range=255), abs=1e-4)


def test_worse_images_score_lower():
    a, b = pair(7)
    c = np.clip(a.astype(int) + np.random.default_rng(8).integers(-120, 121, a.shape), 0, 255).astype(np.uint8)
    assert ssim(a, c) < ssim(a, b) < 1 and psnr(a, c) < psnr(a, b)


def test_hole_gradient_is_zero_on_a_flat_fill_and_scales_with_the_contrast():
    y, x = np.mgrid[:64, :64]
    stripes = np.where(x % 4 < 2, 100, 140).astype(np.uint8)[..., None].repeat(3, axis=2)
    hole = np.zeros((64, 64), bool)
    hole[16:48, 16:48] = True
    flat = stripes.copy()
    flat[hole] = 120
    assert hole_gradient(flat, hole) < hole_gradient(stripes, hole)
    inner = np.zeros_like(hole)
    inner[20:44, 20:44] = True
    assert hole_gradient(flat, inner) == 0
    stronger = np.where(x % 4 < 2, 80, 160).astype(np.uint8)[..., None].repeat(3, axis=2)
    assert hole_gradient(stronger, inner) == pytest.approx(2 * hole_gradient(stripes, inner))
    assert math.isnan(hole_gradient(stripes, np.zeros_like(hole)))
