"""Full-resolution detail for a fill made at a reduced scale: contextual residual aggregation
(Yi et al., "Contextual Residual Aggregation for Ultra High-Resolution Image Inpainting", CVPR 2020),
with patch matching in place of learned attention, so it needs no training.

A window of side S = f·s is filled at side s. The result is a two-band pyramid:
- the low band U is the filled low-resolution composite, upsampled to S. Its known pixels are the
  downscaled window itself, so U meets the known pixels without a colour step;
- the high band of the known pixels is their residual R = window − U. Each hole cell (the f×f
  pixels under one low-resolution pixel) takes the residual around the known cell whose
  low-resolution neighbourhood, in the filled composite, is most like its own, blended with its
  neighbours' by hats (see SOFT_BLEND), so the copied detail has no block edges.
The window's known pixels are returned unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .masked_copy import copy_where

MAX_SOURCES = 2048
"""Known cells a hole cell is matched against at most (an even subset beyond that): bounds the time."""
MATCH_CHUNK = 2048
"""Hole cells matched per matrix product (bounds the memory)."""
SOFT_BLEND = 1.0
"""The share of a cell's side over which its copied detail fades into its neighbour's: at 1 each cell's
weight is a bilinear hat, 1 at its centre and 0 at its neighbours' centres (a model's fill)."""
CRISP_BLEND = 0.75
"""The same for a fill that gets the detail in full (a classic fill, see FillMethod.full_detail). Two
unrelated residuals blended half and half keep about 0.7 of their amplitude, so the softer the blend
the flatter the copy: on 24 scenery photos outside the evaluation set (Telea, 512 px, detail through the
boundary band) 1 gave a sharpness of 0.68 (hard masks, 20.77 dB) and 0.70 (extreme, 17.68 dB), 0.75
gave 0.73 (20.71 dB) and 0.76 (17.61 dB), 0.5 gave 0.80 (20.62 dB) and 0.82 (17.55 dB); single-scale
Telea scored 20.60 and 17.37 dB. On faces at 256 px the 64-px faces demo lost 0.01 dB with 0.75, so a
model keeps SOFT_BLEND."""
CRISP_CHOICES = 4
"""With the detail in full, a hole cell copies one of its CRISP_CHOICES nearest source cells at random:
the cells of a smooth region share their nearest source, and copying its residual cell after cell
printed a grid at the cell's period (on dark rock, on skin). On the 24 tuning photos (Telea, 512 px,
hard masks) 1, 2, 4 and 8 choices scored 20.71, 20.71, 20.72 and 20.72 dB, sharpness 0.73, 0.73,
0.72 and 0.72; a model's detail, faded in and softly blended, keeps the nearest (1)."""


@dataclass(frozen=True)
class HighBand:
    """The high band `detail` (h, w, 3) float32 of a window's `hole` (S, S) bool, over the window's pixels
    [top : top + h, left : left + w] (0 away from the hole)."""

    hole: np.ndarray
    detail: np.ndarray
    top: int
    left: int

    def onto(self, image: np.ndarray) -> np.ndarray:
        """image: (S, S, 3) uint8, the low band (its boundary band perhaps continued from the photo)
        -> a copy with the high band added over the hole; its other pixels unchanged."""
        out = image.copy()
        height, width = self.detail.shape[:2]
        box = np.s_[self.top : self.top + height, self.left : self.left + width]
        rebuilt = np.clip(image[box] + self.detail, 0, 255).round().astype(np.uint8)
        copy_where(out[box], rebuilt, self.hole[box])
        return out


