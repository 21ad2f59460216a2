"""Helpers for the Qt tests: generated images, simulated drags and drops, waiting for the engine."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest


def write_photo(path: Path, width: int = 120, height: int = 90, seed: int = 0, channels: int = 3) -> np.ndarray:
    """A smooth random RGB (or RGBA) picture written as a file; returns its RGB(A) pixels."""
    rng = np.random.default_rng(seed)
    pixels = cv2.GaussianBlur(rng.integers(0, 256, (height, width, channels)).astype(np.uint8), (0, 0), 3)
    if channels == 4:
        pixels[..., 3] = np.linspace(40, 255, width, dtype=np.uint8)[None, :]
    conversion = cv2.COLOR_RGB2BGR if channels == 3 else cv2.COLOR_RGBA2BGRA
    cv2.imwrite(str(path), cv2.cvtColor(pixels, conversion))
    return pixels


def view_point(canvas, x: float, y: float) -> QPoint:
    """The viewport position that shows image pixel (x, y)."""
    return canvas.mapFromScene(QPointF(x, y))


def drag(canvas, points: list[tuple[float, float]], button=Qt.MouseButton.LeftButton) -> None:
    """Press at the first image point, move through the others, release at the last."""
    viewport = canvas.viewport()
    QTest.mousePress(viewport, button, Qt.KeyboardModifier.NoModifier, view_point(canvas, *points[0]))
    for point in points[1:]:
        QTest.mouseMove(viewport, view_point(canvas, *point))
    QTest.mouseRelease(viewport, button, Qt.KeyboardModifier.NoModifier, view_point(canvas, *points[-1]))


def drop(window, path: Path) -> None:
    """Drop a local file or folder onto the window, as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    enter.ignore()
    window.dragEnterEvent(enter)
    assert enter.isAccepted(), "the window refused the drag"
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, buttons, modifiers))


def wait_idle(qtbot, window, timeout: int = 30000) -> None:
    qtbot.waitUntil(lambda: not window.engine.busy, timeout=timeout)
