"""Classic fills at photo size, side by side (not a test): a 4000×3000 photo with a 10 % hole,
filled single-scale (`crop`, the fill at the photo's own scale, as before the detail step) and
with the default `detail` strategy (the fill at a reduced scale, then the photo's own fine
detail), and how long a cancel takes to free the caller.

    python benchmarks/classic_photo.py [--methods telea ns patchmatch] [--runs 2]

The photo is a real one when --photo is given (scaled to 4000×3000), else smooth colour under
fine noise. The hole is a 1095×1095 square in the middle (10 %). The table gives the median
seconds of `fill_rgb8` per method and strategy, the ratio detail / crop, and for each strategy the
seconds from setting the cancel event (half-way through that strategy's median fill) to the call's return.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.engine.fill_registry import classic_fill  # noqa: E402
from core.engine.fill_strategy import fill_rgb8  # noqa: E402
from core.io.image_io import read_image  # noqa: E402

HEIGHT, WIDTH, SIDE = 3000, 4000, 1095


def test_photo(path: str | None) -> np.ndarray:
    """(3000, 4000, 3) uint8: the photo at `path` resized, or a smooth colour field with fine noise."""
    if path is not None:
        return cv2.resize(read_image(path).rgb8(), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    field = cv2.resize(rng.integers(0, 256, (6, 8, 3)).astype(np.uint8), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    return np.clip(field + rng.normal(0, 8, field.shape), 0, 255).astype(np.uint8)


def timed(method, rgb8: np.ndarray, hole: np.ndarray, strategy: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fill_rgb8(method, rgb8, hole, strategy)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cancel_latency(method, rgb8: np.ndarray, hole: np.ndarray, strategy: str, after: float) -> float:
    """Seconds from the cancel to the fill's return (0 when it finished before the cancel)."""
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def set_cancel() -> None:
        cancelled_at.append(time.perf_counter())
        cancel.set()

    timer = threading.Timer(after, set_cancel)
    timer.start()
    fill_rgb8(method, rgb8, hole, strategy, cancel=cancel)
    returned = time.perf_counter()
    timer.cancel()
    return returned - cancelled_at[0] if cancelled_at else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["telea", "ns"], help="classic fills to time (telea, ns, patchmatch)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--photo", help="a photo to use (default: synthetic)")
    args = parser.parse_args()
    rgb8 = test_photo(args.photo)
    hole = np.zeros((HEIGHT, WIDTH), bool)
    top, left = (HEIGHT - SIDE) // 2, (WIDTH - SIDE) // 2
    hole[top : top + SIDE, left : left + SIDE] = True
    print(f"4000×3000, hole {hole.mean():.1%}, median of {args.runs}\n")
    print("| method | crop s | detail s | detail / crop | cancel → return s (detail) | cancel → return s (crop) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for key in args.methods:
        method = classic_fill(key).make()
        crop = timed(method, rgb8, hole, "crop", args.runs)
        detail = timed(method, rgb8, hole, "detail", args.runs)
        print(f"| {classic_fill(key).name} | {crop:.2f} | {detail:.2f} | {detail / crop:.3f} | "
              f"{cancel_latency(method, rgb8, hole, 'detail', detail / 2):.2f} | {cancel_latency(method, rgb8, hole, 'crop', crop / 2):.2f} |")


if __name__ == "__main__":
    main()
