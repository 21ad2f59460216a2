"""Fill from the GUI: only masked pixels change, undo restores, variations, cancel, responsiveness."""

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QToolBar

from app.gui.variations_dialog import thumbnail_region
from core.engine.inpainter import Inpainter
from core.masks.editing import Region, bounding_region
from tests.gui_helpers import write_photo

pytestmark = pytest.mark.gui


@pytest.fixture
def window(open_main_window, tiny_checkpoint, tmp_path):
    window = open_main_window(tiny_checkpoint)
    write_photo(tmp_path / "photo.png", 120, 90)
    assert window.open_image(tmp_path / "photo.png")
    window.document.mask[20:40, 30:60] = 1
    window.document.mask[60:80, 90:110] = 1
    return window


def run_fill(qtbot, window, action=None):
    with qtbot.waitSignal(window.engine.busy_changed, check_params_cb=lambda busy: not busy, timeout=30000):
        (action or window.fill_action).trigger()


def test_status_bar_names_the_model_and_device(window):
    assert window.model_label.text() == "Model: tiny · 32 px · tests"
    assert window.device_label.text() == "CPU · torch fp32"
    assert window.device_actions["cpu"].isChecked()
    assert window.device_actions["cuda"].isEnabled() == __import__("torch").cuda.is_available()


def test_fill_replaces_only_masked_pixels_and_undo_restores_the_original(window, qtbot):
    before = window.document.picture.pixels.copy()
    hole = window.document.hole()
    run_fill(qtbot, window)
    after = window.document.picture.pixels
    assert np.array_equal(after[~hole], before[~hole])
    assert (after[hole] != before[hole]).any(axis=-1).mean() > 0.5
    assert not window.document.mask.any() and window.document.modified and window.isWindowModified()
    assert np.array_equal(window.document.display, after)
    window.undo_action.trigger()
    assert np.array_equal(window.document.picture.pixels, before)
    assert np.array_equal(window.document.hole(), hole) and not window.document.modified
    window.redo_action.trigger()
    assert np.array_equal(window.document.picture.pixels, after)


def test_the_fill_becomes_the_new_image_so_one_can_fill_again(window, qtbot):
    run_fill(qtbot, window)
    first = window.document.picture.pixels.copy()
    window.document.mask[5:15, 5:15] = 1
    run_fill(qtbot, window)
    changed = (window.document.picture.pixels != first).any(axis=-1)
    assert changed.any() and bounding_region(changed).top >= 5 and bounding_region(changed).bottom <= 15
    assert window.undo_stack.count() == 2


