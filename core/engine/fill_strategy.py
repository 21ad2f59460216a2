"""Strategies for images of any size (DESIGN §6, large images).

A fill method works on square windows. `detail` (the default) chooses each window by what the
model learned (its framing: the whole face for an aligned-face model, context of a few times the
hole for a scene model, a ring of context for a classic fill), fills it at the method's working
size and rebuilds the full resolution with the photo's own fine detail (core.engine.detail), its
outer band continued from the photo at full resolution (core.engine.boundary).
`crop` fills one window around each connected hole region (with context around it, at the
image's own scale when the hole is small), `resize` one window over the whole image, `full` only
an image at the method's own size; a window of another size than the method's is resized to it
and back. A window that reaches past the image is padded by reflection and the padding counts
as known. Only hole pixels change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from core.errors import InvertFillError
from core.wording import counted

from .boundary import band_width, continue_boundary
from .choices import DEFAULT_STRATEGY, STRATEGIES
from .detail import add_detail
from .faces import Square, aligned_square, find_faces
from .progress import Progress, ProgressCallback

if TYPE_CHECKING:
    from .fill_methods import FillMethod

CONTEXT = 2.0
"""A crop window's side is CONTEXT times the hole region's larger side (at least the model size)."""
SCENE_CONTEXT = 3.0
"""With `detail`, a scene model's window is SCENE_CONTEXT times the hole region's larger side
(rounded up to a multiple of the model's size), but see SCENE_CONTEXT_LARGE."""
SCENE_CONTEXT_LARGE = 1.5
"""Where SCENE_CONTEXT times the region passes the image, the window is the image's larger side or
SCENE_CONTEXT_LARGE times the region, whichever is wider: a wider window is mostly mirrored border,
filled at a higher factor. With the 64-px general model on 40 photos of general512 outside the
evaluation set (masks of 10-90 %, regions spanning most of the photo), 1.5 scored best of 1, 1.5, 2
and 3 (hard masks 19.81 dB, SSIM 0.701 against 19.63 and 0.691 at 3); a small hole in the sky of a
512-px landscape kept its error of 3.8 levels with 3×, where 1.5× everywhere made it 6.0."""
PORTRAIT = 0.8
"""With `detail`, a face whose aligned square spans this share of the image's shorter side makes
the image a portrait: the window is the whole image."""
CLASSIC_HOLE_PIXELS = 4096
"""With `detail`, a classic fill works at the scale where a window's hole has at most about this
many pixels (so one call takes a fraction of a second, and a cancel is seen soon). On 20 scenery
photos outside the evaluation set (hard masks, 512 px), Telea scored 22.32 dB here, 22.07 at
16384, 22.25 at 1024, and 21.73 single-scale."""
MERGE_FRACTION = 1 / 16
"""Holes closer than this fraction of the model size (or 8 px) share one window."""
NO_FACE = "no face found: this faces model paints faces; a classic fill (Model → Telea, --method telea) suits this photo better"
FACE_ELSEWHERE = "part of the hole lies outside every face found: it was filled in a window over the whole image"


@dataclass(frozen=True)
class Window:
    """A square window at (top, left) with side `side`; it may reach past the image. `work` is the
    side it is filled at with `detail` (a divisor of `side`); None: the method's own size."""

    top: int
    left: int
    side: int
    work: int | None = None


def window_seed(seed: int, variation: int, window: int) -> int:
    """A 63-bit seed for one window of one variation, reproducible from the user's seed."""
    return int(np.random.SeedSequence([seed, variation, window]).generate_state(1, np.uint64)[0] >> 1)


def _centred(center: float, side: int, extent: int) -> int:
    """Start of a `side`-long span centred on `center`, kept inside [0, extent) when it fits."""
    start = int(round(center - side / 2))
    if side <= extent:
        return min(max(start, 0), extent - side)
    return (extent - side) // 2


def _hole_regions(hole: np.ndarray, resolution: int | None) -> list[tuple[int, int, int, int]]:
    """The connected hole regions (nearby ones merged) as (y0, y1, x0, x1) spans, largest first."""
    h, w = hole.shape
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    if len(rows) == 0:
        return []
    merge = max(8, int((resolution or 128) * MERGE_FRACTION))
    # Only the hole's bounding box (and the reach of the merge) is labelled: a small hole in a large photo costs little.
    top, left = max(rows[0] - merge - 1, 0), max(cols[0] - merge - 1, 0)
    bottom, right = min(rows[-1] + merge + 2, h), min(cols[-1] + merge + 2, w)
    near = hole[top:bottom, left:right].view(np.uint8)
    grown = cv2.dilate(near, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * merge + 1, 2 * merge + 1)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    regions = sorted(stats[1:count].tolist(), key=lambda s: -s[cv2.CC_STAT_AREA])
    spans = []
    for x, y, bw, bh, _ in regions:
        x0, x1 = _undilate(left + x, left + x + bw, merge, w)
        y0, y1 = _undilate(top + y, top + y + bh, merge, h)
        spans.append((y0, y1, x0, x1))
    return spans


def plan_windows(hole: np.ndarray, strategy: str, resolution: int | None) -> list[Window]:
    """The windows that cover every hole pixel of `hole` (H, W) bool, largest region first
    (`detail` is planned by `plan_detail_windows`, which also needs the image)."""
    h, w = hole.shape
    if strategy == "full":
        if resolution is not None and (h, w) != (resolution, resolution):
            raise InvertFillError(f"strategy full needs a {resolution}×{resolution} image; this one is {w}×{h} (use crop or resize)")
        return [Window(0, 0, max(h, w))] if resolution is None else [Window(0, 0, resolution)]
    if strategy == "resize":
        side = max(h, w)
        return [Window(_centred(h / 2, side, h), _centred(w / 2, side, w), side)]
    if strategy != "crop":
        raise InvertFillError(f"unknown strategy {strategy!r}; use {', '.join(STRATEGIES)}")
    windows = []
    for y0, y1, x0, x1 in _hole_regions(hole, resolution):
        extent = max(x1 - x0, y1 - y0)
        side = min(max(int(np.ceil(extent * CONTEXT)), resolution or 0), max(h, w))
        windows.append(Window(_centred((y0 + y1) / 2, side, h), _centred((x0 + x1) / 2, side, w), side))
    return windows


def _whole_image(h: int, w: int, work: int) -> Window:
    """One window over the whole (H, W) image, its side a multiple of `work`."""
    side = -(-max(h, w) // work) * work
    return Window(_centred(h / 2, side, h), _centred(w / 2, side, w), side, work)


def _around(y0: int, y1: int, x0: int, x1: int, side: int, h: int, w: int, work: int) -> Window:
    """A window of at least `side` (a multiple of `work`, at least `work`) centred on a region."""
    side = -(-max(side, work) // work) * work
    return Window(_centred((y0 + y1) / 2, side, h), _centred((x0 + x1) / 2, side, w), side, work)


def _face_window(square: Square, h: int, w: int, resolution: int) -> Window:
    """The window of a face's aligned square, or the whole image when the face makes it a portrait."""
    if square.side >= PORTRAIT * min(h, w):
        return _whole_image(h, w, resolution)
    side = -(-max(square.side, resolution) // resolution) * resolution
    grow = (side - square.side) // 2
    return Window(square.top - grow, square.left - grow, side, resolution)


def _classic_work(hole: np.ndarray, window: Window) -> int:
    """The side a classic fill works at in `window`: its hole shrunk to about CLASSIC_HOLE_PIXELS."""
    pixels = int(_cut(hole.astype(np.uint8), window, reflect=False).sum())
    factor = max(1, int(np.ceil(np.sqrt(pixels / CLASSIC_HOLE_PIXELS))))
    return -(-window.side // factor)


def _scene_side(region: tuple[int, int, int, int], h: int, w: int) -> int:
    """A scene model's window side for a hole region: SCENE_CONTEXT times its larger side, but no more
    than the image's larger side or SCENE_CONTEXT_LARGE times the region, whichever is wider."""
    y0, y1, x0, x1 = region
    extent = max(x1 - x0, y1 - y0)
    return int(np.ceil(min(SCENE_CONTEXT * extent, max(max(h, w), SCENE_CONTEXT_LARGE * extent))))


def plan_detail_windows(method: FillMethod, rgb8: np.ndarray, hole: np.ndarray) -> tuple[list[Window], list[str]]:
    """The `detail` windows for `method` over `rgb8` (H, W, 3) uint8 with `hole` (H, W) bool, largest
    region first, and notes for the user (a faces model that finds no face says so)."""
    h, w = hole.shape
    regions = _hole_regions(hole, method.resolution)
    if method.resolution is None:
        windows = []
        for y0, y1, x0, x1 in regions:
            side = min(int(np.ceil(max(x1 - x0, y1 - y0) * CONTEXT)), max(h, w))
            work = _classic_work(hole, Window(_centred((y0 + y1) / 2, side, h), _centred((x0 + x1) / 2, side, w), side))
            window = _around(y0, y1, x0, x1, side, h, w, work)
            if window not in windows:
                windows.append(window)
        return windows, []
    resolution = method.resolution
    if method.framing == "scene":
        return [_around(*region, _scene_side(region, h, w), h, w, resolution) for region in regions], []
    squares = [aligned_square(face) for face in find_faces(rgb8)]
    if not squares:
        return [_whole_image(h, w, resolution)], [NO_FACE]
    windows, notes = [], []
    for y0, y1, x0, x1 in regions:
        holding = [square for square in squares if square.contains((y0 + y1) / 2, (x0 + x1) / 2)]
        if holding:
            window = _face_window(min(holding, key=lambda square: square.side), h, w, resolution)
        else:
            window, notes = _whole_image(h, w, resolution), [FACE_ELSEWHERE]
        if window not in windows:
            windows.append(window)
    return windows, notes


def _undilate(start: int, stop: int, merge: int, extent: int) -> tuple[int, int]:
    """The span of a region before dilation by `merge`; sides clipped at the border stay (a superset)."""
    return (start + merge if start > 0 else 0), (stop - merge if stop < extent else extent)


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
    patch_hole = _cut(hole.astype(np.uint8), window, reflect=False)
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
    total = cv2.resize(patch[block] * known[..., None], cells_size, interpolation=cv2.INTER_AREA).astype(np.float32)
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
    rows, cols = np.flatnonzero(hole[top:bottom, left:right].any(axis=1)), np.flatnonzero(hole[top:bottom, left:right].any(axis=0))
    if len(rows) == 0:
        return
    # Only the hole's bounding box inside the window is copied (a large window's hole is often small).
    top, bottom, left, right = top + rows[0], top + rows[-1] + 1, left + cols[0], left + cols[-1] + 1
    region = hole[top:bottom, left:right]
    source = filled[top - window.top : bottom - window.top, left - window.left : right - window.left]
    np.copyto(rgb8[top:bottom, left:right], source, where=region[..., None])
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
    passes see the fills of earlier ones. Known pixels are copied unchanged.
    `cancel` is checked before and after every pass, so a cancel during the last one also returns None.
    Notes for the user (see plan_detail_windows) are appended to `notes` when it is given.
    """
    assert rgb8.shape[:2] == hole.shape and rgb8.dtype == np.uint8, (rgb8.shape, hole.shape, rgb8.dtype)
    if strategy == DEFAULT_STRATEGY:
        windows, planned_notes = plan_detail_windows(method, rgb8, hole)
        if notes is not None:
            notes.extend(planned_notes)
    else:
        windows = plan_windows(hole, strategy, method.resolution)
    result, remaining = rgb8.copy(), hole.copy()
    per_pass = method.windows_per_pass
    for first in range(0, len(windows), per_pass):
        if cancel is not None and cancel.is_set():
            return None
        batch = windows[first : first + per_pass]
        if strategy == DEFAULT_STRATEGY:
            full_size = [(_cut(result, window, reflect=True), _cut(remaining.view(np.uint8), window, reflect=False).view(bool))
                         for window in batch]
            patches, holes = zip(*(_shrink_known(patch, patch_hole, window.work) for (patch, patch_hole), window in zip(full_size, batch)))
        else:
            patches, holes = zip(*(_prepare(method, result, remaining, window) for window in batch))
        filled = method.fill_windows(list(patches), list(holes), window_seed(seed, variation, first // per_pass), variation)
        if cancel is not None and cancel.is_set():
            return None
        if strategy == DEFAULT_STRATEGY:
            filled = [continue_boundary(add_detail(patch, patch_hole, low), patch_hole, band_width(window.side // window.work))
                      for (patch, patch_hole), low, window in zip(full_size, filled, batch, strict=True)]
        for window, patch in zip(batch, filled, strict=True):
            _paste(patch, result, remaining, window)
        if progress is not None:
            done = first + len(batch)
            progress(Progress(done, len(windows), f"filled {done} of {counted(len(windows), 'region')}"))
    assert not remaining.any(), "the windows must cover every hole pixel"
    return result
