"""The full-resolution detail step (core.engine.detail): known pixels exact, the photo's own fine
detail carried into the hole, and a clean fallback where there is nothing to copy from."""

import cv2
import numpy as np
import pytest

from core.engine.detail import CRISP_BLEND, CRISP_CHOICES, SOFT_BLEND, TwoBands, _hat


def add_detail(window: np.ndarray, hole: np.ndarray, low: np.ndarray, blend: float = SOFT_BLEND) -> np.ndarray:
    """The detail step's fill: the low band with the high band over the hole."""
    bands = TwoBands(window, hole, low)
    return bands.high(blend).onto(bands.low)


def textured(size: int, period: int) -> np.ndarray:
    """(size, size, 3) uint8: a slow colour ramp under a fine checker of `period` pixels."""
    y, x = np.mgrid[:size, :size]
    ramp = np.stack([60 + 100 * x / size, 80 + 60 * y / size, np.full((size, size), 120.0)], axis=-1)
    checker = np.where(((y // (period // 2)) + (x // (period // 2))) % 2 == 0, 25.0, -25.0)
    return np.clip(ramp + checker[..., None], 0, 255).round().astype(np.uint8)


def grain(size: int, seed: int) -> np.ndarray:
    """(size, size, 3) uint8 grey grain: blurred noise around 128, no two places alike."""
    noise = cv2.GaussianBlur(np.random.default_rng(seed).normal(0, 30, (size, size)).astype(np.float32), (0, 0), 1.0)
    return np.clip(128 + noise[..., None], 0, 255).round().astype(np.uint8).repeat(3, axis=2)


def square_hole(size: int, top: int, side: int) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    hole[top : top + side, top : top + side] = True
    return hole


@pytest.mark.parametrize("blend", [SOFT_BLEND, CRISP_BLEND])
@pytest.mark.parametrize("factor", [2, 4, 8])
def test_the_fine_texture_of_the_known_pixels_is_carried_into_the_hole(factor, blend):
    """A perfect low-resolution fill (the truth, downscaled) upsampled alone loses the checker; the
    detail step puts it back: the hole is several times closer to the truth and as sharp."""
    size = 256
    truth = textured(size, factor)
    hole = square_hole(size, 96, 64)
    low = cv2.resize(truth, (size // factor,) * 2, interpolation=cv2.INTER_AREA)
    window = np.where(hole[..., None], 0, truth).astype(np.uint8)
    upsampled = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    out = add_detail(window, hole, low, blend)
    error = np.abs(out.astype(float) - truth)[hole].mean()
    blurred_error = np.abs(upsampled.astype(float) - truth)[hole].mean()
    assert error < blurred_error / 4 and error < 4, (error, blurred_error)
    assert np.array_equal(out[~hole], truth[~hole])


def test_known_pixels_stay_bit_exact_and_the_hole_changes():
    rng = np.random.default_rng(0)
    window = rng.integers(0, 256, (128, 128, 3)).astype(np.uint8)
    hole = square_hole(128, 40, 30)
    low = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    out = add_detail(window, hole, low)
    assert out.shape == window.shape and out.dtype == np.uint8
    assert np.array_equal(out[~hole], window[~hole]) and not np.array_equal(out[hole], window[hole])


def test_at_the_fills_own_size_the_low_fill_is_the_result():
    rng = np.random.default_rng(1)
    window = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    low = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    hole = square_hole(64, 10, 20)
    out = add_detail(window, hole, low)
    assert np.array_equal(out[hole], low[hole]) and np.array_equal(out[~hole], window[~hole])


def test_a_window_that_is_all_hole_gets_the_upsampled_fill():
    low = np.full((16, 16, 3), 90, np.uint8)
    out = add_detail(np.zeros((64, 64, 3), np.uint8), np.ones((64, 64), bool), low)
    assert np.array_equal(out, np.full((64, 64, 3), 90, np.uint8))


@pytest.mark.parametrize("blend", [SOFT_BLEND, CRISP_BLEND])
def test_copied_detail_has_no_block_edges(blend):
    """Detail copied cell by cell is blended by overlapping hats: across the cell boundaries in the
    hole, the steps are no larger than inside the cells."""
    size, factor = 256, 8
    truth = grain(size, 2)
    hole = square_hole(size, 64, 128)
    low = cv2.resize(truth, (size // factor,) * 2, interpolation=cv2.INTER_AREA)
    out = add_detail(np.where(hole[..., None], 0, truth).astype(np.uint8), hole, low, blend).astype(float)[64:192, 64:192, 0]
    steps = np.abs(np.diff(out, axis=1))
    at_edges = steps[:, factor - 1 :: factor].mean()
    inside = np.delete(steps, np.s_[factor - 1 :: factor], axis=1).mean()
    assert at_edges < 1.3 * inside, (at_edges, inside)


def test_a_window_without_a_hole_comes_back_unchanged():
    window = textured(64, 4)
    low = cv2.resize(window, (16, 16), interpolation=cv2.INTER_AREA)
    assert np.array_equal(add_detail(window, np.zeros((64, 64), bool), low), window)


@pytest.mark.parametrize("factor", [2, 3, 8])
@pytest.mark.parametrize("blend", [SOFT_BLEND, CRISP_BLEND, 0.5])
def test_hats_one_cell_apart_sum_to_one_and_a_crisp_blend_keeps_more_of_each_cell(factor, blend):
    hat = _hat(factor, blend)
    total = np.zeros((4 * factor, 4 * factor), np.float32)
    for dy in (0, factor, 2 * factor):
        for dx in (0, factor, 2 * factor):
            total[dy : dy + 2 * factor, dx : dx + 2 * factor] += hat
    assert np.allclose(total[factor : 3 * factor, factor : 3 * factor], 1)
    assert hat[0, 0] < 0.5 / factor
    if blend < SOFT_BLEND:
        assert (hat**2).sum() > (_hat(factor, SOFT_BLEND) ** 2).sum()


def test_a_crisp_blend_keeps_more_of_unrelated_cells_detail():
    """Residuals copied from unrelated places cancel where hats overlap: the crisper blend keeps
    more of their amplitude (the hole's gradient), so a classic fill's texture stays visible."""
    size, factor = 256, 8
    truth = grain(size, 3)
    hole = square_hole(size, 64, 128)
    low = cv2.resize(truth, (size // factor,) * 2, interpolation=cv2.INTER_AREA)
    window = np.where(hole[..., None], 0, truth).astype(np.uint8)
    gradients = {}
    for blend in (SOFT_BLEND, CRISP_BLEND):
        out = add_detail(window, hole, low, blend)[..., 0].astype(np.float32)
        gradients[blend] = np.abs(np.diff(out, axis=1))[hole[:, 1:] & hole[:, :-1]].mean()
    truth_gradient = np.abs(np.diff(truth[..., 0].astype(np.float32), axis=1))[hole[:, 1:] & hole[:, :-1]].mean()
    assert gradients[SOFT_BLEND] < gradients[CRISP_BLEND] < 1.05 * truth_gradient, (gradients, truth_gradient)
    assert gradients[CRISP_BLEND] > 1.1 * gradients[SOFT_BLEND], gradients


def test_cells_of_a_smooth_region_choosing_among_near_sources_do_not_repeat_one_residual():
    """A flat hole region's cells all have the same nearest source: copying it cell after cell repeats one
    residual at the cell's period. With CRISP_CHOICES the copy no longer correlates with itself one cell
    along; the same window gets the same fill every time."""
    size, factor = 256, 8
    window = grain(size, 4)
    hole = square_hole(size, 64, 128)
    low = np.full((size // factor, size // factor, 3), 128, np.uint8)

    def period_correlation(choices: int) -> float:
        bands = TwoBands(window, hole, low)
        high = bands.high(CRISP_BLEND, choices)
        assert np.array_equal(high.detail, bands.high(CRISP_BLEND, choices).detail)
        inner = high.onto(bands.low)[96:160, 96:160, 0].astype(np.float32) - 128
        return float(np.corrcoef(inner[:, :-factor].ravel(), inner[:, factor:].ravel())[0, 1])

    assert period_correlation(1) > 0.9
    assert period_correlation(CRISP_CHOICES) < 0.5