def test_ctrl_enter_fills(window, qtbot):
    window.canvas.setFocus()
    with qtbot.waitSignal(window.engine.busy_changed, check_params_cb=lambda busy: not busy, timeout=30000):
        qtbot.keyClick(window.canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.undo_stack.count() == 1 and window.undo_stack.text(0) == "Fill"


def test_variations_offers_k_thumbnails_and_applies_the_chosen_one(window, qtbot, answers):
    window.preferences.variations = 3
    answers.variation = 2
    run_fill(qtbot, window, window.variations_action)
    assert len(answers.thumbnails) == 3
    assert not np.array_equal(answers.thumbnails[0], answers.thumbnails[2])
    context = thumbnail_region(Region(20, 30, 80, 110), 90, 120)
    assert context == Region(0, 2, 90, 120)
    assert np.array_equal(window.document.display[context.slices], answers.thumbnails[2])


def test_while_the_variations_chooser_is_open_nothing_says_the_fill_is_still_running(window, qtbot, monkeypatch):
    from app.gui import dialogs

    seen = {}

    def choose(parent, thumbnails, seed):
        seen.update(busy_bar=window.busy_bar.isVisible(), message=window.statusBar().currentMessage(), cancel=window.cancel_action.isEnabled())
        return 0

    monkeypatch.setattr(dialogs, "choose_variation", choose)
    window.preferences.variations = 2
    run_fill(qtbot, window, window.variations_action)
    assert seen == {"busy_bar": False, "message": "Choose one of the 2 fills.", "cancel": False}


def test_the_selected_thumbnail_shows_its_own_colours(qtbot):
    from app.gui.variations_dialog import VariationsDialog

    colours = [(40, 160, 90), (200, 60, 30)]
    dialog = VariationsDialog([np.full((50, 50, 3), c, np.uint8) for c in colours], 7)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.chosen == 0 and dialog.list.item(0).isSelected()
    shown = dialog.list.viewport().grab().toImage()
    for row, colour in enumerate(colours):
        rect = dialog.list.visualItemRect(dialog.list.item(row))
        assert shown.pixelColor(rect.center().x(), rect.top() + 80).getRgb()[:3] == colour


def test_the_variation_strength_in_preferences_sets_how_different_the_variations_are(window, qtbot, answers):
    from app.gui.preferences_dialog import PreferencesDialog

    window.preferences.variations = 2
    differences = []
    for percent in (0, 100):
        dialog = PreferencesDialog(window.preferences, window)
        dialog.variation_strength.setValue(percent)
        dialog.accept()
        assert window.preferences.variation_strength == percent / 100
        answers.variation = None
        run_fill(qtbot, window, window.variations_action)
        first, second = (t.astype(int) for t in answers.thumbnails)
        differences.append(np.abs(first - second).mean())
    assert differences[0] < differences[1]


@pytest.mark.usefixtures("no_default_model")
def test_variations_need_a_model_because_the_classic_fill_gives_one_result(open_main_window, tmp_path):
    window = open_main_window()
    write_photo(tmp_path / "photo.png")
    window.open_image(tmp_path / "photo.png")
    assert window.engine.inpainter.is_classic and window.fill_action.isEnabled() and not window.variations_action.isEnabled()


def test_declining_the_variations_leaves_the_image_unchanged(window, qtbot, answers):
    before = window.document.picture.pixels.copy()
    answers.variation = None
    run_fill(qtbot, window, window.variations_action)
    assert np.array_equal(window.document.picture.pixels, before) and window.document.mask.any()


def test_holding_tab_shows_the_original(window, qtbot):
    run_fill(qtbot, window)
    layer = window.canvas._image_layer
    QApplication.sendEvent(window.canvas, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Tab, Qt.KeyboardModifier.NoModifier))
    assert layer.pixels is window.document.original_display
    assert window.canvas.original_badge.isVisibleTo(window) and "Original" in window.canvas.original_badge.text()
    QApplication.sendEvent(window.canvas, QKeyEvent(QEvent.Type.KeyRelease, Qt.Key.Key_Tab, Qt.KeyboardModifier.NoModifier))
    assert layer.pixels is window.document.display and not window.canvas.original_badge.isVisibleTo(window)


@pytest.fixture
def slow_fill(monkeypatch):
    """Fills that take about a second (in the worker thread) before running for real."""
    fill = Inpainter.fill
    started = threading.Event()

    def slowly(self, *args, **kwargs):
        started.set()
        time.sleep(1.0)
        return fill(self, *args, **kwargs)

    monkeypatch.setattr(Inpainter, "fill", slowly)
    return started


def test_the_gui_thread_keeps_processing_events_while_a_fill_runs(window, qtbot, slow_fill):
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    window.fill_action.trigger()
    assert window.engine.busy and not window.fill_action.isEnabled() and not window.clear_action.isEnabled()
    assert window.open_action.isEnabled() and window.save_action.isEnabled() and not window.canvas.editable
    assert window.cancel_action.isEnabled() and window.busy_bar.isVisibleTo(window)
    qtbot.waitUntil(lambda: not window.engine.busy, timeout=30000)
    timer.stop()
    assert len(ticks) >= 20 and max(np.diff(ticks)) < 0.5
    assert window.fill_action.isEnabled() and not window.cancel_action.isEnabled()


def test_escape_cancels_a_running_fill_and_leaves_the_image_unchanged(window, qtbot, slow_fill):
    before = window.document.picture.pixels.copy()
    window.fill_action.trigger()
    qtbot.waitUntil(slow_fill.is_set)
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.engine.busy, timeout=30000)
    assert np.array_equal(window.document.picture.pixels, before)
    assert window.statusBar().currentMessage() == "Cancelled" and window.undo_stack.count() == 0


