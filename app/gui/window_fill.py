"""The main window's fills: mask edits, Fill and Variations in the worker, cancel, batch."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.engine.inpainter import FillResult
from core.wording import sentences
from core.masks.editing import Region, bounding_region

from . import dialogs
from .batch_dialog import BatchDialog
from .edits import FillEdit, MaskEdit
from .qt_image import display_pixels
from .variations_dialog import thumbnail_region


class FillControl:
    """Fills the open document in the engine's worker and applies the result as one undoable edit; a mixin of MainWindow."""

    def _push_mask_edit(self, region: Region, before: np.ndarray, after: np.ndarray, text: str) -> None:
        self.undo_stack.push(MaskEdit(self.document, region, before, after, text))

    def edit_mask(self, text: str, operation: Callable[[np.ndarray], Region]) -> None:
        """Apply a whole-mask operation and put only the pixels it changed on the undo stack."""
        if self.document is None or self._fill_job is not None:
            return
        before = self.document.mask.copy()
        operation(self.document.mask)
        region = bounding_region(before != self.document.mask)
        if region is None:
            return
        self.undo_stack.push(MaskEdit(self.document, region, before[region.slices], self.document.mask[region.slices].copy(), text))

    def fill(self, variations: int) -> None:
        """Fill the masked area (`variations` > 1: offer that many fills to choose from)."""
        if self.document is None or self.engine.busy:
            return
        hole = self.document.hole()
        region = bounding_region(hole)
        if region is None:
            self.statusBar().showMessage("Paint over what should be filled first (brush, B).", 5000)
            return
        job = self.engine.fill(self.document.picture, hole, self.preferences.strategy, None, variations, self.preferences.variation_strength)
        self._fill_job = (job, region, variations)
        self._update_enabled()
        self.canvas.setFocus()
        self.statusBar().showMessage("Filling… (Esc cancels)")

    def cancel(self) -> None:
        """Esc / Stop: the running fill or batch stops at its next check (between windows, between
        images); a fill is cancelled at once: whatever it still returns is dropped, and the image
        and the undo stack stay as they were."""
        self.engine.cancel()
        if self._fill_job is not None:
            self._fill_job = None
            self._update_enabled()
            self.statusBar().showMessage("Cancelled", 5000)

    def _fill_finished(self, job: int, result: FillResult | None) -> None:
        if self._fill_job is None or job != self._fill_job[0]:
            return
        _, region, variations = self._fill_job
        self._fill_job = None
        if result is None:
            self.statusBar().showMessage("Cancelled", 5000)
            return
        chosen = 0
        if variations > 1:
            self._update_enabled()
            self.statusBar().showMessage(f"Choose one of the {variations} fills.")
            context = thumbnail_region(region, self.document.height, self.document.width)
            thumbnails = [display_pixels(p)[context.slices] for p in result.pictures]
            chosen = dialogs.choose_variation(self, thumbnails, result.seed)
            if chosen is None:
                self.statusBar().showMessage("No variation chosen; the image is unchanged.", 5000)
                return
        self.undo_stack.push(FillEdit(self.document, region, result.pictures[chosen].pixels[region.slices].copy()))
        seeded = self.engine.inpainter is not None and not self.engine.inpainter.is_classic
        done = f"filled with {result.method}, seed {result.seed}" if seeded else f"filled with {result.method}"
        # A note (no face found, say) comes first and stays until the next message: the status bar cuts a long line.
        self.statusBar().showMessage(sentences([*result.notes, done]), 0 if result.notes else 10000)
        logging.getLogger(__name__).info("%s: %s", self.document.name, sentences([done, *result.notes]))

    def _fill_failed(self, job: int, message: str) -> None:
        if self._fill_job is not None and job == self._fill_job[0]:
            self._fill_job = None
            dialogs.show_error(self, "Fill failed", message)

    # batch

    def open_batch(self, folder: Path | None = None) -> None:
        if self.batch_dialog is None:
            self.batch_dialog = BatchDialog(self.engine, self.preferences, self._canvas_mask, self)
        if folder is not None:
            self.batch_dialog.set_image_folder(folder)
        self.batch_dialog.show()
        self.batch_dialog.raise_()

    def _canvas_mask(self) -> np.ndarray | None:
        return self.document.hole() if self.document is not None else None
