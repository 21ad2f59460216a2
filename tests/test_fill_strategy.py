"""Window planning and filling for images of any size: coverage, hard constraint, cancel."""

import threading

import numpy as np
import pytest

from core.engine.classic_fill import ClassicFill
from core.engine.fill_strategy import fill_rgb8, window_seed
from core.engine.window_plan import plan_windows
from core.errors import InvertFillError


class PaintRed:
    """A fill method at a fixed size that paints the hole red and records its calls."""

    description = "red"
    full_detail = True

    def __init__(self, resolution: int | None, windows_per_pass: int = 1) -> None:
        self.resolution = resolution
        self.windows_per_pass = windows_per_pass
        self.calls: list[tuple[list[tuple[int, ...]], int]] = []

    def fill_windows(self, patches, holes, seed, variation):
        """Records one call per pass: the shapes of its windows and the seed."""
        outs = []
        for rgb8, hole in zip(patches, holes, strict=True):
            if self.resolution is not None:
                assert rgb8.shape == (self.resolution, self.resolution, 3) and hole.shape == rgb8.shape[:2]
            out = rgb8.copy()
            out[hole] = (255, 0, 0)
            outs.append(out)
        self.calls.append(([p.shape for p in patches], seed))
        return outs


def random_holes(rng, h: int, w: int) -> np.ndarray:
    hole = np.zeros((h, w), bool)
    for _ in range(rng.integers(1, 5)):
        y, x = rng.integers(0, h), rng.integers(0, w)
        hole[y : y + rng.integers(1, h), x : x + rng.integers(1, w)] = True
    return hole


def test_windows_cover_every_hole_pixel_for_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = rng.integers(8, 300, 2)
        hole = random_holes(rng, h, w)
        for resolution in (None, 32, 256):
            for strategy in ("crop", "resize"):
                covered = np.zeros_like(hole)
                for win in plan_windows(hole, strategy, resolution):
                    assert win.side >= 1
                    covered[max(win.top, 0) : win.top + win.side, max(win.left, 0) : win.left + win.side] = True
                assert covered[hole].all(), (h, w, resolution, strategy)


def test_crop_windows_hold_small_holes_at_model_scale_and_separate_far_apart_holes():
    hole = np.zeros((600, 800), bool)
    hole[100:120, 100:140] = True
    hole[500:520, 700:730] = True
    windows = plan_windows(hole, "crop", 256)
    assert len(windows) == 2 and all(w.side == 256 for w in windows)
    assert all(0 <= w.top <= 600 - 256 and 0 <= w.left <= 800 - 256 for w in windows)


def test_resize_uses_one_square_window_over_the_whole_image():
    hole = np.zeros((300, 500), bool)
    hole[10, 10] = True
    assert [(w.top, w.left, w.side) for w in plan_windows(hole, "resize", 64)] == [(-100, 0, 500)]


def test_full_strategy_needs_the_model_size():
    with pytest.raises(InvertFillError, match="needs a 64×64 image; this one is 80×64"):
        plan_windows(np.ones((64, 80), bool), "full", 64)
    assert len(plan_windows(np.ones((64, 64), bool), "full", 64)) == 1


@pytest.mark.parametrize("strategy", ["crop", "resize"])
@pytest.mark.parametrize("resolution", [None, 32])
def test_only_hole_pixels_change_at_full_resolution(strategy, resolution):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (150, 210, 3)).astype(np.uint8)
    hole = random_holes(rng, 150, 210)
    out = fill_rgb8(PaintRed(resolution), rgb, hole, strategy)
    assert out.shape == rgb.shape
    assert np.array_equal(out[~hole], rgb[~hole])
    red = (out[hole] == (255, 0, 0)).all(axis=1).mean()
    assert red > (0.99 if resolution is None else 0.5)


def test_window_seeds_depend_on_seed_variation_and_window():
    seeds = {window_seed(s, v, w) for s in (0, 1) for v in (0, 1) for w in (0, 1)}
    assert len(seeds) == 8 and window_seed(5, 1, 2) == window_seed(5, 1, 2)


