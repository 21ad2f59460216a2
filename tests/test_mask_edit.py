"""Mask editing: strokes and rectangles change only the region they report; grow, shrink, invert."""

import numpy as np

from core.masks import editing
from core.masks.editing import Region, bounding_region


def test_stroke_paints_a_round_capped_line_inside_its_region():
    mask = np.zeros((100, 200), np.uint8)
    region = editing.paint_segment(mask, (20, 50), (150, 50), 5, 1)
    assert bounding_region(mask) == Region(45, 15, 56, 156)
    assert region.union(bounding_region(mask)) == region
    assert mask[50, 20:151].all() and mask[45:56, 80].all() and not mask[40, 80] and not mask[50, 10]


def test_eraser_stroke_clears_and_strokes_clip_at_the_border():
    mask = np.ones((40, 40), np.uint8)
    region = editing.paint_segment(mask, (-10, 0), (5, 0), 3, 0)
    assert region.top == 0 and region.left == 0
    assert not mask[0, :5].any() and mask[10, 10] == 1 and mask.sum() > 40 * 40 - 60


def test_rectangle_covers_both_corners_in_any_order():
    mask = np.zeros((30, 30), np.uint8)
    region = editing.paint_rectangle(mask, (20.7, 10.2), (5.1, 3.9), 1)
    assert region == Region(3, 5, 11, 21) and int(mask.sum()) == 8 * 16


def test_grow_shrink_and_invert():
    mask = np.zeros((50, 50), np.uint8)
    mask[20:30, 20:30] = 1
    grown = mask.copy()
    editing.grow(grown, 3)
    assert bounding_region(grown) == Region(17, 17, 33, 33) and grown[20:30, 20:30].all()
    shrunk = mask.copy()
    editing.shrink(shrunk, 2)
    assert bounding_region(shrunk) == Region(22, 22, 28, 28)
    inverted = mask.copy()
    editing.invert(inverted)
    assert np.array_equal(inverted, 1 - mask)


def test_bounding_region_of_an_empty_mask_is_none():
    assert bounding_region(np.zeros((5, 5), bool)) is None
