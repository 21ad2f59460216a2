"""The canvas: painting with the mouse, undo, mask operations, zoom, compare, and large images."""

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolBar

from core.masks.editing import Region, bounding_region
from tests.gui_helpers import drag, write_photo

pytestmark = pytest.mark.gui


@pytest.fixture
def window(open_main_window, tmp_path):
    """A 120×90 photo at 100 %, where the brush's on-screen size is its size in image pixels."""
    window = open_main_window()
    write_photo(tmp_path / "photo.png")
    assert window.open_image(tmp_path / "photo.png")
    window.actual_size_action.trigger()
    return window


def test_mouse_drag_paints_the_mask_and_undo_removes_it(window):
    window.set_brush_size(10)
    drag(window.canvas, [(20, 45), (60, 45), (100, 45)])
    mask = window.document.mask
    region = bounding_region(mask)
    assert mask[45, 20:100].all()
    assert 9 <= region.bottom - region.top <= 13 and 88 <= region.right - region.left <= 94
    assert window.undo_stack.count() == 1 and window.undo_action.isEnabled()
    window.undo_action.trigger()
    assert not window.document.mask.any()
    window.redo_action.trigger()
    assert np.array_equal(window.document.mask, mask)


def test_eraser_and_rectangle_tools(window):
    window.tool_actions["rectangle"].trigger()
    drag(window.canvas, [(10, 10), (40, 30)])
    assert bounding_region(window.document.mask) is not None
    painted = int(window.document.mask.sum())
    assert abs(painted - 31 * 21) <= 2 * (31 + 21)
    window.tool_actions["eraser"].trigger()
    window.set_brush_size(6)
    drag(window.canvas, [(5, 20), (45, 20)])
    assert window.document.mask.sum() < painted and not window.document.mask[20, 12:38].any()
    assert [window.undo_stack.text(i) for i in range(2)] == ["Rectangle", "Erase"]


def test_mask_operations_are_undoable_and_store_only_what_changed(window):
    window.document.mask[30:50, 40:60] = 1
    window.set_brush_size(16)
    window.grow_action.trigger()
    assert bounding_region(window.document.mask) == Region(26, 36, 54, 64)
    command = window.undo_stack.command(0)
    assert command.before.shape == (28, 28)
    window.invert_action.trigger()
    assert window.document.mask[0, 0] == 1 and window.document.mask[40, 50] == 0
    window.clear_action.trigger()
    assert not window.document.mask.any()
    for _ in range(3):
        window.undo_action.trigger()
    assert bounding_region(window.document.mask) == Region(30, 40, 50, 60)


def test_brush_size_keys_slider_and_cursor(window, qtbot):
    window.set_brush_size(40)
    window.canvas.setFocus()
    QTest.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.canvas.brush_size == 50 and window.brush_slider.value() == 50
    QTest.keyClick(window, Qt.Key.Key_BracketLeft)
    assert window.canvas.brush_size == 40 and window.brush_label.text() == "40 px"
    QTest.mouseMove(window.canvas.viewport(), window.canvas.mapFromScene(QPointF(60, 45)))
    assert window.canvas._cursor.rect().width() == 40


