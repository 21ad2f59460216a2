"""Painting speed on a large photo: milliseconds per brush-stroke segment, including the repaint.

python benchmarks/canvas_paint.py [--width 6000 --height 4000 --segments 200]

Runs offscreen. Each segment is a mouse move that paints the mask, then the event loop repaints what it
touched; the table compares it with a full repaint of the view.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.gui.canvas import CanvasView  # noqa: E402
from app.gui.document import Document  # noqa: E402
from core.io.image_io import Picture  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--brush", type=int, default=60)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    canvas = CanvasView()
    canvas.resize(1600, 1000)
    canvas.show()
    canvas.set_document(Document(Picture(pixels)))
    canvas.set_brush_size(args.brush)
    app.processEvents()
    rows = []
    for zoom_name, set_zoom in (("fit", canvas.fit_to_window), ("100 %", canvas.actual_size)):
        set_zoom()
        canvas.centerOn(args.width / 2, args.height / 2)
        app.processEvents()
        start = time.perf_counter()
        canvas.viewport().repaint()
        full = (time.perf_counter() - start) * 1000
        times = []
        for i in range(args.segments):
            point = canvas.mapFromScene(QPointF(args.width / 2 - 300 + 3 * i, args.height / 2 + 40 * np.sin(i / 10)))
            start = time.perf_counter()
            if i == 0:
                canvas.mousePressEvent(_mouse_event(QEvent.Type.MouseButtonPress, point, Qt.MouseButton.LeftButton))
            canvas.mouseMoveEvent(_mouse_event(QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton))
            app.processEvents()
            times.append((time.perf_counter() - start) * 1000)
        canvas.mouseReleaseEvent(_mouse_event(QEvent.Type.MouseButtonRelease, point, Qt.MouseButton.LeftButton))
        rows.append((zoom_name, statistics.median(times), max(times), full))
    print(f"| {args.width}×{args.height}, brush {args.brush} px | median ms/segment | max ms | full repaint ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, median, worst, full in rows:
        print(f"| zoom {name} | {median:.2f} | {worst:.2f} | {full:.2f} |")


def _mouse_event(kind: QEvent.Type, position, button: Qt.MouseButton) -> QMouseEvent:
    return QMouseEvent(kind, QPointF(position), QPointF(position), button, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)


if __name__ == "__main__":
    main()
