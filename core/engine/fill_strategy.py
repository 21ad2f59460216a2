"""Strategies for images of any size (DESIGN §6, large images).

A fill method works on square windows, planned by core.engine.window_plan. `detail` (the default)
fills each window at the method's working size and rebuilds the full resolution with the photo's own
fine detail (core.engine.detail), its outer band continued from the photo at full resolution
(core.engine.boundary; a classic fill keeps the detail there too); a scene model's tiles over a large
hole region then fill it again, and the result there is the mean of both fills. `crop`, `resize` and
`full` resize a window of another size than the method's to it and back. A window that reaches past
the image is padded by reflection, its hole with it (the pixels under a hole, which a user wants gone,
never show as context). Only hole pixels change.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import cv2
import numpy as np

from core.wording import counted

from .boundary import band_width, continue_boundary
from .choices import DEFAULT_STRATEGY
from .detail import CRISP_BLEND, CRISP_CHOICES, SOFT_BLEND, TwoBands
from .masked_copy import copy_where
from .progress import Progress, ProgressCallback
from .window_plan import Window, plan_detail, plan_windows

if TYPE_CHECKING:
    from .fill_methods import FillMethod


def window_seed(seed: int, variation: int, window: int) -> int:
    """A 63-bit seed for one window of one variation, reproducible from the user's seed."""
    return int(np.random.SeedSequence([seed, variation, window]).generate_state(1, np.uint64)[0] >> 1)


def _cut(array: np.ndarray, window: Window, reflect: bool) -> np.ndarray:
    """The window's pixels; the part past the image is reflected (or zero)."""
    h, w = array.shape[:2]
    top, left, bottom, right = window.top, window.left, window.top + window.side, window.left + window.side
    inside = array[max(top, 0) : min(bottom, h), max(left, 0) : min(right, w)]
    pads = (max(-top, 0), max(bottom - h, 0), max(-left, 0), max(right - w, 0))
    if not any(pads):
        return inside.copy()
    border = cv2.BORDER_REFLECT_101 if reflect and min(inside.shape[:2]) > 1 else cv2.BORDER_CONSTANT
    return cv2.copyMakeBorder(inside, *pads, border, value=0)