def test_ctrl_wheel_zooms_and_fit_and_actual_size(window):
    canvas = window.canvas
    canvas.actual_size()
    assert canvas.zoom == 1
    centre = QPointF(canvas.viewport().rect().center())
    event = QWheelEvent(centre, canvas.mapToGlobal(centre), QPoint(), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    canvas.wheelEvent(event)
    assert canvas.zoom == pytest.approx(1.25)
    window.fit_action.trigger()
    assert canvas.zoom == pytest.approx(min(canvas.viewport().width() / 120, canvas.viewport().height() / 90), rel=0.05)


def fitted_zoom(canvas, width: int, height: int) -> float:
    return min(canvas.viewport().width() / width, canvas.viewport().height() / height)


def test_resizing_the_window_refits_the_image_until_another_zoom_is_chosen(window, qtbot):
    canvas = window.canvas
    window.fit_action.trigger()
    window.resize(900, 700)
    qtbot.waitUntil(lambda: canvas.viewport().width() > 700)
    window.resize(1300, 900)
    qtbot.waitUntil(lambda: canvas.zoom == pytest.approx(fitted_zoom(canvas, 120, 90), rel=0.02))
    assert window.zoom_label.text() == f"{canvas.zoom:.0%}"
    window.zoom_in_action.trigger()
    zoom = canvas.zoom
    window.resize(900, 700)
    qtbot.waitUntil(lambda: canvas.viewport().width() < 900)
    assert canvas.zoom == zoom


def test_the_empty_canvas_says_to_open_or_drop_an_image(open_main_window, tmp_path):
    window = open_main_window()
    hint = window.canvas.empty_hint
    assert hint.isVisible() and hint.text() == "Open or drop an image"
    assert hint.geometry().contains(window.canvas.viewport().geometry().center())
    write_photo(tmp_path / "photo.png")
    window.open_image(tmp_path / "photo.png")
    assert not hint.isVisible()


def test_transparent_pixels_show_a_checkerboard_that_marks_the_image_edge(open_main_window, tmp_path):
    window = open_main_window()
    pixels = np.zeros((90, 120, 4), np.uint8)
    pixels[:, 60:] = (0, 90, 200, 255)
    cv2.imwrite(str(tmp_path / "half.png"), cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA))
    window.open_image(tmp_path / "half.png")
    window.tool_actions["rectangle"].trigger()
    canvas = window.canvas
    shown = canvas.viewport().grab().toImage()
    left = canvas.mapFromScene(QPointF(0, 0)).x()
    top, bottom = canvas.mapFromScene(QPointF(0, 0)).y(), canvas.mapFromScene(QPointF(0, 90)).y()
    transparent = {shown.pixelColor(x, y).name() for x in range(left + 2, left + 40) for y in range(top + 2, bottom - 2, 3)}
    assert transparent == {"#cccccc", "#999999"}
    outside = {shown.pixelColor(x, top + 20).name() for x in range(0, left - 1)}
    assert outside == {"#303034"}
    assert shown.pixelColor(canvas.mapFromScene(QPointF(100, 45))).name() == "#005ac8"


def test_painting_is_refused_while_the_engine_works(window):
    window.canvas.set_editable(False)
    drag(window.canvas, [(20, 45), (60, 45)])
    assert not window.document.mask.any() and window.undo_stack.count() == 0


def test_a_stroke_on_a_6000_by_4000_photo_repaints_and_stores_only_what_it_touched(open_main_window, tmp_path):
    window = open_main_window()
    write_photo(tmp_path / "big.png", 6000, 4000)
    assert window.open_image(tmp_path / "big.png")
    window.actual_size_action.trigger()
    window.canvas.centerOn(3100, 2050)
    window.set_brush_size(50)
    repainted = []
    window.document.mask_changed.connect(repainted.append)
    drag(window.canvas, [(3000, 2000), (3100, 2050), (3200, 2100)])
    assert repainted and all(r.bottom - r.top < 200 and r.right - r.left < 300 for r in repainted)
    command = window.undo_stack.command(0)
    assert command.before.shape[0] * command.before.shape[1] < 400 * 300
    assert window.document.mask[2050, 3100] == 1


def test_the_brush_size_is_on_screen_so_a_large_photo_needs_no_extra_presses(open_main_window, qtbot, tmp_path):
    window = open_main_window()
    window.resize(1000, 700)
    write_photo(tmp_path / "big.png", 4000, 3000)
    assert window.open_image(tmp_path / "big.png")
    zoom = window.canvas.zoom
    assert zoom < 0.25
    window.set_brush_size(40)
    window.canvas.setFocus()
    QTest.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.canvas.brush_size == 50
    drag(window.canvas, [(1000, 1500), (2000, 1500), (3000, 1500)])
    painted = np.flatnonzero(window.document.mask[:, 2000])
    assert painted.size == pytest.approx(50 / zoom, rel=0.1)
    QTest.mouseMove(window.canvas.viewport(), window.canvas.mapFromScene(QPointF(2000, 1000)))
    assert window.canvas._cursor.rect().width() * zoom == pytest.approx(50)


def test_the_toolbar_does_not_move_when_the_brush_size_gains_a_digit(window):
    toolbar_button = window.findChild(QToolBar, "tools").widgetForAction(window.undo_action)
    positions = set()
    for size in (9, 10, 99, 100, 500):
        window.set_brush_size(size)
        window.findChild(QToolBar, "tools").layout().activate()
        positions.add(toolbar_button.x())
        assert window.brush_label.text() == f"{size} px"
    assert len(positions) == 1, positions
