"""Where a fill's windows go (DESIGN §6, large images): square windows over the hole regions of an
image, for each strategy of core.engine.fill_strategy.

`detail` chooses each window by what the method learned (its framing): the whole face for an
aligned-face model, context of a few times the hole for a scene model (and, over a large hole region,
tiles at a lower factor as well), a ring of context at a hole-sized scale for a classic fill.
`crop` puts one window around each connected hole region, `resize` one over the whole image, `full`
takes the image as it is. A window may reach past the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from core.errors import InvertFillError

from .choices import STRATEGIES
from .faces import Square, aligned_square, find_faces

if TYPE_CHECKING:
    from .fill_methods import FillMethod

CONTEXT = 2.0
"""A crop window's side is CONTEXT times the hole region's larger side (at least the model size)."""
SCENE_CONTEXT = 3.0
"""With `detail`, a scene model's window is SCENE_CONTEXT times the hole region's larger side, but no
wider than the image's larger side (rounded up to a multiple of the model's size): a wider window would
be mostly mirrored border, shown to the model at a higher factor. A small hole in the sky of a 512-px
landscape needs the 3×: 1.5× made it a bluish square (6.0 levels from the truth against 3.8). Capped at
the image, on the 40 photos of general512 outside the evaluation set (the 64-px general model, with
tiles, 512 px): hard masks 19.70 dB, SSIM 0.709, extreme 16.06 and 0.528, against 19.71, 0.707 and
16.01, 0.521 where the cap was 1.5× the region, and 19.71, 0.706 (hard) at 2×."""
TILE_CONTEXT = 1.5
"""With `detail`, a scene model's large hole region (one whose SCENE_CONTEXT window would pass the image)
is also filled in tiles: squares of TILE_CONTEXT times the region's thickness (twice its deepest pixel's
distance from a known pixel), at least TILE_FACTOR times the model's size, each pasting its central
TILE_CORE share, so the pixels it fills had context on every side. The result is the mean of the fill
over the whole region (the layout, the colours) and the tiles' (the strokes, at a lower factor). On the
40 photos of general512 outside the evaluation set (hard masks, 512 px, the window capped at 1.5× the
region, tiles of at least the model's size): 19.71 dB, SSIM 0.707 with tiles of 1.5× the thickness,
19.68 and 0.707 at 2×, 19.65 and 0.707 at 3×, 19.60 and 0.705 at 4.5×; the window alone 19.48 and 0.695,
the mean of two of its fills with other seeds 19.56 and 0.702 (Telea 19.47 and 0.705, Navier-Stokes
19.28 and 0.706)."""
TILE_CORE = 0.5
"""The share of a tile's side (centred) that it pastes. 0.75 (half the tiles) scored 19.68 dB, SSIM 0.708
against 19.70 and 0.709 on the same photos."""
TILE_FACTOR = 3
"""A tile's side is at least TILE_FACTOR times the model's size. At the model's own size the 64-px general
model painted 28-px strokes across a smooth sky bluish and blotchy: 4.6 levels from the truth, against
1.9 for the region's window alone and 2.0 for Telea (factor 2: 2.5; factor 3: 2.0). On the tuning photos
factor 3 scored as factor 1 (hard masks 19.71 dB and SSIM 0.709, extreme 16.06 and 0.528)."""
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
    core: tuple[int, int, int, int] | None = None
    """The (top, left, bottom, right) span it pastes, inside the window; None: all of it."""



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
    (`detail` is planned by `plan_detail`, which also needs the image)."""
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
    h, w = hole.shape
    pixels = int(hole[max(window.top, 0) : min(window.top + window.side, h), max(window.left, 0) : min(window.left + window.side, w)].sum())
    factor = max(1, int(np.ceil(np.sqrt(pixels / CLASSIC_HOLE_PIXELS))))
    return -(-window.side // factor)


def _large_scene_region(region: tuple[int, int, int, int], h: int, w: int) -> bool:
    """Whether SCENE_CONTEXT times a hole region's larger side passes the image's larger side."""
    y0, y1, x0, x1 = region
    return SCENE_CONTEXT * max(x1 - x0, y1 - y0) > max(h, w)


def _thickness(hole: np.ndarray, region: tuple[int, int, int, int]) -> int:
    """Twice the largest distance, in pixels, from a hole pixel of `region` (y0, y1, x0, x1) to a known pixel."""
    y0, y1, x0, x1 = region
    inside = np.zeros((y1 - y0 + 2, x1 - x0 + 2), np.uint8)
    inside[1:-1, 1:-1] = hole[y0:y1, x0:x1]
    return int(np.ceil(2 * cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE).max()))


def _scene_tiles(hole: np.ndarray, regions: list[tuple[int, int, int, int]], resolution: int) -> list[Window]:
    """The tiles (see TILE_CONTEXT) of a scene model at `resolution` over the large ones of the hole
    regions of `hole` (H, W) bool, whose cores cover those regions' hole pixels; none where no region is
    large, or where a region's tile would be as wide as its window."""
    h, w = hole.shape
    tiles = []
    for region in regions:
        if not _large_scene_region(region, h, w):
            continue
        side = -(-max(int(np.ceil(TILE_CONTEXT * _thickness(hole, region))), TILE_FACTOR * resolution) // resolution) * resolution
        if side >= _scene_side(region, h, w):
            continue
        y0, y1, x0, x1 = region
        core = max(1, int(side * TILE_CORE))
        for top in range(y0, y1, core):
            for left in range(x0, x1, core):
                bottom, right = min(top + core, y1), min(left + core, x1)
                if hole[top:bottom, left:right].any():
                    tile = _around(top, bottom, left, right, side, h, w, resolution)
                    tiles.append(Window(tile.top, tile.left, tile.side, tile.work, (top, left, bottom, right)))
    return tiles


def _scene_side(region: tuple[int, int, int, int], h: int, w: int) -> int:
    """A scene model's window side for a hole region: SCENE_CONTEXT times its larger side, at most the image's larger side."""
    y0, y1, x0, x1 = region
    return int(np.ceil(min(SCENE_CONTEXT * max(x1 - x0, y1 - y0), max(h, w))))


@dataclass(frozen=True)
class DetailPlan:
    """The `detail` windows, largest region first; a scene model's tiles over its large hole regions
    (filled after the windows, the result there being the mean of both fills; else none); and notes
    for the user (a faces model that finds no face says so)."""

    windows: list[Window]
    tiles: list[Window]
    notes: list[str]


def plan_detail(method: FillMethod, rgb8: np.ndarray, hole: np.ndarray) -> DetailPlan:
    """The `detail` plan for `method` over `rgb8` (H, W, 3) uint8 with `hole` (H, W) bool."""
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
        return DetailPlan(windows, [], [])
    resolution = method.resolution
    if method.framing == "scene":
        windows = [_around(*region, _scene_side(region, h, w), h, w, resolution) for region in regions]
        return DetailPlan(windows, _scene_tiles(hole, regions, resolution), [])
    squares = [aligned_square(face) for face in find_faces(rgb8)]
    if not squares:
        return DetailPlan([_whole_image(h, w, resolution)], [], [NO_FACE])
    windows, notes = [], []
    for y0, y1, x0, x1 in regions:
        holding = [square for square in squares if square.contains((y0 + y1) / 2, (x0 + x1) / 2)]
        if holding:
            window = _face_window(min(holding, key=lambda square: square.side), h, w, resolution)
        else:
            window, notes = _whole_image(h, w, resolution), [FACE_ELSEWHERE]
        if window not in windows:
            windows.append(window)
    return DetailPlan(windows, [], notes)


def _undilate(start: int, stop: int, merge: int, extent: int) -> tuple[int, int]:
    """The span of a region before dilation by `merge`; sides clipped at the border stay (a superset)."""
    return (start + merge if start > 0 else 0), (stop - merge if stop < extent else extent)
