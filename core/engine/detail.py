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

MAX_SOURCES = 4096
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
    upsampled = cv2.resize(low_fill, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    if factor == 1:
        return np.where(hole[..., None], low_fill, window)
    residual = window.astype(np.float32) - upsampled
    hole_cells = _cells(hole, factor)
    # A source cell's residual is read one cell around it, so its whole 3×3 neighbourhood must be known.
    clear = cv2.erode((~hole_cells).astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    sources = np.flatnonzero(clear)
    targets = np.flatnonzero(hole_cells)
    if len(sources) == 0:
        return np.where(hole[..., None], np.clip(upsampled.round(), 0, 255).astype(np.uint8), window)
    if len(sources) > MAX_SOURCES:
        sources = sources[np.linspace(0, len(sources) - 1, MAX_SOURCES).round().astype(np.int64)]
    matches = sources[_nearest_sources(_neighbourhoods(low_fill.astype(np.float32)), targets, sources)]
    detail = _aggregate(residual, factor, targets, matches)
    filled = np.clip((upsampled + detail).round(), 0, 255).astype(np.uint8)
    return np.where(hole[..., None], filled, window)


def _aggregate(residual: np.ndarray, factor: int, targets: np.ndarray, matches: np.ndarray) -> np.ndarray:
    """(S, S, 3) residual -> (S, S, 3) detail: each target cell's hat-weighted residual around its
    matched cell, summed and normalised by the hats' sum (0 outside the target cells' reach)."""
    size = residual.shape[0]
    s = size // factor
    half = factor // 2
    hat = _hat(factor)[..., None]
    # Cell c's hat covers pixels [c·f − f/2, c·f + 3f/2); pad by f so every hat lies inside.
    padded = cv2.copyMakeBorder(residual, factor, factor, factor, factor, cv2.BORDER_REFLECT_101)
    detail = np.zeros((size + 2 * factor, size + 2 * factor, 3), np.float32)
    weight = np.zeros((size + 2 * factor, size + 2 * factor, 1), np.float32)
    span = np.arange(2 * factor)
    for phase_y in (0, 1):
        for phase_x in (0, 1):
            # Cells of one parity in both axes have hats that do not overlap: add them in one step.
            chosen = ((targets // s) % 2 == phase_y) & ((targets % s) % 2 == phase_x)
            if not chosen.any():
                continue
            target, match = targets[chosen], matches[chosen]
            ty, tx = (target // s) * factor + factor - half, (target % s) * factor + factor - half
            my, mx = (match // s) * factor + factor - half, (match % s) * factor + factor - half
            rows, cols = (ty[:, None] + span)[:, :, None], (tx[:, None] + span)[:, None, :]
            source = padded[(my[:, None] + span)[:, :, None], (mx[:, None] + span)[:, None, :]]
            detail[rows, cols] += source * hat
            weight[rows, cols] += hat
    inner = slice(factor, factor + size)
    detail, weight = detail[inner, inner], weight[inner, inner]
    return np.where(weight > 0, detail / np.maximum(weight, 1e-6), 0)
