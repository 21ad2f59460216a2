"""The canvas: the image with a semi-transparent mask over it, painting tools, zoom and pan.

Layers draw straight from the Document's numpy arrays and repaint only the exposed part, and
strokes repaint only the rectangle they touched, so painting on a 6000×4000 photo stays smooth.
A checkerboard under the image shows where it is transparent; the empty canvas says what to do.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QMouseEvent, QPainter, QPen, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QStyleOptionGraphicsItem,
    QWidget,
)

from core.masks import editing
from core.masks.editing import Region

from .document import Document
from .qt_image import image_view

TOOLS = ("brush", "eraser", "rectangle")
MASK_COLOR = QColor(255, 48, 48, 120)
BACKGROUND = QColor(48, 48, 52)
CHECKER_COLORS = (QColor(204, 204, 204), QColor(153, 153, 153))
CHECKER_SQUARE = 8
"""The checkerboard's squares are this many screen pixels at any zoom, as in image editors."""
EMPTY_HINT = "Open or drop an image"
ZOOM_STEP = 1.25
ZOOM_RANGE = (0.02, 32.0)


def region_rect(region: Region) -> QRectF:
    return QRectF(region.left, region.top, region.right - region.left, region.bottom - region.top)


def checkerboard_brush() -> QBrush:
    """A brush that tiles light and dark grey squares of CHECKER_SQUARE pixels."""
    tile = QPixmap(2 * CHECKER_SQUARE, 2 * CHECKER_SQUARE)
    tile.fill(CHECKER_COLORS[0])
    painter = QPainter(tile)
    painter.fillRect(0, 0, CHECKER_SQUARE, CHECKER_SQUARE, CHECKER_COLORS[1])
    painter.fillRect(CHECKER_SQUARE, CHECKER_SQUARE, CHECKER_SQUARE, CHECKER_SQUARE, CHECKER_COLORS[1])
    painter.end()
    return QBrush(tile)


class PixelLayer(QGraphicsItem):
    """Draws an (H, W[, C]) uint8 array through a QImage view, only where exposed."""

    def __init__(self, pixels: np.ndarray, color_table: list[int] | None = None) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self.show_pixels(pixels, color_table)

    def show_pixels(self, pixels: np.ndarray, color_table: list[int] | None = None) -> None:
        self.pixels = pixels
        self.image = image_view(pixels)
        if color_table is not None:
            self.image.setColorTable(color_table)
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.pixels.shape[1], self.pixels.shape[0])

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        exposed = option.exposedRect.toAlignedRect().intersected(self.boundingRect().toAlignedRect())
        if not exposed.isEmpty():
            painter.drawImage(exposed, self.image, exposed)


