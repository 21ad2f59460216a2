"""The OpenVINO runtime against torch on a tiny model, its cache, and the runtime choice."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.engine import model_runtime, openvino_runner
from core.engine.inpainter import Inpainter
from core.errors import InvertFillError
from core.io.image_io import Picture, read_image

needs_openvino = pytest.mark.skipif(not openvino_runner.openvino_installed(), reason="the optional openvino package is not installed")


def _picture_and_hole(size: int = 32) -> tuple[Picture, np.ndarray]:
    rng = np.random.default_rng(3)
    pixels = np.kron(rng.integers(0, 256, (size // 4, size // 4, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    hole = np.zeros((size, size), bool)
    hole[8:24, 6:20] = True
    return Picture(pixels), hole


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


@pytest.fixture(scope="module")
def converted_cache(tiny_checkpoint, tmp_path_factory):
    """A cache folder holding the tiny checkpoint's conversion (converting takes seconds)."""
    root = tmp_path_factory.mktemp("openvino")
    Inpainter(tiny_checkpoint, "cpu", runtime="openvino", cache_dir=root)
    return root


@needs_openvino
def test_openvino_fills_as_torch_does_for_the_same_seed(tiny_checkpoint, converted_cache):
    picture, hole = _picture_and_hole()
    torch_fill = Inpainter(tiny_checkpoint, "cpu", runtime="torch")
    openvino_fill = Inpainter(tiny_checkpoint, "cpu", runtime="openvino", cache_dir=converted_cache)
    assert "OpenVINO" in openvino_fill.runtime and torch_fill.runtime == "torch fp32"
    assert openvino_fill.runtime in openvino_fill.description
    for variation_strength in (None, 0.5):
        expected = torch_fill.fill(picture, hole, seed=7, variations=2, variation_strength=variation_strength).pictures
        found = openvino_fill.fill(picture, hole, seed=7, variations=2, variation_strength=variation_strength).pictures
        for want, got in zip(expected, found, strict=True):
            assert np.array_equal(got.pixels[~hole], picture.pixels[~hole])
            assert _psnr(got.pixels, want.pixels) >= openvino_runner.PRECISION_FLOOR_DB
    other_seed = openvino_fill.fill(picture, hole, seed=8).pictures[0]
    assert not np.array_equal(other_seed.pixels, found[0].pixels)


