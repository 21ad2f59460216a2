"""The default `detail` strategy: windows chosen by the model's framing (whole faces for an
aligned-face model, wide context for a scene model, a hole-sized scale for classic fills), and
the filled result at full resolution with its known pixels exact."""

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.engine.classic_fill import ClassicFill
from core.engine import window_plan
from core.engine.fill_strategy import fill_rgb8
from core.engine.window_plan import (
    CLASSIC_HOLE_PIXELS, FACE_ELSEWHERE, NO_FACE, SCENE_CONTEXT, TILE_CONTEXT, plan_detail)
from core.io.image_io import read_image

FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "celebahq256"


class FlatFill:
    """A model-sized fill method that paints the hole one grey and records the window sizes it saw."""

    description = "flat"
    windows_per_pass = 1
    full_detail = False

    def __init__(self, resolution: int, framing: str) -> None:
        self.resolution, self.framing = resolution, framing
        self.sizes: list[int] = []

    def fill_windows(self, patches, holes, seed, variation):
        self.sizes += [patch.shape[0] for patch in patches]
        return [np.where(hole[..., None], 77, patch).astype(np.uint8) for patch, hole in zip(patches, holes)]


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 256, (9, 12, 3)).astype(np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)


def test_a_scene_model_sees_a_few_times_the_hole_and_known_pixels_stay_exact():
    rgb = photo(400, 600)
    hole = np.zeros((400, 600), bool)
    hole[160:240, 260:340] = True
    method = FlatFill(32, "scene")
    plan = plan_detail(method, rgb, hole)
    windows, notes = plan.windows, plan.notes
    assert notes == [] and len(windows) == 1
    window = windows[0]
    assert window.side == 256 and window.work == 32 and window.side >= SCENE_CONTEXT * 80
    assert window.top <= 160 and window.top + window.side >= 240 and window.left <= 260 and window.left + window.side >= 340
    out = fill_rgb8(method, rgb, hole)
    assert method.sizes == [32] and np.array_equal(out[~hole], rgb[~hole])
    middle = out[196:204, 296:304].astype(int)
    assert np.abs(middle.mean() - 77) < 15, "deeper than the outer band, the low band is the method's fill and the detail only adds texture"


def test_a_scene_model_s_window_is_the_image_where_three_times_the_hole_would_pass_it():
    """A 400-px hole in a 480×512 photo: 3× would be a 1200-px window of mostly mirrored border, shown to a
    64-px model at a 19th of its size; it gets the image's larger side instead (and no tiles: the hole is
    as thick as it is wide)."""
    rgb = photo(480, 512)
    hole = np.zeros((480, 512), bool)
    hole[40:440, 56:456] = True
    method = FlatFill(64, "scene")
    (window,) = plan_detail(method, rgb, hole).windows
    assert (window.top, window.left, window.side, window.work) == (-16, 0, 512, 64) and SCENE_CONTEXT * 400 > 512
    out = fill_rgb8(method, rgb, hole)
    assert method.sizes == [64] and np.array_equal(out[~hole], rgb[~hole])


class CountingFill(FlatFill):
    """Paints its first window's hole 60 and every later one's 100."""

    def fill_windows(self, patches, holes, seed, variation):
        value = 60 if not self.sizes else 100
        self.sizes += [patch.shape[0] for patch in patches]
        return [np.where(hole[..., None], value, patch).astype(np.uint8) for patch, hole in zip(patches, holes)]


