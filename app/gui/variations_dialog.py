"""Pick one of K fills, shown as thumbnails of the filled area."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from core.masks.editing import Region

from .qt_image import pixmap_of

THUMBNAIL = 200
MARGIN = 0.25


def thumbnail_region(region: Region, height: int, width: int) -> Region:
    """The hole's region with a quarter of its size around it as context, clipped to the image."""
    pad_y, pad_x = int((region.bottom - region.top) * MARGIN) + 8, int((region.right - region.left) * MARGIN) + 8
    return Region(region.top - pad_y, region.left - pad_x, region.bottom + pad_y, region.right + pad_x).clipped(height, width)


def untinted_icon(pixels: np.ndarray) -> QIcon:
    """A thumbnail icon that looks the same selected: the style would tint a selected icon with the
    highlight colour, which changes the very colours being chosen between."""
    pixmap = pixmap_of(pixels).scaled(THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Mode.Selected)
    return icon


class VariationsDialog(QDialog):
    """Thumbnails (display pixels around the hole) of each variation; `chosen` is the picked index."""

    def __init__(self, thumbnails: list[np.ndarray], seed: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Choose a fill (seed {seed})")
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setSpacing(8)
        for index, pixels in enumerate(thumbnails):
            self.list.addItem(QListWidgetItem(untinted_icon(pixels), f"Variation {index + 1}"))
        self.list.setCurrentRow(0)
        self.list.itemDoubleClicked.connect(lambda _: self.accept())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Use this fill")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        rows = (len(thumbnails) + 3) // 4
        self.resize(min(len(thumbnails), 4) * (THUMBNAIL + 24) + 40, rows * (THUMBNAIL + 40) + 90)

    @property
    def chosen(self) -> int:
        return self.list.currentRow()
