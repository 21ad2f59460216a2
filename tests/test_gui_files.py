"""Files in the GUI: open, drop, save, unsaved changes, batch folders, preferences, screenshots."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from app.gui.preferences import Preferences
from app.gui.shortcuts_dialog import shortcut_rows
from core.io.image_io import read_image
from core.masks.reading import read_mask
from tests.gui_helpers import drag, drop, wait_idle, write_photo

pytestmark = pytest.mark.gui


def paint_and_fill(qtbot, window):
    window.document.mask[20:40, 30:60] = 1
    with qtbot.waitSignal(window.engine.busy_changed, check_params_cb=lambda busy: not busy, timeout=30000):
        window.fill_action.trigger()


def test_open_from_the_dialog_and_the_recent_menu(open_main_window, answers, tmp_path):
    window = open_main_window()
    write_photo(tmp_path / "a.png")
    write_photo(tmp_path / "b.jpg", seed=1)
    answers.open_paths.append(str(tmp_path / "a.png"))
    window.open_action.trigger()
    assert window.document.name == "a.png" and window.windowTitle() == "a.png[*] — InvertFill Studio"
    assert window.open_image(tmp_path / "b.jpg")
    assert window.preferences.recent_files == [str(tmp_path / "b.jpg"), str(tmp_path / "a.png")]
    window._fill_recent_menu()
    titles = [a.text() for a in window.recent_menu.actions()]
    assert titles[:2] == [str(tmp_path / "b.jpg"), str(tmp_path / "a.png")]
    window.recent_menu.actions()[1].trigger()
    assert window.document.name == "a.png"


def test_ctrl_o_and_painting_do_not_wait_for_the_model_to_load(qtbot, user_data, answers, settings_path, tiny_checkpoint, monkeypatch, tmp_path):
    from app.gui.main_window import MainWindow
    from core.engine.inpainter import Inpainter

    loaded = threading.Event()
    load = Inpainter.__init__

    def slowly(self, *args, **kwargs):
        loaded.wait(30)
        load(self, *args, **kwargs)

    monkeypatch.setattr(Inpainter, "__init__", slowly)
    window = MainWindow(Preferences(QSettings(str(settings_path), QSettings.Format.IniFormat)), str(tiny_checkpoint), "cpu")
    qtbot.addWidget(window)
    with qtbot.waitActive(window):
        window.show()
    write_photo(tmp_path / "photo.png", 320, 240)
    answers.open_paths.append(str(tmp_path / "photo.png"))
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert window.engine.busy and window.document is not None and window.document.name == "photo.png"
    drag(window.canvas, [(60, 60), (200, 120)])
    assert window.document.mask.any() and window.undo_stack.count() == 1 and not window.fill_action.isEnabled()
    loaded.set()
    wait_idle(qtbot, window)
    assert window.fill_action.isEnabled() and window.model_label.text() == "Model: tiny · 32 px · tests"
    window.engine.shutdown()


def test_dropping_a_file_opens_it(open_main_window, tmp_path):
    window = open_main_window()
    pixels = write_photo(tmp_path / "dropped.png")
    drop(window, tmp_path / "dropped.png")
    assert window.document is not None and window.document.name == "dropped.png"
    assert np.array_equal(window.document.picture.pixels, pixels)


def test_a_corrupt_file_shows_an_error_dialog_and_keeps_the_open_image(open_main_window, answers, tmp_path):
    window = open_main_window()
    write_photo(tmp_path / "good.png")
    assert window.open_image(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    drop(window, tmp_path / "broken.png")
    assert len(answers.errors) == 1
    title, message = answers.errors[0]
    assert title == "Cannot open the image" and "broken.png" in message and "\n" not in message
    assert window.document.name == "good.png"


def test_unsaved_fills_prompt_before_opening_another_image(open_main_window, tiny_checkpoint, qtbot, answers, tmp_path):
    window = open_main_window(tiny_checkpoint)
    write_photo(tmp_path / "one.png")
    write_photo(tmp_path / "two.png", seed=2)
    window.open_image(tmp_path / "one.png")
    assert window.open_image(tmp_path / "two.png") and answers.asked_unsaved == 0
    paint_and_fill(qtbot, window)
    answers.unsaved_answer = "cancel"
    assert not window.open_image(tmp_path / "one.png") and window.document.name == "two.png"
    answers.unsaved_answer = "discard"
    assert window.open_image(tmp_path / "one.png") and answers.asked_unsaved == 2
    assert np.array_equal(read_image(tmp_path / "two.png").pixels, window.document.picture.pixels) is False


def accept_proposed_save_paths(monkeypatch) -> list[str]:
    """The save dialog accepts what it proposes; returns the proposals."""
    from app.gui import dialogs

    proposals: list[str] = []

    def accept(parent, title, suggestion, *rest):
        proposals.append(suggestion)
        return suggestion

    monkeypatch.setattr(dialogs, "choose_file_to_save", accept)
    return proposals


def test_save_prompt_on_close_writes_the_fill_beside_the_original(open_main_window, tiny_checkpoint, qtbot, answers, monkeypatch, tmp_path):
    window = open_main_window(tiny_checkpoint)
    original = write_photo(tmp_path / "photo.png")
    window.open_image(tmp_path / "photo.png")
    paint_and_fill(qtbot, window)
    proposals = accept_proposed_save_paths(monkeypatch)
    answers.unsaved_answer = "save"
    window.close()
    assert proposals == [str(tmp_path / "photo_filled.png")]
    assert np.array_equal(read_image(tmp_path / "photo.png").pixels, original)
    assert np.array_equal(read_image(tmp_path / "photo_filled.png").pixels, window.document.picture.pixels)


@pytest.mark.parametrize("name, proposed", [("photo.jpg", "photo_filled.png"), ("scan.tif", "scan_filled.tif"), ("web.webp", "web_filled.png")])
def test_the_first_ctrl_s_proposes_a_new_file_and_never_replaces_the_photo(name, proposed, open_main_window, qtbot, monkeypatch, tmp_path):
    window = open_main_window()
    write_photo(tmp_path / "photo.png")
    cv2.imwrite(str(tmp_path / name), cv2.imread(str(tmp_path / "photo.png")))
    original_bytes = (tmp_path / name).read_bytes()
    window.open_image(tmp_path / name)
    paint_and_fill(qtbot, window)
    proposals = accept_proposed_save_paths(monkeypatch)
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert proposals == [str(tmp_path / proposed)] and (tmp_path / name).read_bytes() == original_bytes
    assert not window.document.modified and (tmp_path / proposed).exists()
    paint_and_fill(qtbot, window)
    window.save_action.trigger()
    assert len(proposals) == 1 and not window.document.modified
    assert np.array_equal(read_image(tmp_path / proposed).pixels, window.document.picture.pixels)


def test_save_as_png_keeps_alpha_and_jpeg_asks_for_quality(open_main_window, tiny_checkpoint, qtbot, answers, tmp_path):
    window = open_main_window(tiny_checkpoint)
    rgba = write_photo(tmp_path / "alpha.png", channels=4)
    window.open_image(tmp_path / "alpha.png")
    paint_and_fill(qtbot, window)
    answers.save_paths += [str(tmp_path / "out" / "filled.png"), str(tmp_path / "out" / "filled.jpg")]
    window.save_as_action.trigger()
    saved = read_image(tmp_path / "out" / "filled.png").pixels
    assert np.array_equal(saved[..., 3], rgba[..., 3]) and not window.document.modified
    assert np.array_equal(saved, window.document.picture.pixels)
    answers.quality = 40
    window.save_as_action.trigger()
    assert (tmp_path / "out" / "filled.jpg").stat().st_size < (tmp_path / "out" / "filled.png").stat().st_size
    assert window.preferences.jpeg_quality == 40 and "alpha channel was dropped" in window.statusBar().currentMessage()
    assert np.array_equal(read_image(tmp_path / "alpha.png").pixels, rgba)


def test_load_and_save_a_mask(open_main_window, answers, tmp_path):
    window = open_main_window()
    write_photo(tmp_path / "photo.png", 120, 90)
    window.open_image(tmp_path / "photo.png")
    small = np.zeros((45, 60), np.uint8)
    small[10:20, 10:30] = 255
    cv2.imwrite(str(tmp_path / "half_mask.png"), small)
    answers.open_paths.append(str(tmp_path / "half_mask.png"))
    window.load_mask_action.trigger()
    assert window.document.mask[20:40, 20:60].all() and int(window.document.mask.sum()) == 20 * 40
    assert "resized the mask" in window.statusBar().currentMessage()
    answers.save_paths.append(str(tmp_path / "saved_mask.png"))
    window.save_mask_action.trigger()
    assert np.array_equal(read_mask(tmp_path / "saved_mask.png"), window.document.hole())
    window.undo_action.trigger()
    assert not window.document.mask.any()


def make_batch_folder(folder: Path) -> dict[str, np.ndarray]:
    folder.mkdir()
    pictures = {}
    for index, name in enumerate(["cat", "dog", "orphan"]):
        pictures[name] = write_photo(folder / f"{name}.png", 80, 60, seed=index)
        if name != "orphan":
            mask = np.zeros((60, 80), np.uint8)
            mask[10:30, 10 + 20 * index : 40 + 20 * index] = 255
            cv2.imwrite(str(folder / f"{name}_mask.png"), mask)
    return pictures


def test_dropping_a_folder_runs_a_batch_that_writes_the_outputs(open_main_window, tiny_checkpoint, qtbot, tmp_path):
    window = open_main_window(tiny_checkpoint)
    pictures = make_batch_folder(tmp_path / "photos")
    drop(window, tmp_path / "photos")
    panel = window.batch_dialog
    assert panel.isVisible() and panel.image_folder.text() == str(tmp_path / "photos")
    assert panel.output_folder.text() == str(tmp_path / "photos" / "filled")
    with qtbot.waitSignal(panel.finished_report, timeout=60000) as finished:
        qtbot.mouseClick(panel.start_button, __import__("PySide6.QtCore").QtCore.Qt.MouseButton.LeftButton)
    report = finished.args[0]
    outputs = sorted(p.name for p in (tmp_path / "photos" / "filled").iterdir())
    assert outputs == ["cat.png", "dog.png"] and len(report.filled) == 2
    for name in ("cat", "dog"):
        filled = read_image(tmp_path / "photos" / "filled" / f"{name}.png").pixels
        hole = read_mask(tmp_path / "photos" / f"{name}_mask.png")
        assert np.array_equal(filled[~hole], pictures[name][~hole]) and not np.array_equal(filled[hole], pictures[name][hole])
    summary = panel.summary.toPlainText()
    assert summary.startswith("Filled 2 of 3 images") and "orphan.png: no mask named orphan_mask.*" in summary
    assert panel.progress.value() == 2 and panel.start_button.isEnabled() and not window.engine.busy


def test_batch_with_the_canvas_mask_for_every_image(open_main_window, tiny_checkpoint, qtbot, answers, tmp_path):
    window = open_main_window(tiny_checkpoint)
    make_batch_folder(tmp_path / "photos")
    write_photo(tmp_path / "canvas.png", 160, 120)
    window.open_image(tmp_path / "canvas.png")
    window.document.mask[0:40, 0:40] = 1
    answers.folders += [str(tmp_path / "photos"), str(tmp_path / "out")]
    window.batch_action.trigger()
    panel = window.batch_dialog
    panel.use_canvas.setChecked(True)
    panel._browse(panel.image_folder, "")
    panel._browse(panel.output_folder, "")
    with qtbot.waitSignal(panel.finished_report, timeout=60000):
        panel.start()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cat.png", "cat_mask.png", "dog.png", "dog_mask.png", "orphan.png"]
    assert "resized the mask" in panel.summary.toPlainText()


@pytest.mark.usefixtures("no_default_model")
def test_a_batch_of_jpegs_writes_png_by_default_so_known_pixels_stay_exact_and_says_what_it_will_do(open_main_window, qtbot, tmp_path):
    window = open_main_window()
    (tmp_path / "photos").mkdir()
    write_photo(tmp_path / "photo.png", 160, 120)
    cv2.imwrite(str(tmp_path / "photos" / "street.jpg"), cv2.imread(str(tmp_path / "photo.png")), [cv2.IMWRITE_JPEG_QUALITY, 80])
    hole = np.zeros((120, 160), np.uint8)
    hole[40:80, 50:110] = 255
    cv2.imwrite(str(tmp_path / "photos" / "street_mask.png"), hole)
    cv2.imwrite(str(tmp_path / "photos" / "lonely.jpg"), cv2.imread(str(tmp_path / "photo.png")))
    window.open_batch(tmp_path / "photos")
    panel = window.batch_dialog
    assert panel.status.text() == "1 image matched with a mask, 1 without. Fill: classic OpenCV fill (Telea): no InvertFill model was found."
    assert panel.output_format.currentData() == ".png"
    with qtbot.waitSignal(panel.finished_report, timeout=60000):
        panel.start()
    filled = read_image(tmp_path / "photos" / "filled" / "street.png").pixels
    original = read_image(tmp_path / "photos" / "street.jpg").pixels
    known = hole == 0
    assert np.array_equal(filled[known], original[known])
    assert not (tmp_path / "photos" / "filled" / "street.jpg").exists()
    assert panel.summary.toPlainText().startswith("Filled 1 of 2 images into ") and "with classic OpenCV fill (Telea)" in panel.summary.toPlainText()


def test_batch_without_a_canvas_mask_explains_in_a_dialog(open_main_window, answers, tmp_path):
    window = open_main_window()
    make_batch_folder(tmp_path / "photos")
    window.open_batch(tmp_path / "photos")
    window.batch_dialog.use_canvas.setChecked(True)
    window.batch_dialog.start()
    assert answers.errors == [("Batch fill", "the canvas has no mask: paint one, or pair masks by name")]
    assert not window.engine.busy and not (tmp_path / "photos" / "filled").exists()


def test_preferences_survive_a_restart_of_the_main_window(open_main_window, settings_path, tmp_path, qtbot):
    window = open_main_window()
    write_photo(tmp_path / "photo.png")
    window.open_image(tmp_path / "photo.png")
    window.set_brush_size(73)
    window.preferences.strategy = "resize"
    window.resize(700, 520)
    window.close()
    again = open_main_window()
    assert again.canvas.brush_size == 73 and again.brush_slider.value() == 73
    assert again.preferences.strategy == "resize" and again.preferences.device == "auto"
    assert again.preferences.recent_files == [str(tmp_path / "photo.png")]
    assert (again.width(), again.height()) == (700, 520)
    assert QSettings(str(settings_path), QSettings.Format.IniFormat).value("canvas/brush_size") in (73, "73")


def test_a_loaded_checkpoint_is_remembered(open_main_window, tiny_checkpoint, answers, qtbot):
    window = open_main_window()
    answers.open_paths.append(str(tiny_checkpoint))
    window.load_model_action.trigger()
    wait_idle(qtbot, window)
    assert window.model_label.text() == "Model: tiny · 32 px · tests"
    window.close()
    assert open_main_window().model_label.text() == "Model: tiny · 32 px · tests"


def test_the_model_menu_lists_the_bundled_demo_models_and_loads_one(open_main_window, tiny_checkpoint, qtbot, monkeypatch):
    monkeypatch.setattr("app.gui.window_model.demo_models", lambda: [tiny_checkpoint])
    window = open_main_window()
    window.model_menu.aboutToShow.emit()
    demos = [a for a in window.model_menu.actions() if a.text().startswith("Demo: ")]
    assert [a.text() for a in demos] == [f"Demo: {tiny_checkpoint.stem}"] and not demos[0].isChecked()
    demos[0].trigger()
    wait_idle(qtbot, window)
    assert window.model_label.text() == "Model: tiny · 32 px · tests"
    window.model_menu.aboutToShow.emit()
    assert [a.isChecked() for a in window.model_menu.actions() if a.text().startswith("Demo: ")] == [True]
    assert not window.default_model_action.isChecked()


def test_the_model_menu_checks_the_default_model_while_it_is_loaded(open_main_window, tiny_checkpoint, qtbot, monkeypatch):
    monkeypatch.setattr("app.gui.window_model.default_model_path", lambda: tiny_checkpoint)
    monkeypatch.setattr("core.engine.inpainter.default_model_path", lambda: tiny_checkpoint)
    window = open_main_window()
    window.model_menu.aboutToShow.emit()
    assert window.default_model_action.isChecked()
    next(a for a in window.model_menu.actions() if a.text() == "Classic: Telea").trigger()
    wait_idle(qtbot, window)
    window.model_menu.aboutToShow.emit()
    assert not window.default_model_action.isChecked()
    window.default_model_action.trigger()
    wait_idle(qtbot, window)
    window.model_menu.aboutToShow.emit()
    assert window.default_model_action.isChecked() and window.model_label.text() == "Model: tiny · 32 px · tests"


def test_help_lists_the_keyboard_shortcuts(open_main_window):
    rows = dict(shortcut_rows(open_main_window().actions()))
    assert rows["Fill"] == "Ctrl+Return" and rows["Brush"] == "B" and rows["Show the original while held"] == "Tab"
    assert rows["Undo"] == "Ctrl+Z" and rows["Cancel"] == "Esc"


@pytest.mark.usefixtures("no_default_model")
def test_the_shortcuts_list_plain_undo_after_a_fill_and_the_classic_fill_reports_no_seed(open_main_window, qtbot, tmp_path):
    window = open_main_window()
    write_photo(tmp_path / "a.png")
    window.open_image(tmp_path / "a.png")
    paint_and_fill(qtbot, window)
    assert window.undo_action.text().replace("&", "") == "Undo Fill"
    rows = dict(shortcut_rows(window.actions()))
    assert rows["Undo"] == "Ctrl+Z" and "Undo Fill" not in rows
    message = window.statusBar().currentMessage()
    assert message.startswith("Filled with classic OpenCV fill") and "seed" not in message


def test_save_mask_proposes_the_images_folder(open_main_window, monkeypatch, tmp_path):
    from app.gui import dialogs

    window = open_main_window()
    (tmp_path / "photos").mkdir()
    write_photo(tmp_path / "photos" / "cat.png")
    window.open_image(tmp_path / "photos" / "cat.png")
    suggestions = []
    monkeypatch.setattr(dialogs, "choose_file_to_save", lambda parent, title, suggestion, *rest: suggestions.append(suggestion))
    window.save_mask_action.trigger()
    assert suggestions == [str(tmp_path / "photos" / "cat_mask.png")]


def test_screenshots_of_a_painted_mask_and_after_fill(open_main_window, tiny_checkpoint, qtbot, tmp_path):
    """Saved under a temp dir (or $INVERTFILL_SCREENSHOTS) for a person to look at. On the canvas,
    the red overlay of the stroke is replaced by the fill and nothing away from the stroke changes."""
    folder = Path(os.environ.get("INVERTFILL_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    window = open_main_window(tiny_checkpoint)
    window.resize(1000, 700)
    write_photo(tmp_path / "photo.png", 320, 240)
    window.open_image(tmp_path / "photo.png")
    window.set_brush_size(24)
    drag(window.canvas, [(80, 80), (160, 120), (240, 100)])
    qtbot.wait(50)

    def canvas_pixels(name: str) -> np.ndarray:
        assert window.canvas.grab().save(str(tmp_path / name))
        return cv2.imread(str(tmp_path / name)).astype(int)

    assert window.grab().save(str(folder / "main_window_mask.png"))
    before = canvas_pixels("canvas_mask.png")
    with qtbot.waitSignal(window.engine.busy_changed, check_params_cb=lambda busy: not busy, timeout=30000):
        window.fill_action.trigger()
    qtbot.wait(50)
    assert window.grab().save(str(folder / "main_window_filled.png"))
    after = canvas_pixels("canvas_filled.png")
    overlay = (before[..., 2] - before[..., 1]) > 60
    near_stroke = cv2.dilate(overlay.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    changed = (before != after).any(axis=-1)
    assert overlay.sum() > 2000 and changed[overlay].mean() > 0.9 and not changed[~near_stroke].any()


def test_main_py_help_runs_without_a_display():
    result = subprocess.run([sys.executable, "main.py", "--help"], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0 and "IMAGE" in result.stdout and "--model" in result.stdout


def test_main_window_settings_use_the_user_data_folder(user_data):
    assert Path(Preferences().settings.fileName()) == user_data / "settings.ini"


def test_main_py_with_an_image_shows_it_on_the_canvas(tmp_path):
    """`python main.py PHOTO`, as a user starts it: the photo is on the canvas once the start-up
    model load has answered (it used to be refused while the engine was loading the model)."""
    colour = (250, 20, 200)
    cv2.imwrite(str(tmp_path / "photo.png"), np.full((150, 200, 3), colour[::-1], np.uint8))
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "INVERTFILL_USER_DATA": str(tmp_path / "user")}
    result = subprocess.run(
        [sys.executable, "main.py", str(tmp_path / "photo.png"), "--screenshot", str(tmp_path / "window.png")],
        cwd=Path(__file__).resolve().parents[1], env=environment, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    window = cv2.cvtColor(cv2.imread(str(tmp_path / "window.png")), cv2.COLOR_BGR2RGB).astype(int)
    on_canvas = (np.abs(window - colour).max(axis=2) <= 2).sum()
    assert on_canvas > 0.5 * 150 * 200, on_canvas