def test_escape_cancels_a_fill_started_while_the_menu_bar_keeps_the_keyboard(window, qtbot, slow_fill):
    """A menu closed with Esc leaves the menu bar in keyboard mode, where it takes the next Esc for
    itself; a fill started then (from the toolbar, say) must still be cancelled by one Esc."""
    qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is not None)
    qtbot.keyClick(QApplication.activePopupWidget(), Qt.Key.Key_Escape)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    assert QApplication.focusWidget() is window.menuBar() and window.menuBar().activeAction() is not None
    before = window.document.picture.pixels.copy()
    window.fill_action.trigger()
    qtbot.waitUntil(slow_fill.is_set)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert window.statusBar().currentMessage() == "Cancelled"
    qtbot.waitUntil(lambda: not window.engine.busy, timeout=30000)
    assert np.array_equal(window.document.picture.pixels, before) and window.undo_stack.count() == 0


def test_stop_during_the_last_step_of_a_fill_drops_its_result_within_a_second(window, qtbot, monkeypatch):
    """A large photo's fill spends seconds after its last cancel check (one window, then compositing
    the full-size picture); Stop must still win, at once."""
    fill = Inpainter.fill
    computed = threading.Event()

    def then_slowly(self, *args, **kwargs):
        result = fill(self, *args, **kwargs)
        computed.set()
        time.sleep(2.0)
        return result

    monkeypatch.setattr(Inpainter, "fill", then_slowly)
    before = window.document.picture.pixels.copy()
    window.fill_action.trigger()
    qtbot.waitUntil(computed.is_set, timeout=30000)
    pressed = time.monotonic()
    window.cancel_action.trigger()
    assert window.statusBar().currentMessage() == "Cancelled" and time.monotonic() - pressed < 1.0
    qtbot.waitUntil(lambda: not window.engine.busy, timeout=30000)
    assert np.array_equal(window.document.picture.pixels, before) and window.undo_stack.count() == 0
    assert window.statusBar().currentMessage() == "Cancelled"


def test_an_empty_mask_asks_for_paint_instead_of_filling(window):
    window.document.mask[...] = 0
    window.fill_action.trigger()
    assert not window.engine.busy and "Paint over" in window.statusBar().currentMessage()


def test_a_corrupt_checkpoint_shows_an_error_and_keeps_the_loaded_model(window, qtbot, answers, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    answers.open_paths.append(str(bad))
    window.load_model_action.trigger()
    qtbot.waitUntil(lambda: not window.engine.busy, timeout=30000)
    assert answers.errors and answers.errors[0][0] == "Cannot load the model" and "bad.safetensors" in answers.errors[0][1]
    assert window.model_label.text() == "Model: tiny · 32 px · tests"


@pytest.mark.usefixtures("no_default_model")
def test_without_a_model_variations_say_why_they_are_off(open_main_window, tmp_path):
    from tests.gui_helpers import write_photo

    window = open_main_window()
    write_photo(tmp_path / "a.png")
    window.open_image(tmp_path / "a.png")
    action = window.variations_action
    assert not action.isEnabled() and "needs a model" in action.text()
    assert "Load checkpoint" in action.toolTip() and "Load checkpoint" in action.statusTip()


@pytest.mark.usefixtures("no_default_model")
def test_the_variations_button_keeps_its_label_when_a_model_loads(open_main_window, tiny_checkpoint, qtbot):
    """The toolbar must not shift when the model arrives: only the menu entry says "(needs a model)"."""
    window = open_main_window()
    button = window.findChild(QToolBar).widgetForAction(window.variations_action)
    assert "needs a model" in window.variations_action.text() and button.text() == "Variations"
    window.load_model(tiny_checkpoint, "cpu")
    qtbot.waitUntil(lambda: not window.engine.busy, timeout=30000)
    assert window.variations_action.text() == "&Variations…" and button.text() == "Variations"


def test_quit_closes_the_window_at_once_while_a_fill_runs(window, qtbot, monkeypatch):
    """File → Quit (Ctrl+Q): the window goes before the engine's running step ends (that step is cancelled)."""
    fill = Inpainter.fill
    started = threading.Event()
    visible_when_the_step_ended = []

    def slowly(self, *args, **kwargs):
        started.set()
        time.sleep(1.0)
        visible_when_the_step_ended.append(window.isVisible())
        return fill(self, *args, **kwargs)

    monkeypatch.setattr(Inpainter, "fill", slowly)
    window.fill_action.trigger()
    qtbot.waitUntil(started.is_set)
    window.quit_action.trigger()
    assert not window.isVisible() and visible_when_the_step_ended == [False]
