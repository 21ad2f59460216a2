"""The outer band of a reduced-scale fill, continued from the photo at full resolution
(core.engine.boundary): no step at the hole's edge, the fill itself deeper in, known pixels exact."""

import cv2
import numpy as np
import pytest

from core.engine.boundary import BAND_CELLS, MAX_BAND, band_width, continue_boundary
from training.metrics.pixel import seam


def ramp(size: int) -> np.ndarray:
    """(size, size, 3) uint8: a smooth diagonal colour ramp."""
    y, x = np.mgrid[:size, :size]
    return np.stack([40 + 150 * x / size, 60 + 120 * y / size, 90 + 60 * (x + y) / (2 * size)], axis=-1).round().astype(np.uint8)


def centre_hole(size: int, side: int) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    start = (size - side) // 2
    hole[start : start + side, start : start + side] = True
    return hole


def test_the_band_is_a_few_cells_of_the_reduced_scale_and_none_at_full_scale():
    assert band_width(1) == 0
    assert band_width(2) == 2 * BAND_CELLS
    assert band_width(1000) == MAX_BAND


def test_a_fill_off_by_a_step_meets_the_photo_without_it_and_is_itself_deeper_in():
    size, width = 128, 12
    truth = ramp(size)
    hole = centre_hole(size, 64)
    fill = np.clip(truth.astype(int) + 40, 0, 255).astype(np.uint8)
    composite = np.where(hole[..., None], fill, truth)
    out = continue_boundary(composite, hole, width)
    assert np.array_equal(out[~hole], truth[~hole])
    assert seam(composite, hole) > 35 and seam(out, hole) < 5, (seam(composite, hole), seam(out, hole))
    depth = cv2.distanceTransform(hole.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5)
    deep = depth >= width
    assert deep.any() and np.array_equal(out[deep], fill[deep])
    middle_of_band = hole & (np.abs(depth - width / 2) < 1)
    step = (out[middle_of_band].astype(int) - truth[middle_of_band]).mean()
    assert 10 < step < 30, "halfway through the band the result is halfway between the photo's continuation and the fill"


@pytest.mark.parametrize("width", [0, 8])
def test_only_the_holes_band_changes_and_no_hole_changes_nothing(width):
    rng = np.random.default_rng(0)
    filled = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    hole = centre_hole(64, 20)
    out = continue_boundary(filled, hole, width)
    assert np.array_equal(out[~hole], filled[~hole])
    assert np.array_equal(out[hole], filled[hole]) == (width == 0)
    assert np.array_equal(continue_boundary(filled, np.zeros((64, 64), bool), width), filled)