@needs_openvino
def test_a_conversion_is_kept_with_its_measured_precision_and_reused(tiny_checkpoint, converted_cache, monkeypatch):
    (folder,) = [path for path in converted_cache.iterdir() if path.is_dir()]
    stored = json.loads((folder / openvino_runner.PRECISION_FILE).read_text())
    assert stored["precision"] in ("bf16", "f32")
    assert stored["psnr_db"][stored["precision"]] >= openvino_runner.PRECISION_FLOOR_DB
    assert (folder / "model.xml").is_file() and (folder / "model.bin").stat().st_size > 0

    def no_conversion(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(openvino_runner, "_convert", no_conversion)
    reloaded = Inpainter(tiny_checkpoint, "cpu", runtime="openvino", cache_dir=converted_cache)
    assert reloaded.runtime == f"OpenVINO {stored['precision']}"


@needs_openvino
def test_a_damaged_cache_is_converted_again(tiny_checkpoint, tmp_path):
    Inpainter(tiny_checkpoint, "cpu", runtime="openvino", cache_dir=tmp_path)
    (folder,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    (folder / "model.xml").write_text("<net>damaged")
    picture, hole = _picture_and_hole()
    again = Inpainter(tiny_checkpoint, "cpu", runtime="openvino", cache_dir=tmp_path)
    filled = again.fill(picture, hole, seed=1).pictures[0]
    assert "OpenVINO" in again.runtime and not np.array_equal(filled.pixels[hole], picture.pixels[hole])
    assert "<net>damaged" not in (folder / "model.xml").read_text()


def test_auto_runs_torch_and_says_why_when_the_conversion_fails(tiny_checkpoint, monkeypatch):
    def failing(*args):
        raise InvertFillError("OpenVINO could not convert the model (RuntimeError: unsupported op)")

    monkeypatch.setattr(model_runtime, "openvino_installed", lambda: True)
    monkeypatch.setattr(model_runtime, "openvino_runner", failing)
    inpainter = Inpainter(tiny_checkpoint, "cpu", runtime="auto")
    assert inpainter.runtime == "torch fp32"
    assert inpainter.notes == ["OpenVINO could not convert the model (RuntimeError: unsupported op); running it with torch instead"]
    with pytest.raises(InvertFillError, match="unsupported op"):
        Inpainter(tiny_checkpoint, "cpu", runtime="openvino")


def test_without_openvino_auto_runs_torch_and_openvino_asks_to_install_it(tiny_checkpoint, monkeypatch):
    monkeypatch.setattr(model_runtime, "openvino_installed", lambda: False)
    inpainter = Inpainter(tiny_checkpoint, "cpu", runtime="auto")
    assert inpainter.runtime == "torch fp32" and inpainter.notes == []
    with pytest.raises(InvertFillError, match="pip install openvino"):
        Inpainter(tiny_checkpoint, "cpu", runtime="openvino")
    with pytest.raises(InvertFillError, match="unknown runtime"):
        Inpainter(tiny_checkpoint, "cpu", runtime="onnx")


@needs_openvino
def test_the_command_line_converts_once_names_the_runtime_and_reuses_the_conversion(capsys, photo_and_mask, tiny_checkpoint, user_data, tmp_path):
    from app.cli import main

    image, mask = photo_and_mask
    argv = [str(image), str(mask), "--model", str(tiny_checkpoint), "--device", "cpu", "--seed", "0", "--runtime", "openvino"]
    assert main(["fill", *argv, "-o", str(tmp_path / "first.png")]) == 0
    out, err = capsys.readouterr()
    assert "on CPU · OpenVINO" in out and "note: converted the model for OpenVINO in" in err and "later loads reuse it" in err
    assert [p.name for p in (user_data / "openvino").iterdir()] != []
    assert main(["fill", *argv, "-o", str(tmp_path / "second.png")]) == 0
    out, err = capsys.readouterr()
    assert "on CPU · OpenVINO" in out and err == ""
    assert np.array_equal(read_image(tmp_path / "first.png").pixels, read_image(tmp_path / "second.png").pixels)


def test_the_command_line_refuses_openvino_where_it_is_missing_in_one_line(capsys, photo_and_mask, tiny_checkpoint, tmp_path, monkeypatch):
    from app.cli import main

    monkeypatch.setattr(model_runtime, "openvino_installed", lambda: False)
    image, mask = photo_and_mask
    code = main(["fill", str(image), str(mask), "-o", str(tmp_path / "out.png"), "--model", str(tiny_checkpoint), "--runtime", "openvino"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and err.startswith("invertfill: error: the OpenVINO runtime is not installed")
    assert not (tmp_path / "out.png").exists()


def test_the_runtime_flag_and_preference_default_to_the_environment_variable(monkeypatch, settings_path):
    from PySide6.QtCore import QSettings

    from app.cli_parser import build_parser
    from app.gui.preferences import Preferences

    preferences = Preferences(QSettings(str(settings_path), QSettings.Format.IniFormat))
    for value, expected in (("openvino", "openvino"), ("torch", "torch"), ("nonsense", "auto")):
        monkeypatch.setenv("INVERTFILL_RUNTIME", value)
        assert build_parser().parse_args(["fill", "a", "b", "-o", "c"]).runtime == expected
        assert preferences.runtime == expected
    preferences.runtime = "openvino"
    monkeypatch.setenv("INVERTFILL_RUNTIME", "torch")
    assert preferences.runtime == "openvino"


@needs_openvino
def test_choosing_openvino_in_preferences_reloads_the_model_with_it(open_main_window, tiny_checkpoint, qtbot, monkeypatch):
    from app.gui.preferences_dialog import PreferencesDialog

    window = open_main_window(tiny_checkpoint)
    assert window.device_label.text() == "CPU · torch fp32"
    assert not window.device_actions["cuda"].isEnabled()

    def choose_openvino(dialog: PreferencesDialog) -> bool:
        dialog.runtime.setCurrentIndex(dialog.runtime.findData("openvino"))
        dialog.accept()
        return True

    monkeypatch.setattr(PreferencesDialog, "exec", choose_openvino)
    window.edit_preferences()
    qtbot.waitUntil(lambda: not window.engine.busy and "OpenVINO" in window.device_label.text(), timeout=60000)
    assert window.preferences.runtime == "openvino" and window.engine.inpainter.runtime in window.device_label.text()
    assert window.model_label.text() == "Model: tiny · 32 px · tests"
    assert window.statusBar().currentMessage().startswith("Converted the model for OpenVINO in ")
