"""Undoable edits of a Document; each stores only the region it changed, before and after."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QUndoCommand

from core.masks.editing import Region

from .document import Document


class MaskEdit(QUndoCommand):
    """A brush stroke, rectangle or mask operation: the mask's region before and after."""

    def __init__(self, document: Document, region: Region, before: np.ndarray, after: np.ndarray, text: str) -> None:
        super().__init__(text)
        self.document, self.region, self.before, self.after = document, region, before, after

    def redo(self) -> None:
        self.document.set_mask(self.region, self.after)

    def undo(self) -> None:
        self.document.set_mask(self.region, self.before)


class FillEdit(QUndoCommand):
    """A fill: the image's region before and after, and the mask it consumed (cleared after the fill)."""

    def __init__(self, document: Document, region: Region, filled: np.ndarray, text: str = "Fill") -> None:
        super().__init__(text)
        self.document, self.region = document, region
        self.before = document.picture.pixels[region.slices].copy()
        self.after = filled
        self.mask_before = document.mask[region.slices].copy()
        self.number = document.new_fill_number()

    def redo(self) -> None:
        self.document.set_pixels(self.region, self.after)
        self.document.set_mask(self.region, np.zeros_like(self.mask_before))
        self.document.fill_applied(self.number)

    def undo(self) -> None:
        self.document.set_pixels(self.region, self.before)
        self.document.set_mask(self.region, self.mask_before)
        self.document.fill_removed(self.number)
