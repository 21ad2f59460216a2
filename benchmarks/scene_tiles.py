"""What a scene model's tiles cost (not a test): the default model fills a photo under a seeded
`hard` mask (strokes and boxes over half of it) with the default `detail` strategy, with and
without the tiles over a large hole region (core.engine.window_plan.plan_detail), side by side.

    python benchmarks/scene_tiles.py [--photo PHOTO] [--sizes 512 2048 4000] [--runs 3]

The photo is scaled to each size (square sides; 4000 means 4000×3000); the mask is the same
seeded `hard` mask at 512 px, scaled up with nearest neighbour, so the strokes are as thick in
proportion. The table gives the windows and tiles, the median seconds of `fill_rgb8` without and
with the tiles, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.engine import window_plan  # noqa: E402
from core.engine.fill_strategy import fill_rgb8  # noqa: E402
from core.engine.inpainter import Inpainter  # noqa: E402
from core.io.image_io import read_image  # noqa: E402
from core.masks.generation import bucket_mask  # noqa: E402


def photo_and_hole(path: str | None, size: int) -> tuple[np.ndarray, np.ndarray]:
    """An (H, W, 3) uint8 photo (H = W = size, or 3000×4000 for 4000) and its (H, W) bool hole."""
    height, width = (3000, 4000) if size == 4000 else (size, size)
    if path is not None:
        rgb8 = cv2.resize(read_image(path).rgb8(), (width, height), interpolation=cv2.INTER_CUBIC)
    else:
        rng = np.random.default_rng(0)
        rgb8 = cv2.resize(rng.integers(0, 256, (6, 8, 3)).astype(np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    mask = bucket_mask("hard", 512, np.random.default_rng(0)).astype(np.uint8)
    return rgb8, cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST) > 0


def timed(method, rgb8: np.ndarray, hole: np.ndarray, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fill_rgb8(method, rgb8, hole)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", help="a photo to scale (default: a smooth colour field)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 2048, 4000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    method = Inpainter(None, "cpu", runtime="torch").method
    tile_context = window_plan.TILE_CONTEXT
    print("| size | windows | tiles | without tiles s | with tiles s | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for size in args.sizes:
        rgb8, hole = photo_and_hole(args.photo, size)
        plan = window_plan.plan_detail(method, rgb8, hole)
        window_plan.TILE_CONTEXT = 1e9  # wider than any window: no tiles
        alone = timed(method, rgb8, hole, args.runs)
        window_plan.TILE_CONTEXT = tile_context
        both = timed(method, rgb8, hole, args.runs)
        label = "4000×3000" if size == 4000 else f"{size}²"
        print(f"| {label} | {len(plan.windows)} | {len(plan.tiles)} | {alone:.2f} | {both:.2f} | {both / alone:.2f} |", flush=True)


if __name__ == "__main__":
    main()
