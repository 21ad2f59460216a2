"""Masks for training, evaluation, tests and the app (DESIGN §5). A mask is bool (H, W), True = hole.

Free-form masks are random brush strokes plus rectangles, grown stroke by stroke until their
hole fraction reaches a target drawn inside the requested coverage range (the paper's buckets:
hard 50–60 %, extreme 70–90 %, all 10–90 %). Outpainting masks cover one side or a border
frame. Every draw comes from a numpy Generator, so the same seed gives the same masks.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np

from core.errors import InvertFillError
from core.io.image_io import IMAGE_SUFFIXES
from core.masks.reading import read_mask

BUCKETS: dict[str, tuple[float, float]] = {"hard": (0.5, 0.6), "extreme": (0.7, 0.9), "all": (0.1, 0.9)}
OUTPAINT_KINDS = ("left", "right", "top", "bottom", "border")
MAX_TRIES = 20
MAX_SHAPES = 200
MIN_SCALE = 0.005
Size = int | tuple[int, int]


def _hw(size: Size) -> tuple[int, int]:
    """An int or (H, W) size -> (H, W), both positive."""
    h, w = (size, size) if isinstance(size, (int, np.integer)) else size
    if h < 1 or w < 1:
        raise InvertFillError(f"a mask size must be positive, got {size}")
    return int(h), int(w)


def coverage_of(mask: np.ndarray) -> float:
    """The hole fraction of a bool mask (H, W)."""
    return float(np.count_nonzero(mask)) / mask.size


def _fold(value: float, top: float) -> float:
    """Reflect a coordinate that left [0, top] back inside it."""
    return float(np.clip(top - abs(top - abs(value)), 0, top))


def _add_stroke(canvas: np.ndarray, rng: np.random.Generator, scale: float) -> None:
    """Draw one brush stroke on a uint8 (H, W) canvas: a random walk of 4–12 vertices, thick lines
    with round joints, bouncing off the edges; width and step lengths grow with `scale`."""
    h, w = canvas.shape
    side = math.sqrt(h * w)
    width = max(1, round(rng.uniform(0.03, 0.09) * scale * side))
    x, y = rng.uniform(0, w - 1), rng.uniform(0, h - 1)
    angle = rng.uniform(0, 2 * math.pi)
    cv2.circle(canvas, (round(x), round(y)), width // 2, 1, -1)
    for _ in range(rng.integers(4, 13)):
        angle += rng.uniform(-math.pi / 3, math.pi / 3)
        length = rng.uniform(0.05, 0.15) * scale * side
        nx, ny = _fold(x + length * math.cos(angle), w - 1), _fold(y + length * math.sin(angle), h - 1)
        angle = math.atan2(ny - y, nx - x) if (nx, ny) != (x, y) else angle
        cv2.line(canvas, (round(x), round(y)), (round(nx), round(ny)), 1, width)
        cv2.circle(canvas, (round(nx), round(ny)), width // 2, 1, -1)
        x, y = nx, ny


def _add_rectangle(canvas: np.ndarray, rng: np.random.Generator, scale: float) -> None:
    """Draw one filled rectangle on a uint8 (H, W) canvas, each side 8–25 % × `scale` of the canvas side."""
    h, w = canvas.shape
    rh, rw = (min(s, max(1, round(rng.uniform(0.08, 0.25) * scale * s))) for s in (h, w))
    top, left = rng.integers(0, h - rh + 1), rng.integers(0, w - rw + 1)
    canvas[top : top + rh, left : left + rw] = 1


def _grow(
    shape: tuple[int, int], target: float, coverage: tuple[float, float], rng: np.random.Generator
) -> np.ndarray | None:
    """Add strokes (80 %) and rectangles (20 %) until the hole fraction reaches `target` without
    passing hi: uint8 (H, W), or None if the shapes did not land it in [lo, hi].

    Shapes are larger for larger targets. A shape that would pass hi is taken back; the mask then
    stops if it is already in [lo, hi], or the next shapes are smaller, down to about one pixel
    (MIN_SCALE), after which the try is given up.
    """
    lo, hi = coverage
    canvas = np.zeros(shape, np.uint8)
    filled, scale = 0.0, 0.5 + target
    for _ in range(MAX_SHAPES):
        trial = canvas.copy()
        (_add_rectangle if rng.random() < 0.2 else _add_stroke)(trial, rng, scale)
        grown = coverage_of(trial)
        if grown <= hi:
            canvas, filled = trial, grown
            if filled >= target:
                return canvas
        elif filled >= lo:
            return canvas
        elif scale > MIN_SCALE:
            scale *= 0.8
        else:
            break
    return None


def free_form_mask(size: Size, coverage: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Strokes and rectangles whose hole fraction lies in `coverage` = (lo, hi): bool (H, W).

    Each try draws a target uniformly in [lo, hi] and grows a mask up to it (`_grow`), so a wide
    range such as "all" is covered evenly; after MAX_TRIES failed tries an InvertFillError says so.
    """
    lo, hi = coverage
    if not 0.0 <= lo < hi <= 1.0:
        raise InvertFillError(f"coverage must be a range 0 ≤ lo < hi ≤ 1, got {coverage}")
    shape = _hw(size)
    for _ in range(MAX_TRIES):
        canvas = _grow(shape, rng.uniform(lo, hi), (lo, hi), rng)
        if canvas is not None:
            return canvas.astype(bool)
    h, w = shape
    raise InvertFillError(f"could not draw a {h}×{w} mask with coverage in [{lo}, {hi}] in {MAX_TRIES} tries")


