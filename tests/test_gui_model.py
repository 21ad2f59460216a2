"""The app's model: the Model menu without a default model, the model's data terms, and the app's log."""

import logging
import sys
from pathlib import Path

import pytest

from app.gui.training_process import TrainingProcess
from app.logs import install_logging
from core.io.checkpoint import export_checkpoint
from tests.gui_helpers import wait_idle, write_photo

pytestmark = pytest.mark.gui

TERMS = "CelebA-HQ (Karras et al. 2018): non-commercial research use only"


def test_without_a_default_model_its_menu_entry_is_off_and_says_why(open_main_window, tiny_checkpoint, monkeypatch):
    monkeypatch.setattr("app.gui.window_model.default_model_path", lambda: None)
    window = open_main_window(tiny_checkpoint)
    window.model_menu.aboutToShow.emit()
    assert window.default_model_action in window.model_menu.actions()
    assert not window.default_model_action.isEnabled()
    assert "no default model" in window.default_model_action.toolTip() and window.model_menu.toolTipsVisible()
    monkeypatch.setattr("app.gui.window_model.default_model_path", lambda: tiny_checkpoint)
    window.model_menu.aboutToShow.emit()
    assert window.default_model_action.isEnabled()


def test_the_models_data_terms_are_in_about_and_the_status_bar(open_main_window, tiny_checkpoint, answers, tmp_path):
    export_checkpoint(tiny_checkpoint, tmp_path / "faces.safetensors", data_terms=TERMS)
    window = open_main_window(tmp_path / "faces.safetensors")
    assert f"Training data terms: {TERMS}" in window.model_label.toolTip()
    window.about_action.trigger()
    assert TERMS in answers.infos[-1][1]
    window.close()
    unrecorded = open_main_window(tiny_checkpoint)
    assert "Training data terms: not recorded" in unrecorded.model_label.toolTip()


@pytest.fixture
def app_log(user_data, monkeypatch):
    """The app's logging installed into the temp user-data folder; the test's logging is restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    path = install_logging()
    yield path
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_log_file_records_the_model_fills_errors_and_a_failed_training(app_log, open_main_window, tiny_checkpoint, qtbot, tmp_path):
    window = open_main_window(tiny_checkpoint)
    write_photo(tmp_path / "photo.png")
    (tmp_path / "broken.png").write_text("not a picture")
    window.open_image(tmp_path / "broken.png")
    window.open_image(tmp_path / "photo.png")
    window.document.mask[20:40, 30:60] = 1
    window.fill_action.trigger()
    wait_idle(qtbot, window)
    process = TrainingProcess()
    with qtbot.waitSignal(process.failed, timeout=60000):
        process.start(tmp_path / "no-such-job.json")
    text = Path(app_log).read_text()
    assert "loaded InvertFill 32 px, tests (tiny.safetensors)" in text
    assert "Cannot open the image" in text and "broken.png" in text
    assert "photo.png: Filled with InvertFill 32 px" in text
    assert "fine-tune failed" in text


def test_a_faces_model_that_finds_no_face_says_so_first_in_the_status_bar(open_main_window, tiny_checkpoint, qtbot, tmp_path):
    from core.engine.window_plan import NO_FACE

    faces_model = tmp_path / "faces.safetensors"
    export_checkpoint(tiny_checkpoint, faces_model, framing="aligned-face")
    window = open_main_window(faces_model)
    write_photo(tmp_path / "landscape.png")
    window.open_image(tmp_path / "landscape.png")
    window.document.mask[20:40, 30:60] = 1
    window.fill_action.trigger()
    wait_idle(qtbot, window)
    message = window.statusBar().currentMessage()
    assert message.startswith("No face found: ") and NO_FACE[1:] in message and "Filled with InvertFill 32 px" in message
