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
from core.engine.fill_strategy import CLASSIC_HOLE_PIXELS, FACE_ELSEWHERE, NO_FACE, SCENE_CONTEXT, SCENE_CONTEXT_LARGE, fill_rgb8, plan_detail_windows
from core.io.image_io import read_image

FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "celebahq256"


class FlatFill:
    """A model-sized fill method that paints the hole one grey and records the window sizes it saw."""

    description = "flat"
    windows_per_pass = 1

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
    windows, notes = plan_detail_windows(method, rgb, hole)
    assert notes == [] and len(windows) == 1
    window = windows[0]
    assert window.side == 256 and window.work == 32 and window.side >= SCENE_CONTEXT * 80
    assert window.top <= 160 and window.top + window.side >= 240 and window.left <= 260 and window.left + window.side >= 340
    out = fill_rgb8(method, rgb, hole)
    assert method.sizes == [32] and np.array_equal(out[~hole], rgb[~hole])
    middle = out[196:204, 296:304].astype(int)
    assert np.abs(middle.mean() - 77) < 15, "deeper than the outer band, the low band is the method's fill and the detail only adds texture"


def test_a_scene_model_gets_a_narrower_window_where_three_times_the_hole_would_pass_the_image():
    """A 400-px hole in a 512-px photo: 3× would be a 1200-px window of mostly mirrored border, shown to a
    64-px model at a 19th of its size; it gets 1.5× the hole (600, rounded up to 640) instead."""
    rgb = photo(512, 512)
    hole = np.zeros((512, 512), bool)
    hole[50:450, 60:460] = True
    method = FlatFill(64, "scene")
    (window,), _ = plan_detail_windows(method, rgb, hole)
    assert window.side == 640 == -(-SCENE_CONTEXT_LARGE * 400 // 64) * 64 and window.work == 64
    out = fill_rgb8(method, rgb, hole)
    assert method.sizes == [64] and np.array_equal(out[~hole], rgb[~hole])


def test_a_faces_model_with_no_face_in_view_says_so_and_fills_the_whole_image():
    rgb = photo(300, 500, 1)
    hole = np.zeros((300, 500), bool)
    hole[100:130, 200:260] = True
    method = FlatFill(64, "aligned-face")
    notes: list[str] = []
    out = fill_rgb8(method, rgb, hole, notes=notes)
    assert notes == [NO_FACE] and "classic fill" in NO_FACE
    windows, _ = plan_detail_windows(method, rgb, hole)
    assert [(w.side, w.work) for w in windows] == [(512, 64)] and method.sizes == [64]
    assert np.array_equal(out[~hole], rgb[~hole])


@pytest.mark.skipif(not FACES.is_dir(), reason="../shared/data/faces is not here")
def test_a_faces_model_gets_the_whole_face_a_portrait_whole_and_a_face_in_a_scene_its_square():
    face = read_image(sorted(FACES.iterdir())[9]).rgb8()
    hole = np.zeros((256, 256), bool)
    hole[60:80, 118:138] = True
    method = FlatFill(64, "aligned-face")
    windows, notes = plan_detail_windows(method, face, hole)
    assert notes == [] and [(w.top, w.left, w.side) for w in windows] == [(0, 0, 256)]

    scene = photo(900, 1200, 2)
    scene[300:556, 500:756] = face
    big_hole = np.zeros((900, 1200), bool)
    big_hole[360:380, 618:638] = True
    big_hole[800:820, 50:70] = True
    windows, notes = plan_detail_windows(method, scene, big_hole)
    assert notes == [FACE_ELSEWHERE]
    face_window = next(w for w in windows if w.side < 900)
    assert 256 <= face_window.side <= 320 and abs(face_window.top + face_window.side / 2 - 428) < 30
    assert abs(face_window.left + face_window.side / 2 - 628) < 30


def test_a_classic_fill_of_a_large_hole_in_a_large_photo_works_at_a_reduced_scale():
    rgb = photo(3000, 4000, 3)
    hole = np.zeros((3000, 4000), bool)
    hole[1000:2095, 1500:2595] = True  # 10 % of the photo
    windows, _ = plan_detail_windows(ClassicFill("telea"), rgb, hole)
    assert len(windows) == 1 and windows[0].side % windows[0].work == 0
    factor = windows[0].side // windows[0].work
    assert (1095 / factor) ** 2 <= 2 * CLASSIC_HOLE_PIXELS and factor >= 8
    out = fill_rgb8(ClassicFill("telea"), rgb, hole)
    assert np.array_equal(out[~hole], rgb[~hole])
    ring = rgb[980:2115, 1480:2615][~hole[980:2115, 1480:2615]].astype(int)
    assert (out[hole] >= ring.min(axis=0) - 10).all() and (out[hole] <= ring.max(axis=0) + 10).all(), "a diffusion stays within its border's colours"


def test_two_holes_that_share_a_classic_window_are_filled_once():
    rgb = photo(256, 256, 4)
    hole = np.zeros((256, 256), bool)
    hole[10:60, 20:220] = True
    hole[190:240, 30:230] = True
    windows, _ = plan_detail_windows(ClassicFill("telea"), rgb, hole)
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
