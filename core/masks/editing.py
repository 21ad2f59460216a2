"""Editing a hole mask the way a painting tool does: brush strokes, rectangles, grow, shrink, invert.

The mask is (H, W) uint8 with 1 = hole, 0 = known (DESIGN §2), edited in place. Every edit
returns the `Region` it may have changed, so that a front end repaints and stores only that.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Region:
    """Rows top:bottom and columns left:right (half-open) of an image."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    @property
    def is_empty(self) -> bool:
        return self.bottom <= self.top or self.right <= self.left

    def union(self, other: Region | None) -> Region:
        if other is None or other.is_empty:
            return self
        if self.is_empty:
            return other
        return Region(min(self.top, other.top), min(self.left, other.left), max(self.bottom, other.bottom), max(self.right, other.right))

    def clipped(self, height: int, width: int) -> Region:
        return Region(max(self.top, 0), max(self.left, 0), min(self.bottom, height), min(self.right, width))


def whole(mask: np.ndarray) -> Region:
    return Region(0, 0, mask.shape[0], mask.shape[1])


def bounding_region(hole: np.ndarray) -> Region | None:
    """The smallest region holding every nonzero pixel of (H, W) `hole`; None when there is none."""
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    if rows.size == 0:
        return None
    return Region(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


def paint_segment(mask: np.ndarray, start: tuple[float, float], end: tuple[float, float], radius: float, value: int) -> Region:
    """Paint a round-capped line of `radius` px from `start` to `end` ((x, y) pixel coordinates) with `value` 0 or 1."""
    r = max(round(radius), 0)
    (x0, y0), (x1, y1) = (round(c) for c in start), (round(c) for c in end)
    region = Region(min(y0, y1) - r - 1, min(x0, x1) - r - 1, max(y0, y1) + r + 2, max(x0, x1) + r + 2).clipped(*mask.shape)
    if region.is_empty:
        return region
    window = mask[region.slices]
    offset = (x0 - region.left, y0 - region.top), (x1 - region.left, y1 - region.top)
    # OpenCV draws a line of thickness 2r as wide as a disk of radius r
    cv2.line(window, offset[0], offset[1], int(value), thickness=max(2 * r, 1), lineType=cv2.LINE_8)
    cv2.circle(window, offset[0], r, int(value), thickness=-1)
    cv2.circle(window, offset[1], r, int(value), thickness=-1)
    return region


def paint_rectangle(mask: np.ndarray, corner: tuple[float, float], other: tuple[float, float], value: int) -> Region:
    """Set every pixel of the rectangle spanned by two (x, y) corners (both inclusive) to `value`."""
    (xa, ya), (xb, yb) = corner, other
    region = Region(int(min(ya, yb)), int(min(xa, xb)), int(max(ya, yb)) + 1, int(max(xa, xb)) + 1).clipped(*mask.shape)
    if not region.is_empty:
        mask[region.slices] = value
    return region


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def grow(mask: np.ndarray, pixels: int) -> Region:
    """Dilate the hole by a disk of `pixels` radius."""
    mask[...] = cv2.dilate(mask, _disk(pixels))
    return whole(mask)


def shrink(mask: np.ndarray, pixels: int) -> Region:
    """Erode the hole by a disk of `pixels` radius."""
    mask[...] = cv2.erode(mask, _disk(pixels), borderType=cv2.BORDER_REPLICATE)
    return whole(mask)


def invert(mask: np.ndarray) -> Region:
    """Holes become known and known pixels holes."""
    np.subtract(1, mask, out=mask)
    return whole(mask)


def clear(mask: np.ndarray) -> Region:
    mask[...] = 0
    return whole(mask)