class TwoBands:
    """A window's fill at full resolution, in two bands: `low` (S, S, 3) uint8 is the window with its hole
    filled by the upsampled low-resolution fill, `high(blend)` the hole's high band (the costly part);
    `high(blend).onto(low)` is the fill."""

    def __init__(self, window: np.ndarray, hole: np.ndarray, low_fill: np.ndarray) -> None:
        """window: (S, S, 3) uint8 (its hole pixels are ignored), hole: (S, S) bool, low_fill: (s, s, 3)
        uint8, the filled composite of the window downscaled to s (S = f·s, f a whole number)."""
        size, low_size = window.shape[0], low_fill.shape[0]
        assert window.shape == (size, size, 3) and hole.shape == (size, size) and low_fill.shape == (low_size, low_size, 3), (
            window.shape, hole.shape, low_fill.shape)
        assert size % low_size == 0, (size, low_size)
        self.window, self.hole, self.low_fill = window, hole, low_fill
        self.factor = size // low_size
        self.upsampled = low_fill if self.factor == 1 else cv2.resize(low_fill, (size, size), interpolation=cv2.INTER_CUBIC)
        self.low = window.copy()
        copy_where(self.low, self.upsampled, hole)

    def high(self, blend: float = SOFT_BLEND, choices: int = 1) -> HighBand:
        """The hole's high band, its cells blended over `blend` of a cell (see SOFT_BLEND), each copying one
        of its `choices` nearest source cells (see CRISP_CHOICES)."""
        size, factor = self.window.shape[0], self.factor
        no_detail = HighBand(self.hole, np.zeros((0, 0, 3), np.float32), 0, 0)
        if factor == 1:
            return no_detail
        hole_cells = _cells(self.hole, factor)
        # A source cell's residual is read one cell around it, so its whole 3×3 neighbourhood must be known
        # (which also keeps it off the window's border).
        clear = cv2.erode((~hole_cells).astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
        sources = np.flatnonzero(clear)
        targets = np.flatnonzero(hole_cells)
        if len(targets) == 0 or len(sources) == 0:
            return no_detail
        if len(sources) > MAX_SOURCES:
            sources = sources[np.linspace(0, len(sources) - 1, MAX_SOURCES).round().astype(np.int64)]
        matches = sources[_near_sources(_neighbourhoods(self.low_fill.astype(np.float32)), targets, sources, choices)]
        top, left, detail = _aggregate(self.window, self.upsampled, factor, targets, matches, _hat(factor, blend))
        y0, x0 = max(top, 0), max(left, 0)
        bottom, right = min(top + detail.shape[0], size), min(left + detail.shape[1], size)
        return HighBand(self.hole, detail[y0 - top : bottom - top, x0 - left : right - left], y0, x0)


def _cells(hole: np.ndarray, factor: int) -> np.ndarray:
    """(S, S) bool -> (s, s) bool: a cell is a hole cell when any of its f×f pixels is a hole pixel."""
    s = hole.shape[0] // factor
    return hole.reshape(s, factor, s, factor).any(axis=(1, 3))


def _neighbourhoods(low: np.ndarray) -> np.ndarray:
    """(s, s, 3) float32 -> (s·s, 27): each pixel's 3×3 neighbourhood (reflected at the border)."""
    s = low.shape[0]
    padded = cv2.copyMakeBorder(low, 1, 1, 1, 1, cv2.BORDER_REFLECT_101)
    shifted = [padded[dy : dy + s, dx : dx + s] for dy in range(3) for dx in range(3)]
    return np.concatenate(shifted, axis=-1).reshape(s * s, 27)


def _near_sources(features: np.ndarray, targets: np.ndarray, sources: np.ndarray, choices: int) -> np.ndarray:
    """The index (into `sources`) of a source cell for each target cell, by L2 distance: the nearest, or
    one of the `choices` nearest at random (seeded, so a window always gets the same fill)."""
    source_features = features[sources]
    source_norms = np.einsum("ij,ij->i", source_features, source_features)
    choices = min(choices, len(sources))
    rng = np.random.default_rng(0)
    chosen = np.empty(len(targets), np.int64)
    for start in range(0, len(targets), MATCH_CHUNK):
        chunk = features[targets[start : start + MATCH_CHUNK]]
        distances = source_norms[None, :] - 2 * chunk @ source_features.T
        if choices == 1:
            chosen[start : start + len(chunk)] = distances.argmin(axis=1)
            continue
        rows = np.arange(len(chunk))
        ranked = np.empty((len(chunk), choices), np.int64)
        for rank in range(choices):
            ranked[:, rank] = distances.argmin(axis=1)
            distances[rows, ranked[:, rank]] = np.inf
        chosen[start : start + len(chunk)] = ranked[rows, rng.integers(0, choices, len(chunk))]
    return chosen


def _hat(factor: int, blend: float) -> np.ndarray:
    """(2f, 2f) float32: a cell's weight, 1 over its middle and falling linearly to 0 over `blend` of a
    cell's side around its edges (a bilinear hat at 1); hats at a stride of f sum to 1."""
    x = np.abs(np.arange(2 * factor) + 0.5 - factor) / factor
    line = np.clip(((1 + blend) / 2 - x) / blend, 0, 1).astype(np.float32)
    return line[:, None] * line[None, :]


def _aggregate(
    window: np.ndarray, upsampled: np.ndarray, factor: int, targets: np.ndarray, matches: np.ndarray, hat: np.ndarray
) -> tuple[int, int, np.ndarray]:
    """The detail over the target cells' reach: each target cell's hat-weighted residual (window −
    upsampled) around its matched cell, summed and normalised by the hats' sum. Returns (top, left)
    of the region in window pixels (it may start before the window) and its (h, w, 3) float32 detail.

    A cell's hat (2f × 2f, starting f/2 before the cell) covers four f×f blocks of a grid offset by f/2,
    one per quarter of the hat; each block sums the quarters of its four cells in their row-major order
    (one quarter of every cell per pass)."""
    s = window.shape[0] // factor
    half, span = factor // 2, 2 * factor
    rows, cols = targets // s - targets.min() // s, targets % s
    first_col = int(cols.min())
    cols = cols - first_col
    n_rows, n_cols = int(rows.max()) + 2, int(cols.max()) + 2
    used, which = np.unique(matches, return_inverse=True)
    corners = ((used // s) * factor - half, (used % s) * factor - half)
    spans = (span, span)
    residuals = np.lib.stride_tricks.sliding_window_view(window, spans, axis=(0, 1))[corners].astype(np.float32)
    residuals -= np.lib.stride_tricks.sliding_window_view(upsampled, spans, axis=(0, 1))[corners]
    # (used + 1, 3, 2f, 2f): the last one is no cell's (zero), for the blocks without a target cell.
    weighted = np.concatenate([residuals * hat, np.zeros((1, 3, span, span), np.float32)])
    source = np.full((n_rows - 1, n_cols - 1), len(used))
    source[rows, cols] = which
    present = (source < len(used)).astype(np.float32)[:, :, None, None, None]
    detail = np.zeros((n_rows, n_cols, 3, factor, factor), np.float32)
    weight = np.zeros((n_rows, n_cols, 1, factor, factor), np.float32)
    for quarter_row, quarter_col in ((1, 1), (1, 0), (0, 1), (0, 0)):
        quarter = np.s_[quarter_row * factor : (quarter_row + 1) * factor,
                        quarter_col * factor : (quarter_col + 1) * factor]
        blocks = np.s_[quarter_row : quarter_row + n_rows - 1, quarter_col : quarter_col + n_cols - 1]
        detail[blocks] += weighted[:, :, quarter[0], quarter[1]][source]
        weight[blocks] += present * hat[quarter]
    detail /= np.maximum(weight, 1e-6)
    top = (int(targets.min()) // s) * factor - half
    return top, first_col * factor - half, detail.transpose(0, 3, 1, 4, 2).reshape(n_rows * factor, n_cols * factor, 3)
