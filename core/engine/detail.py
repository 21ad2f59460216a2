"""Full-resolution detail for a fill made at a reduced scale: contextual residual aggregation
(Yi et al., "Contextual Residual Aggregation for Ultra High-Resolution Image Inpainting", CVPR 2020),
with patch matching in place of learned attention, so it needs no training.

A window of side S = f·s is filled at side s. The result is a two-band pyramid:
- the low band U is the filled low-resolution composite, upsampled to S. Its known pixels are the
  downscaled window itself, so U meets the known pixels without a colour step;
- the high band of the known pixels is their residual R = window − U. Each hole cell (the f×f
  pixels under one low-resolution pixel) takes the residual around the known cell whose
  low-resolution neighbourhood, in the filled composite, is most like its own, blended with its
  neighbours' by bilinear hats, so the copied detail has no block edges.
The window's known pixels are returned unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_SOURCES = 2048
"""Known cells a hole cell is matched against at most (an even subset beyond that): bounds the time."""
MATCH_CHUNK = 2048
"""Hole cells matched per matrix product (bounds the memory)."""


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


def _nearest_sources(features: np.ndarray, targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """The index (into `sources`) of the nearest source cell for each target cell, by L2 distance."""
    source_features = features[sources]
    source_norms = np.einsum("ij,ij->i", source_features, source_features)
    nearest = np.empty(len(targets), np.int64)
    for start in range(0, len(targets), MATCH_CHUNK):
        chunk = features[targets[start : start + MATCH_CHUNK]]
        distances = source_norms[None, :] - 2 * chunk @ source_features.T
        nearest[start : start + len(chunk)] = distances.argmin(axis=1)
    return nearest


def _hat(factor: int) -> np.ndarray:
    """(2f, 2f) float32: the bilinear hat of a cell, 1 at its centre falling to 0 one cell away;
    hats at a stride of f sum to 1."""
    x = (np.arange(2 * factor) + 0.5 - factor) / factor
    line = np.clip(1 - np.abs(x), 0, None).astype(np.float32)
    return line[:, None] * line[None, :]


def add_detail(window: np.ndarray, hole: np.ndarray, low_fill: np.ndarray) -> np.ndarray:
    """window: (S, S, 3) uint8 (its hole pixels are ignored), hole: (S, S) bool, low_fill: (s, s, 3)
    uint8, the filled composite of the window downscaled to s (S = f·s, f a whole number)
    -> (S, S, 3) uint8: the fill at full resolution, known pixels unchanged."""
    size, low_size = window.shape[0], low_fill.shape[0]
    assert window.shape == (size, size, 3) and hole.shape == (size, size) and low_fill.shape == (low_size, low_size, 3), (
        window.shape, hole.shape, low_fill.shape)
    assert size % low_size == 0, (size, low_size)
    factor = size // low_size
    if factor == 1:
        return np.where(hole[..., None], low_fill, window)
    upsampled = cv2.resize(low_fill, (size, size), interpolation=cv2.INTER_CUBIC)
    hole_cells = _cells(hole, factor)
    # A source cell's residual is read one cell around it, so its whole 3×3 neighbourhood must be known
    # (which also keeps it off the window's border).
    clear = cv2.erode((~hole_cells).astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    sources = np.flatnonzero(clear)
    targets = np.flatnonzero(hole_cells)
    out = window.copy()
    if len(targets) == 0:
        return out
    if len(sources) == 0:
        out[hole] = upsampled[hole]
        return out
    if len(sources) > MAX_SOURCES:
        sources = sources[np.linspace(0, len(sources) - 1, MAX_SOURCES).round().astype(np.int64)]
    matches = sources[_nearest_sources(_neighbourhoods(low_fill.astype(np.float32)), targets, sources)]
    top, left, detail = _aggregate(window, upsampled, factor, targets, matches)
    bottom, right = min(top + detail.shape[0], size), min(left + detail.shape[1], size)
    y0, x0 = max(top, 0), max(left, 0)
    box = np.s_[y0:bottom, x0:right]
    rebuilt = np.clip(upsampled[box] + detail[y0 - top : bottom - top, x0 - left : right - left], 0, 255).round().astype(np.uint8)
    np.copyto(out[box], rebuilt, where=hole[box][..., None])
    return out


def _aggregate(
    window: np.ndarray, upsampled: np.ndarray, factor: int, targets: np.ndarray, matches: np.ndarray
) -> tuple[int, int, np.ndarray]:
    """The detail over the target cells' reach: each target cell's hat-weighted residual (window −
    upsampled) around its matched cell, summed and normalised by the hats' sum. Returns (top, left)
    of the region in window pixels (it may start before the window) and its (h, w, 3) float32 detail."""
    s = window.shape[0] // factor
    half = factor // 2
    hat = _hat(factor)[..., None]
    target_rows, target_cols = targets // s, targets % s
    # Cell c's hat covers pixels [c·f − f/2, c·f − f/2 + 2f).
    top, left = int(target_rows.min()) * factor - half, int(target_cols.min()) * factor - half
    height = (int(target_rows.max()) + 1) * factor - half + factor - top
    width = (int(target_cols.max()) + 1) * factor - half + factor - left
    detail = np.zeros((height, width, 3), np.float32)
    weight = np.zeros((height, width, 1), np.float32)
    span = 2 * factor
    used, which = np.unique(matches, return_inverse=True)
    weighted = np.empty((len(used), span, span, 3), np.float32)
    for k, match in enumerate(used.tolist()):
        my, mx = (match // s) * factor - half, (match % s) * factor - half
        residual = window[my : my + span, mx : mx + span].astype(np.float32) - upsampled[my : my + span, mx : mx + span]
        weighted[k] = residual * hat
    for ty, tx, k in zip((target_rows * factor - half - top).tolist(), (target_cols * factor - half - left).tolist(), which.tolist()):
        detail[ty : ty + span, tx : tx + span] += weighted[k]
        weight[ty : ty + span, tx : tx + span] += hat
    return top, left, np.where(weight > 0, detail / np.maximum(weight, 1e-6), 0)
