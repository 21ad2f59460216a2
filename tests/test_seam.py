"""The seam metric: the colour step across the hole's boundary, over hole–known 4-neighbour pairs."""

import math

import numpy as np
import pytest

from training.evaluation import EvalPair, composite, pixel_scores
from training.metrics.pixel import seam


def rectangle_hole(shape: tuple[int, int], rows: slice, columns: slice) -> np.ndarray:
    hole = np.zeros(shape, bool)
    hole[rows, columns] = True
    return hole


def test_a_fill_that_continues_the_known_colours_has_no_seam():
    rows = np.linspace(0, 255, 16).astype(np.uint8)
    image = np.repeat(np.stack([rows, 255 - rows, rows // 2], axis=-1)[:, None], 12, axis=1)
    stripe = rectangle_hole((16, 12), slice(None), slice(4, 8))
    assert seam(image, stripe) == 0
    band = rectangle_hole((16, 12), slice(6, 10), slice(None))
    assert seam(image, band) == pytest.approx(np.abs(image[6].astype(float) - image[5]).mean())


@pytest.mark.parametrize("offset", [20, -20])
def test_a_fill_offset_by_20_levels_on_a_flat_image_scores_20(offset):
    image = np.full((10, 10, 3), 100, np.uint8)
    hole = rectangle_hole((10, 10), slice(3, 7), slice(2, 5))
    filled = composite(image, np.full_like(image, 100 + offset), hole)
    assert seam(filled, hole) == pytest.approx(20)


def test_only_4_neighbours_count_and_each_pair_once():
    image = np.zeros((6, 6, 3), np.uint8)
    image[[1, 1, 4, 4], [1, 4, 1, 4]] = 255
    image[2:4, 2:4] = 100
    image[1, 2:4] = 90
    image[4, 2:4] = 100
    image[2:4, 1] = 70
    image[2:4, 4] = (40, 100, 100)
    hole = rectangle_hole((6, 6), slice(2, 4), slice(2, 4))
    assert seam(image, hole) == pytest.approx((2 * 10 + 2 * 0 + 2 * 30 + 2 * 20) / 8)


def test_masks_without_a_boundary_score_nan_and_are_left_out_of_the_mean():
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    assert math.isnan(seam(image, np.zeros((16, 16), bool)))
    assert math.isnan(seam(image, np.ones((16, 16), bool)))
    hole = rectangle_hole((16, 16), slice(4, 12), slice(4, 12))
    pairs = [EvalPair("none", image, np.zeros((16, 16), bool)), EvalPair("square", image, hole)]
    flat = composite(image, np.full_like(image, 0), hole)
    assert pixel_scores(pairs, [image, flat])["seam"] == pytest.approx(seam(flat, hole))
    assert math.isnan(pixel_scores(pairs[:1], [image])["seam"])