def test_cancel_stops_before_the_next_pass():
    hole = np.zeros((600, 800), bool)
    hole[100:120, 100:140] = hole[500:520, 700:730] = True
    cancel = threading.Event()
    method = PaintRed(64)

    def cancel_after_first(progress):
        cancel.set()

    assert fill_rgb8(method, np.zeros((600, 800, 3), np.uint8), hole, "crop", progress=cancel_after_first, cancel=cancel) is None
    assert len(method.calls) == 1


def test_a_cancel_during_the_only_window_drops_its_fill():
    """Esc pressed while the one window of a large photo is being filled: nothing comes back."""
    hole = np.zeros((600, 800), bool)
    hole[100:200, 100:300] = True
    cancel = threading.Event()

    class CancelledMeanwhile(PaintRed):
        def fill_windows(self, patches, holes, seed, variation):
            cancel.set()
            return super().fill_windows(patches, holes, seed, variation)

    method = CancelledMeanwhile(64)
    assert fill_rgb8(method, np.zeros((600, 800, 3), np.uint8), hole, "crop", cancel=cancel) is None
    assert len(method.calls) == 1


def test_classic_fill_interpolates_from_the_surroundings():
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[:, :20] = (0, 0, 200)
    rgb[:, 20:] = (0, 0, 100)
    hole = np.zeros((40, 40), bool)
    hole[15:25, 5:15] = True
    out = fill_rgb8(ClassicFill("telea"), rgb, hole)
    assert np.abs(out[hole].astype(int) - (0, 0, 200)).max() <= 10


def test_a_method_gets_the_windows_of_an_image_in_passes_of_its_own_size():
    hole = np.zeros((3000, 4000), bool)
    for top, left in ((200, 300), (200, 3500), (2600, 300), (2600, 3500)):
        hole[top : top + 40, left : left + 60] = True
    for per_pass, passes in ((16, [4]), (3, [3, 1]), (1, [1, 1, 1, 1])):
        method = PaintRed(128, per_pass)
        out = fill_rgb8(method, np.zeros((3000, 4000, 3), np.uint8), hole, "crop", seed=5)
        assert (out[hole] == (255, 0, 0)).all() and not out[~hole].any()
        assert [len(shapes) for shapes, _ in method.calls] == passes


def test_a_model_fills_a_batch_of_windows_in_one_pass_as_it_does_on_cuda(tiny_checkpoint):
    from core.engine.inpainter import Inpainter

    inpainter = Inpainter(tiny_checkpoint, "cpu")
    assert inpainter.method.windows_per_pass == 1
    inpainter.method.windows_per_pass = 16
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (300, 400, 3)).astype(np.uint8)
    hole = np.zeros((300, 400), bool)
    hole[20:30, 20:30] = hole[250:270, 350:380] = hole[150:160, 200:230] = True
    assert len(plan_windows(hole, "crop", 32)) == 3
    first, again = (fill_rgb8(inpainter.method, rgb, hole, "crop", seed=4) for _ in range(2))
    assert np.array_equal(first, again) and np.array_equal(first[~hole], rgb[~hole]) and not np.array_equal(first[hole], rgb[hole])


def test_a_detail_window_shrinks_to_the_mean_of_its_known_pixels_and_marks_mostly_hole_cells():
    from core.engine.fill_strategy import _shrink_known

    rng = np.random.default_rng(4)
    patch = rng.integers(0, 256, (96, 96, 3)).astype(np.uint8)
    hole = np.zeros((96, 96), bool)
    hole[20:50, 30:77] = True
    hole[60, 5:40] = True
    small, small_hole = _shrink_known(patch, hole, 12)
    cells = patch.reshape(12, 8, 12, 8, 3).transpose(0, 2, 1, 3, 4).reshape(12, 12, 64, 3).astype(float)
    known = ~hole.reshape(12, 8, 12, 8).transpose(0, 2, 1, 3).reshape(12, 12, 64)
    for r in range(12):
        for c in range(12):
            assert small_hole[r, c] == (known[r, c].mean() < 0.5)
            if not small_hole[r, c]:
                expected = cells[r, c][known[r, c]].mean(axis=0)
                # the area means (of the pixels and of the known share) are stored in 8 bits before the division
                assert np.abs(small[r, c] - expected).max() <= 1 + 1 / known[r, c].mean(), (r, c)
    assert small_hole.sum() == 18 and not small_hole[7, 0]