def bucket_mask(bucket: str, size: Size, rng: np.random.Generator) -> np.ndarray:
    """A free-form mask in a named bucket ("hard", "extreme", "all")."""
    if bucket not in BUCKETS:
        raise InvertFillError(f"unknown mask bucket {bucket!r}; use {', '.join(BUCKETS)}")
    return free_form_mask(size, BUCKETS[bucket], rng)


def outpaint_mask(size: Size, rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """A side band of 25–50 % ("left", "right", "top", "bottom") or a border frame of 10–25 % per side."""
    kind = kind or OUTPAINT_KINDS[rng.integers(len(OUTPAINT_KINDS))]
    if kind not in OUTPAINT_KINDS:
        raise InvertFillError(f"unknown outpainting mask {kind!r}; use {', '.join(OUTPAINT_KINDS)}")
    h, w = _hw(size)
    mask = np.zeros((h, w), bool)
    if kind == "border":
        by, bx = (max(1, int(rng.uniform(0.1, 0.25) * s)) for s in (h, w))
        mask[:by], mask[-by:], mask[:, :bx], mask[:, -bx:] = True, True, True, True
        return mask
    extent = h if kind in ("top", "bottom") else w
    band = max(1, int(rng.uniform(0.25, 0.5) * extent))
    sides = {"left": np.s_[:, :band], "right": np.s_[:, w - band :], "top": np.s_[:band], "bottom": np.s_[h - band :]}
    mask[sides[kind]] = True
    return mask


class MaskFolder:
    """Mask files in a folder (e.g. the NVIDIA irregular masks; white = hole), optionally resized."""

    def __init__(self, folder: str | os.PathLike[str], size: Size | None = None) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise InvertFillError(f"mask folder {folder} does not exist or is not a folder")
        self.files = sorted(
            p
            for p in folder.iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
        )
        if not self.files:
            raise InvertFillError(f"mask folder {folder} holds no PNG, JPEG, WebP, BMP or TIFF files")
        self.size = None if size is None else _hw(size)

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> np.ndarray:
        """Mask `index`: bool (H, W), resized by nearest neighbour to `size` if one was given."""
        mask = read_mask(self.files[index])
        if self.size is not None and mask.shape != self.size:
            mask = cv2.resize(mask.astype(np.uint8), self.size[::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
        return mask

    def coverage(self, index: int) -> float:
        """The hole fraction of mask `index` (after any resize)."""
        return coverage_of(self.load(index))


class MaskSampler:
    """Draws training masks from a mixture of buckets, "outpaint" and "folder", by integer key.

    mix: weights per kind, e.g. {"all": 0.6, "outpaint": 0.4}; mask `key` depends only on
    (seed, key), so a run that keys masks by image count is resumable. Negative seeds and keys
    are taken modulo 2**63.
    """

    def __init__(
        self, size: Size, mix: dict[str, float], folder: str | os.PathLike[str] | None = None, seed: int = 0
    ) -> None:
        valid = (*BUCKETS, "outpaint", "folder")
        unknown = sorted(set(mix) - set(valid))
        if unknown or not mix:
            named = ", ".join(unknown) or "(none given)"
            raise InvertFillError(f"unknown mask kind(s) {named}; use {', '.join(valid)}")
        if "folder" in mix and folder is None:
            raise InvertFillError('the mask mix names "folder" but no mask folder was given')
        weights = np.array([mix[k] for k in mix], float)
        if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
            raise InvertFillError("mask mix weights must be finite, non-negative and not all zero")
        self.kinds, self.weights = list(mix), weights / weights.sum()
        self.size, self.seed = _hw(size), seed
        self.folder = MaskFolder(folder, size) if "folder" in mix else None

    def sample(self, key: int) -> np.ndarray:
        """Mask number `key` (any integer): bool (H, W)."""
        rng = np.random.default_rng([self.seed % 2**63, key % 2**63])
        kind = self.kinds[rng.choice(len(self.kinds), p=self.weights)]
        if kind == "outpaint":
            return outpaint_mask(self.size, rng)
        if kind == "folder":
            return self.folder.load(int(rng.integers(len(self.folder))))
        return bucket_mask(kind, self.size, rng)


def mask_set(bucket: str, n: int, size: Size, seed: int) -> list[np.ndarray]:
    """n masks of a bucket (or "outpaint"), the same for the same seed: an evaluation set."""
    rng = np.random.default_rng(seed)
    if bucket == "outpaint":
        return [outpaint_mask(size, rng) for _ in range(n)]
    return [bucket_mask(bucket, size, rng) for _ in range(n)]