def strokes(side: int, width: int) -> np.ndarray:
    """(side, side) bool: two horizontal strokes and one vertical stroke across the whole image."""
    hole = np.zeros((side, side), bool)
    for start in (side // 4, 3 * side // 4):
        hole[start - width // 2 : start + width // 2] = True
    hole[:, side // 2 - width // 2 : side // 2 + width // 2] = True
    return hole


def test_a_scene_model_fills_strokes_across_the_photo_also_in_tiles_and_takes_the_mean():
    """Strokes 120 px wide across a flat 1024-px photo: the window over the whole region (factor 24) paints 60,
    tiles of 1.5× the region's thickness paint 100 (where the strokes cross, a hole pixel lies 85 px from the
    photo: 256-px tiles, factor 4); beyond both boundary bands the result is 80."""
    rgb = np.full((1024, 1024, 3), 128, np.uint8)
    hole = strokes(1024, 120)
    tiles = plan_detail(FlatFill(64, "scene"), rgb, hole).tiles
    assert tiles and {tile.side for tile in tiles} == {256} and 256 - 64 < TILE_CONTEXT * 2 * 85 <= 256
    covered = np.zeros_like(hole)
    for tile in tiles:
        top, left, bottom, right = tile.core
        assert tile.top <= top < bottom <= tile.top + tile.side and tile.left <= left < right <= tile.left + tile.side
        covered[top:bottom, left:right] = True
    assert covered[hole].all(), "the tiles' cores cover every hole pixel of the region"
    method = CountingFill(64, "scene")
    out = fill_rgb8(method, rgb, hole)
    assert method.sizes == [64] * (1 + len(tiles)) and np.array_equal(out[~hole], rgb[~hole])
    assert np.abs(out[250:262, 100:200].astype(int) - 80).max() <= 2 and np.abs(out[100:200, 506:518].astype(int) - 80).max() <= 2


def test_a_compact_hole_or_a_hole_as_thick_as_it_is_wide_gets_no_tiles():
    small = np.zeros((512, 512), bool)
    small[100:160, 200:260] = True
    box = np.zeros((512, 512), bool)
    box[50:450, 60:460] = True
    rgb, method = photo(512, 512), FlatFill(64, "scene")
    assert plan_detail(method, rgb, small).tiles == [] and plan_detail(method, rgb, box).tiles == []


def test_without_tiles_the_same_strokes_are_the_region_window_s_fill_alone(monkeypatch):
    monkeypatch.setattr(window_plan, "TILE_CONTEXT", 100.0)
    method = CountingFill(64, "scene")
    out = fill_rgb8(method, np.full((1024, 1024, 3), 128, np.uint8), strokes(1024, 120))
    assert method.sizes == [64] and np.abs(out[250:262, 100:200].astype(int) - 60).max() <= 3


class RecordingFill(FlatFill):
    """Keeps every window it is given, with its hole."""

    def __init__(self, resolution, framing):
        super().__init__(resolution, framing)
        self.seen: list[tuple[np.ndarray, np.ndarray]] = []

    def fill_windows(self, patches, holes, seed, variation):
        self.seen += list(zip(patches, holes))
        return super().fill_windows(patches, holes, seed, variation)


@pytest.mark.parametrize("strategy", ["detail", "crop"])
def test_what_lies_under_a_hole_at_the_border_never_shows_as_context_in_a_mirrored_window(strategy):
    """A bright object at the top border of a wide grey photo, under the hole: a window taller than the
    photo mirrors it, and the mirrored object must be hole too, or the fill would paint it back."""
    rgb = np.full((200, 480, 3), 100, np.uint8)
    hole = np.zeros((200, 480), bool)
    hole[0:60, 200:320] = True
    rgb[hole] = 250
    method = RecordingFill(64, "scene")
    fill_rgb8(method, rgb, hole, strategy)
    assert method.seen and all(patch.shape[0] == 64 for patch, _ in method.seen)
    for patch, patch_hole in method.seen:
        assert patch[~patch_hole].max() < 120, "a known pixel of the window carries the object under the hole"


def test_a_faces_model_with_no_face_in_view_says_so_and_fills_the_whole_image():
    rgb = photo(300, 500, 1)
    hole = np.zeros((300, 500), bool)
    hole[100:130, 200:260] = True
    method = FlatFill(64, "aligned-face")
    notes: list[str] = []
    out = fill_rgb8(method, rgb, hole, notes=notes)
    assert notes == [NO_FACE] and "classic fill" in NO_FACE
    windows = plan_detail(method, rgb, hole).windows
    assert [(w.side, w.work) for w in windows] == [(512, 64)] and method.sizes == [64]
    assert np.array_equal(out[~hole], rgb[~hole])


@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/data/faces is not here")
def test_a_faces_model_gets_the_whole_face_a_portrait_whole_and_a_face_in_a_scene_its_square():
    face = read_image(sorted(FACES.iterdir())[9]).rgb8()
    hole = np.zeros((256, 256), bool)
    hole[60:80, 118:138] = True
    method = FlatFill(64, "aligned-face")
    plan = plan_detail(method, face, hole)
    windows, notes = plan.windows, plan.notes
    assert notes == [] and [(w.top, w.left, w.side) for w in windows] == [(0, 0, 256)]

    scene = photo(900, 1200, 2)
    scene[300:556, 500:756] = face
    big_hole = np.zeros((900, 1200), bool)
    big_hole[360:380, 618:638] = True
    big_hole[800:820, 50:70] = True
    plan = plan_detail(method, scene, big_hole)
    windows, notes = plan.windows, plan.notes
    assert notes == [FACE_ELSEWHERE]
    face_window = next(w for w in windows if w.side < 900)
    assert 256 <= face_window.side <= 320 and abs(face_window.top + face_window.side / 2 - 428) < 30
    assert abs(face_window.left + face_window.side / 2 - 628) < 30


def test_a_classic_fill_of_a_large_hole_in_a_large_photo_works_at_a_reduced_scale():
    rgb = photo(3000, 4000, 3)
    hole = np.zeros((3000, 4000), bool)
    hole[1000:2095, 1500:2595] = True  # 10 % of the photo
    windows = plan_detail(ClassicFill("telea"), rgb, hole).windows
    assert len(windows) == 1 and windows[0].side % windows[0].work == 0
    factor = windows[0].side // windows[0].work
    assert (1095 / factor) ** 2 <= 2 * CLASSIC_HOLE_PIXELS and factor >= 8
    out = fill_rgb8(ClassicFill("telea"), rgb, hole)
    assert np.array_equal(out[~hole], rgb[~hole])
    ring = rgb[980:2115, 1480:2615][~hole[980:2115, 1480:2615]].astype(int)
    assert (out[hole] >= ring.min(axis=0) - 10).all() and (out[hole] <= ring.max(axis=0) + 10).all(), "a diffusion stays within its border's colours"


def hole_gradient(rgb: np.ndarray, hole: np.ndarray) -> float:
    """The mean Sobel gradient magnitude of the luma over the hole pixels."""
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.hypot(cv2.Sobel(luma, cv2.CV_32F, 1, 0), cv2.Sobel(luma, cv2.CV_32F, 0, 1))[hole].mean())


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_a_classic_fill_of_brush_strokes_in_a_grainy_photo_keeps_the_grain_to_the_stroke_s_edge(method, monkeypatch):
    """The strokes are as narrow as the boundary band is wide on each side: with a model's fade of the
    detail over the band they stay mostly smooth; a classic fill gets the detail in full."""
    rng = np.random.default_rng(5)
    grain = cv2.GaussianBlur(rng.normal(0, 24, (512, 512)).astype(np.float32), (0, 0), 0.8)
    base = 60 + photo(512, 512, 5).astype(np.float32) / 2
    truth = np.clip(base + grain[..., None] * 24 / grain.std(), 0, 255).round().astype(np.uint8)
    hole = np.zeros((512, 512), bool)
    for top in (100, 250, 400):
        hole[top : top + 16, 40:470] = True
    fill = ClassicFill(method)
    full = fill_rgb8(fill, truth, hole)
    monkeypatch.setattr(fill, "full_detail", False)
    faded = fill_rgb8(fill, truth, hole)
    truth_gradient, full_gradient = hole_gradient(truth, hole), hole_gradient(full, hole)
    assert 0.5 * truth_gradient < full_gradient < 1.2 * truth_gradient
    assert full_gradient > 1.5 * hole_gradient(faded, hole)
    assert np.array_equal(full[~hole], truth[~hole])


def test_two_holes_that_share_a_classic_window_are_filled_once():
    rgb = photo(256, 256, 4)
    hole = np.zeros((256, 256), bool)
    hole[10:60, 20:220] = True
    hole[190:240, 30:230] = True
    windows = plan_detail(ClassicFill("telea"), rgb, hole).windows
    assert len(windows) == 1 and windows[0].side >= 256 and windows[0].side // windows[0].work == 3
    out = fill_rgb8(ClassicFill("telea"), rgb, hole)
    assert np.array_equal(out[~hole], rgb[~hole]) and not np.array_equal(out[hole], rgb[hole])


def test_a_cancelled_classic_fill_of_a_large_photo_returns_at_once():
    rgb = photo(3000, 4000, 4)
    hole = np.zeros((3000, 4000), bool)
    hole[500:2500, 500:3500] = True
    cancel = threading.Event()
    timer = threading.Timer(0.05, cancel.set)
    timer.start()
    started = time.perf_counter()
    assert fill_rgb8(ClassicFill("telea"), rgb, hole, cancel=cancel) is None
    assert time.perf_counter() - started < 5


def test_the_command_line_says_when_a_faces_model_finds_no_face(tiny_checkpoint, tmp_path, capsys):
    from app.cli import main
    from core.io.checkpoint import export_checkpoint

    faces_model = tmp_path / "faces.safetensors"
    export_checkpoint(tiny_checkpoint, faces_model, framing="aligned-face")
    cv2.imwrite(str(tmp_path / "landscape.png"), photo(90, 120, 5))
    mask = np.zeros((90, 120), np.uint8)
    mask[30:50, 40:70] = 255
    cv2.imwrite(str(tmp_path / "mask.png"), mask)
    code = main(["fill", str(tmp_path / "landscape.png"), str(tmp_path / "mask.png"), "-o", str(tmp_path / "out.png"),
                 "--model", str(faces_model), "--device", "cpu", "--seed", "0"])
    printed = capsys.readouterr()
    assert code == 0 and NO_FACE in printed.out + printed.err
