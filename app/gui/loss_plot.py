"""A small live line plot of one training loss, drawn with QPainter (no chart library)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QWidget


class LossPlot(QWidget):
    """Points (images seen, loss) added as they come; the curve fills the widget, with a y axis
    (the loss: its highest, middle and lowest value) and an x axis (images seen)."""

    def __init__(self, label: str = "loss", x_label: str = "images", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label, self.x_label = label, x_label
        self.points: list[tuple[float, float]] = []
        self.setMinimumSize(QSize(260, 120))

    def add(self, x: float, y: float) -> None:
        self.points.append((x, y))
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(250, 250, 250))
        painter.setPen(QColor(120, 120, 120))
        text_height = painter.fontMetrics().height()
        left = text_height + painter.fontMetrics().horizontalAdvance("0.000e+00")
        area = self.rect().adjusted(left, 8, -8, -text_height - 6)
        painter.drawRect(area)
        self._draw_y_title(painter, area)
        if not self.points:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, f"{self.label}: waiting for the first steps")
            return
        xs, ys = zip(*self.points)
        low, high = min(ys), max(ys)
        span_x, span_y = max(xs[-1] - xs[0], 1e-9), max(high - low, 1e-9)
        curve = QPolygonF([
            QPointF(area.left() + (x - xs[0]) / span_x * area.width(), area.bottom() - (y - low) / span_y * area.height())
            for x, y in self.points
        ])
        painter.setPen(QColor(60, 60, 60))
        for value in (high, (high + low) / 2, low):
            y = area.bottom() - (value - low) / span_y * area.height()
            painter.drawLine(QPointF(area.left() - 4, y), QPointF(area.left(), y))
            label = QRectF(text_height, y - text_height / 2, left - text_height - 6, text_height)
            painter.drawText(label, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{value:.3g}")
        painter.setPen(QPen(QColor(208, 72, 72), 2))
        painter.drawPolyline(curve)
        painter.setPen(QColor(60, 60, 60))
        painter.drawText(area.adjusted(4, 2, -4, -2), Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight,
                         f"{self.label} {ys[-1]:.3g} (from {ys[0]:.3g})")
        below = area.adjusted(0, area.height() + 2, 0, text_height + 6)
        painter.drawText(below, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft, f"{xs[0]:.0f}")
        painter.drawText(below, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight, f"{xs[-1]:.0f} {self.x_label}")

    def _draw_y_title(self, painter: QPainter, area: QRect) -> None:
        """The y axis's name, turned to run up the left edge."""
        painter.save()
        painter.setPen(QColor(60, 60, 60))
        painter.translate(0, area.bottom())
        painter.rotate(-90)
        painter.drawText(QRectF(0, 0, area.height(), painter.fontMetrics().height()), Qt.AlignmentFlag.AlignCenter, self.label)
        painter.restore()