class CanvasView(QGraphicsView):
    """Shows a Document and edits its mask with the current tool.

    mask_edited(region, before, after, text): a finished stroke or rectangle, for the undo stack.
    compare_held(bool): Tab pressed / released. zoom_changed(float): the new scale.
    While `fitted` (after opening, and Fit to window) the image refits as the view is resized;
    any other zoom keeps its scale.
    """

    mask_edited = Signal(object, object, object, str)
    compare_held = Signal(bool)
    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(BACKGROUND))
        self._checkerboard = checkerboard_brush()
        self.fitted = True
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setMouseTracking(True)
        self.setAcceptDrops(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.document: Document | None = None
        self.tool = "brush"
        self.brush_size = 40
        self.editable = True
        self._image_layer: PixelLayer | None = None
        self._mask_layer: PixelLayer | None = None
        self._cursor = QGraphicsEllipseItem()
        self._cursor.setPen(QPen(QColor(255, 255, 255), 0))
        self._cursor.setZValue(3)
        self._rubber_band = QGraphicsRectItem()
        self._rubber_band.setPen(QPen(QColor(255, 255, 255), 0, Qt.PenStyle.DashLine))
        self._rubber_band.setBrush(QBrush(MASK_COLOR))
        self._rubber_band.setZValue(2)
        self._rubber_band.setVisible(False)
        self.scene().addItem(self._cursor)
        self.scene().addItem(self._rubber_band)
        self._stroke: tuple[np.ndarray, QPointF, Region] | None = None
        self._rectangle_start: QPointF | None = None
        self._space_held = False
        self._middle_pan: QPointF | None = None
        self._showing_original = False
        self.zoom_changed.connect(lambda zoom: self._update_cursor(None))
        self.original_badge = QLabel("Original — as opened; release to see your changes", self)
        self.original_badge.setStyleSheet("background: rgba(0, 0, 0, 170); color: white; padding: 4px 8px; border-radius: 4px;")
        self.original_badge.move(8, 8)
        self.original_badge.adjustSize()
        self.original_badge.setVisible(False)
        self.empty_hint = QLabel(EMPTY_HINT, self)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setStyleSheet("color: rgb(170, 170, 176); font-size: 18pt;")

    # document

    def set_document(self, document: Document | None) -> None:
        """Show `document` (None: an empty canvas) fitted to the window."""
        if self.document is not None:
            self.document.image_changed.disconnect(self._image_changed)
            self.document.mask_changed.disconnect(self._mask_changed)
        for layer in (self._image_layer, self._mask_layer):
            if layer is not None:
                self.scene().removeItem(layer)
        self.document, self._stroke, self._rectangle_start = document, None, None
        self._image_layer = self._mask_layer = None
        self._rubber_band.setVisible(False)
        self._showing_original = False
        self.empty_hint.setVisible(document is None)
        if document is None:
            return
        self._image_layer = PixelLayer(document.display)
        self._mask_layer = PixelLayer(document.mask, [QColor(0, 0, 0, 0).rgba(), MASK_COLOR.rgba()])
        self._mask_layer.setZValue(1)
        for item in (self._image_layer, self._mask_layer):
            self.scene().addItem(item)
        self.scene().setSceneRect(QRectF(0, 0, document.width, document.height))
        document.image_changed.connect(self._image_changed)
        document.mask_changed.connect(self._mask_changed)
        self.fit_to_window()

    def _image_changed(self, region: Region) -> None:
        if self._image_layer is not None:
            self._image_layer.update(region_rect(region))

    def _mask_changed(self, region: Region) -> None:
        if self._mask_layer is not None:
            self._mask_layer.update(region_rect(region))

    def show_original(self, original: bool) -> None:
        """Draw the image as opened (True) or as it is now (False); the mask hides while comparing and a
        badge on the canvas says that the original is shown."""
        if self.document is None or self._image_layer is None or original == self._showing_original:
            return
        self._showing_original = original
        self._image_layer.show_pixels(self.document.original_display if original else self.document.display)
        self._mask_layer.setVisible(not original)
        self.original_badge.setVisible(original)

    # tools

    def set_tool(self, tool: str) -> None:
        assert tool in TOOLS, tool
        self.tool = tool
        self._update_cursor(None)

    def set_brush_size(self, size: int) -> None:
        """`size`: the brush's diameter on screen, so that it paints at the scale the image is seen at."""
        self.brush_size = int(size)
        self._update_cursor(None)

    @property
    def brush_image_size(self) -> float:
        """The brush's diameter in image pixels at the current zoom."""
        return self.brush_size / self.zoom

    def set_editable(self, editable: bool) -> None:
        """While a fill runs the mask must not change; painting is refused until it ends."""
        self.editable = editable

    def _update_cursor(self, scene_pos: QPointF | None) -> None:
        if scene_pos is None:
            scene_pos = self._cursor.rect().center()
        radius = self.brush_image_size / 2
        self._cursor.setRect(QRectF(scene_pos.x() - radius, scene_pos.y() - radius, 2 * radius, 2 * radius))
        self._cursor.setVisible(self.document is not None and self.tool != "rectangle" and self.underMouse())

    def _paint_value(self) -> int:
        return 0 if self.tool == "eraser" else 1

    def _press_starts_edit(self, event: QMouseEvent) -> bool:
        return event.button() == Qt.MouseButton.LeftButton and self.document is not None and self.editable and not self._space_held

    # mouse and keys

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            self._middle_pan = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if not self._press_starts_edit(event):
            super().mousePressEvent(event)
            return
        pos = self.mapToScene(event.position().toPoint())
        if self.tool == "rectangle":
            self._rectangle_start = pos
            self._rubber_band.setRect(QRectF(pos, pos))
            self._rubber_band.setVisible(True)
        else:
            self._start_stroke(pos)

    def _start_stroke(self, pos: QPointF) -> None:
        before = self.document.mask.copy()
        region = editing.paint_segment(self.document.mask, (pos.x(), pos.y()), (pos.x(), pos.y()), self.brush_image_size / 2, self._paint_value())
        self._stroke = (before, pos, region)
        self._mask_changed(region)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = self.mapToScene(event.position().toPoint())
        self._update_cursor(pos)
        if self._middle_pan is not None:
            delta = event.position() - self._middle_pan
            self._middle_pan = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        if self._stroke is not None:
            before, last, region = self._stroke
            segment = editing.paint_segment(self.document.mask, (last.x(), last.y()), (pos.x(), pos.y()), self.brush_image_size / 2, self._paint_value())
            self._stroke = (before, pos, region.union(segment))
            self._mask_changed(segment)
            return
        if self._rectangle_start is not None:
            self._rubber_band.setRect(QRectF(self._rectangle_start, pos).normalized())
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton and self._middle_pan is not None:
            self._middle_pan = None
            self.viewport().unsetCursor()
            return
        if event.button() != Qt.MouseButton.LeftButton or (self._stroke is None and self._rectangle_start is None):
            super().mouseReleaseEvent(event)
            return
        pos = self.mapToScene(event.position().toPoint())
        mask = self.document.mask
        if self._stroke is not None:
            before, _, region = self._stroke
            self._stroke = None
            text = "Erase" if self.tool == "eraser" else "Brush stroke"
            before_region = before[region.slices].copy()
        else:
            start, self._rectangle_start = self._rectangle_start, None
            self._rubber_band.setVisible(False)
            before_full = mask.copy()
            region = editing.paint_rectangle(mask, (start.x(), start.y()), (pos.x(), pos.y()), 1)
            before_region = before_full[region.slices].copy()
            text = "Rectangle"
            self._mask_changed(region)
        if not region.is_empty and not np.array_equal(before_region, mask[region.slices]):
            self.mask_edited.emit(region, before_region, mask[region.slices].copy(), text)

    def event(self, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and event.key() == Qt.Key.Key_Tab:
            if not event.isAutoRepeat():
                self.compare_held.emit(event.type() == QEvent.Type.KeyPress)
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            return
        super().keyReleaseEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self._cursor.setVisible(False)
        super().leaveEvent(event)

    # background, empty hint and zoom

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        """The view's grey, and where the image lies a checkerboard, seen through its transparent pixels:
        its squares keep their size on screen and start at the image's corner, so they scroll with it."""
        super().drawBackground(painter, rect)
        if self.document is None:
            return
        image = self.mapFromScene(self.sceneRect()).boundingRect()
        painter.save()
        painter.resetTransform()
        painter.setBrushOrigin(image.topLeft())
        painter.fillRect(image.intersected(self.mapFromScene(rect).boundingRect()), self._checkerboard)
        painter.restore()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.empty_hint.setGeometry(self.viewport().geometry())
        if self.fitted:
            self.fit_to_window()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(ZOOM_STEP ** (event.angleDelta().y() / 120))
            return
        super().wheelEvent(event)

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        target = min(max(self.zoom * factor, ZOOM_RANGE[0]), ZOOM_RANGE[1])
        self.fitted = False
        self.scale(target / self.zoom, target / self.zoom)
        self.zoom_changed.emit(self.zoom)

    def actual_size(self) -> None:
        self.fitted = False
        self.resetTransform()
        self.zoom_changed.emit(self.zoom)

    def fit_to_window(self) -> None:
        """Show the whole image, and keep it whole while the view is resized, until zoomed otherwise."""
        self.fitted = True
        if self.document is not None:
            self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
            self.zoom_changed.emit(self.zoom)