def _prepare(method: FillMethod, rgb8: np.ndarray, hole: np.ndarray, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """The window's pixels and hole at the method's size: (S, S, 3) uint8 and (S, S) bool."""
    patch = _cut(rgb8, window, reflect=True)
    patch_hole = _cut(hole.astype(np.uint8), window, reflect=True)
    size = method.resolution or window.side
    if size != window.side:
        shrink = cv2.INTER_AREA if window.side > size else cv2.INTER_CUBIC
        patch = cv2.resize(patch, (size, size), interpolation=shrink)
        patch_hole = cv2.resize(patch_hole.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) > 0
    return patch, patch_hole.astype(bool)


def _shrink_known(patch: np.ndarray, hole: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, S, 3) uint8 and (S, S) bool -> the same at `size` (a divisor of S): each pixel the mean of
    the known pixels under it (within three levels: it is stored in 8 bits before the division by the
    known share), a hole where fewer than half of them are known."""
    if size == patch.shape[0]:
        return patch, hole
    small = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    factor = patch.shape[0] // size
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    small_hole = np.zeros((size, size), bool)
    if len(rows) == 0:
        return small, small_hole
    # Only cells with hole pixels differ from the plain mean: the known pixels' mean is computed over their box alone.
    top, bottom, left, right = rows[0] // factor, rows[-1] // factor + 1, cols[0] // factor, cols[-1] // factor + 1
    block = np.s_[top * factor : bottom * factor, left * factor : right * factor]
    known = (~hole[block]).view(np.uint8)
    cells_size = (right - left, bottom - top)
    known_pixels = np.zeros_like(patch[block])
    copy_where(known_pixels, patch[block], known.view(bool))
    total = cv2.resize(known_pixels, cells_size, interpolation=cv2.INTER_AREA).astype(np.float32)
    share = cv2.resize(known * np.uint8(255), cells_size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    small[top:bottom, left:right] = np.clip(total / np.maximum(share, 1 / 255)[..., None], 0, 255).round().astype(np.uint8)
    small_hole[top:bottom, left:right] = share < 0.5
    return small, small_hole


def _paste(filled: np.ndarray, rgb8: np.ndarray, hole: np.ndarray, window: Window) -> None:
    """Copy a filled window (S, S, 3) into rgb8 (H, W, 3) where `hole` is still set, then mark it known."""
    if filled.shape[0] != window.side:
        filled = cv2.resize(filled, (window.side, window.side), interpolation=cv2.INTER_CUBIC)
    h, w = hole.shape
    top, left = max(window.top, 0), max(window.left, 0)
    bottom, right = min(window.top + window.side, h), min(window.left + window.side, w)
    if window.core is not None:
        top, left = max(top, window.core[0]), max(left, window.core[1])
        bottom, right = min(bottom, window.core[2]), min(right, window.core[3])
    rows, cols = np.flatnonzero(hole[top:bottom, left:right].any(axis=1)), np.flatnonzero(hole[top:bottom, left:right].any(axis=0))
    if len(rows) == 0:
        return
    # Only the hole's bounding box inside the window is copied (a large window's hole is often small).
    top, bottom, left, right = top + rows[0], top + rows[-1] + 1, left + cols[0], left + cols[-1] + 1
    region = hole[top:bottom, left:right]
    source = filled[top - window.top : bottom - window.top, left - window.left : right - window.left]
    copy_where(rgb8[top:bottom, left:right], source, region)
    region[:] = False


def fill_rgb8(
    method: FillMethod,
    rgb8: np.ndarray,
    hole: np.ndarray,
    strategy: str = DEFAULT_STRATEGY,
    seed: int = 0,
    variation: int = 0,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    notes: list[str] | None = None,
) -> np.ndarray | None:
    """rgb8: (H, W, 3) uint8, hole: (H, W) bool -> a filled copy; None if cancelled.

    The windows go to the method `method.windows_per_pass` at a time (an InvertFill model on CUDA
    fills up to 16 in one forward pass), cut from the image as the earlier passes left it; each
    pastes the hole pixels that no window before it has filled, largest region first, so later
    passes see the fills of earlier ones. Then a scene model's tiles (see plan_detail) fill their
    cores again, from the filled image with those cores' hole pixels as the hole, and the result there
    is the mean of both fills. Known pixels are copied unchanged.
    `cancel` is checked before and after every pass, so a cancel during the last one also returns None.
    Notes for the user (see plan_detail) are appended to `notes` when it is given.
    """
    assert rgb8.shape[:2] == hole.shape and rgb8.dtype == np.uint8, (rgb8.shape, hole.shape, rgb8.dtype)
    tiles: list[Window] = []
    if strategy == DEFAULT_STRATEGY:
        plan = plan_detail(method, rgb8, hole)
        windows, tiles = plan.windows, plan.tiles
        if notes is not None:
            notes.extend(plan.notes)
    else:
        windows = plan_windows(hole, strategy, method.resolution)
    run = _WindowRun(method, strategy == DEFAULT_STRATEGY, seed, variation, len(windows) + len(tiles), progress, cancel)
    result = run.fill(rgb8, hole, windows)
    if result is None or not tiles:
        return result
    retiled = np.zeros_like(hole)
    for tile in tiles:
        top, left, bottom, right = tile.core
        retiled[top:bottom, left:right] = hole[top:bottom, left:right]
    tiled = run.fill(result, retiled, tiles)
    if tiled is None:
        return None
    mean = ((result.astype(np.uint16) + tiled + 1) // 2).astype(np.uint8)
    copy_where(result, mean, retiled)
    return result


def _rebuild(method: FillMethod, patch: np.ndarray, hole: np.ndarray, low_fill: np.ndarray, window: Window) -> np.ndarray:
    """A `detail` window's fill at full resolution: patch (S, S, 3) uint8 and hole (S, S) bool as cut from
    the image, low_fill (s, s, 3) uint8 the method's fill at the window's work size -> (S, S, 3) uint8.
    The hole's outer band is continued from the photo (core.engine.boundary): in the low band alone for a
    method that gets the detail in full (FillMethod.full_detail), so the band keeps it, the continuation
    running in a second thread beside the high band's matching (OpenCV and numpy let go of the GIL);
    else in the rebuilt fill, the detail fading in with the band."""
    bands = TwoBands(patch, hole, low_fill)
    width = band_width(window.side // window.work)
    if not method.full_detail:
        return continue_boundary(bands.high(SOFT_BLEND).onto(bands.low), hole, width)
    with ThreadPoolExecutor(max_workers=1) as pool:
        continued = pool.submit(continue_boundary, bands.low, hole, width)
        high = bands.high(CRISP_BLEND, CRISP_CHOICES)
        return high.onto(continued.result())


class _WindowRun:
    """Fills lists of windows for fill_rgb8, counting passes (each pass's seed) and windows (the progress) over all of them."""

    def __init__(self, method: FillMethod, detail: bool, seed: int, variation: int, total: int,
                 progress: ProgressCallback | None, cancel: threading.Event | None) -> None:
        self.method, self.detail, self.seed, self.variation = method, detail, seed, variation
        self.total, self.progress, self.cancel = total, progress, cancel
        self.passes = self.done = 0

    def fill(self, rgb8: np.ndarray, hole: np.ndarray, windows: list[Window]) -> np.ndarray | None:
        """A copy of rgb8 (H, W, 3) uint8 with every pixel of `hole` (H, W) bool filled by `windows`; None if cancelled."""
        result, remaining = rgb8.copy(), hole.copy()
        per_pass = self.method.windows_per_pass
        for first in range(0, len(windows), per_pass):
            if self.cancel is not None and self.cancel.is_set():
                return None
            batch = windows[first : first + per_pass]
            if self.detail:
                full_size = [(_cut(result, window, reflect=True), _cut(remaining.view(np.uint8), window, reflect=True).view(bool))
                             for window in batch]
                patches, holes = zip(*(_shrink_known(patch, patch_hole, window.work) for (patch, patch_hole), window in zip(full_size, batch)))
            else:
                patches, holes = zip(*(_prepare(self.method, result, remaining, window) for window in batch))
            filled = self.method.fill_windows(list(patches), list(holes), window_seed(self.seed, self.variation, self.passes), self.variation)
            self.passes += 1
            if self.cancel is not None and self.cancel.is_set():
                return None
            if self.detail:
                filled = [_rebuild(self.method, patch, patch_hole, low, window)
                          for (patch, patch_hole), low, window in zip(full_size, filled, batch, strict=True)]
            for window, patch in zip(batch, filled, strict=True):
                _paste(patch, result, remaining, window)
            self.done += len(batch)
            if self.progress is not None:
                self.progress(Progress(self.done, self.total, f"filled {self.done} of {counted(self.total, 'window')}"))
        assert not remaining.any(), "the windows must cover every hole pixel"
        return result
