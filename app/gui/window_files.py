"""The main window's files: open, recent, save (never over the original unasked), masks, drag and drop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from core.errors import InvertFillError
from core.masks import editing
from core.masks.editing import Region
from core.masks.reading import fit_mask, read_mask

from . import dialogs
from .document import Document

LOSSY = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WebP"}
LOSSLESS = (".png", ".tif", ".tiff", ".bmp")


def local_paths(mime: QMimeData) -> list[Path]:
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class FileHandling:
    """Opening, saving and dropping files for the open document; a mixin of MainWindow."""

    def _confirm_discard(self) -> bool:
        """True when the open image may be replaced: saved, discarded, or nothing to lose."""
        if self.document is None or not self.document.modified:
            return True
        answer = dialogs.ask_unsaved(self, self.document.name)
        if answer == "save":
            return self.save()
        return answer == "discard"

    def choose_image(self) -> None:
        path = dialogs.choose_file_to_open(self, "Open image", self.preferences.folder("open"))
        if path:
            self.open_image(path)

    def open_image(self, path: str | Path) -> bool:
        """Open `path` in place of the current image; errors become a dialog. True if it opened.

        Opening never waits on the engine: a model that is loading goes on loading, and a fill of
        the previous image is cancelled and its result dropped.
        """
        if not self._confirm_discard():
            return False
        try:
            document = Document.open(path)
        except InvertFillError as error:
            dialogs.show_error(self, "Cannot open the image", str(error))
            return False
        if self._fill_job is not None:
            self.cancel()
        self.document = document
        document.modified_changed.connect(self._update_title)
        self.undo_stack.clear()
        self.canvas.set_document(document)
        self.preferences.add_recent_file(path)
        self.preferences.set_folder("open", Path(path).resolve().parent)
        self._update_title()
        self._update_enabled()
        self.statusBar().showMessage(f"Opened {document.name}: {document.width}×{document.height}", 5000)
        return True

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.preferences.recent_files:
            self.recent_menu.addAction(path, lambda p=path: self.open_image(p))
        if self.preferences.recent_files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear recent files", self.preferences.clear_recent_files)
        else:
            self.recent_menu.addAction("No recent files").setEnabled(False)

    def save(self) -> bool:
        """Write to the file saved to before; the first save of an opened photo never replaces it
        silently: it proposes NAME_filled beside it (Save As), and the file dialog asks before
        anything is overwritten."""
        if self.document is None:
            return False
        if self.document.path is None or not self.document.written:
            return self.save_as()
        return self._write(self.document.path, self.preferences.jpeg_quality)

    def save_as(self) -> bool:
        if self.document is None:
            return False
        path = dialogs.choose_file_to_save(self, "Save image as", str(self._save_suggestion()))
        if not path:
            return False
        quality = self.preferences.jpeg_quality
        if Path(path).suffix.lower() in LOSSY:
            chosen = dialogs.ask_quality(self, LOSSY[Path(path).suffix.lower()], quality)
            if chosen is None:
                return False
            quality = self.preferences.jpeg_quality = chosen
        self.preferences.set_folder("save", Path(path).parent)
        return self._write(Path(path), quality)

    def _save_suggestion(self) -> Path:
        """The file a save proposes: once written, that file; else NAME_filled beside the original,
        in its format where that is lossless, else PNG (known pixels stay exact)."""
        document = self.document
        if document.path is not None and document.written:
            return document.path
        source = document.path or Path(self.preferences.folder("save") or Path.home()) / document.name
        suffix = source.suffix.lower() if source.suffix.lower() in LOSSLESS else ".png"
        return source.with_name(f"{source.stem}_filled{suffix}")

    def _write(self, path: Path, quality: int) -> bool:
        try:
            notes = self.document.save(path, quality)
        except InvertFillError as error:
            dialogs.show_error(self, "Cannot save the image", str(error))
            return False
        self.preferences.add_recent_file(path)
        self._update_title()
        self.statusBar().showMessage(" ".join([f"Saved {path.name}."] + notes), 8000)
        return True

    def load_mask(self) -> None:
        path = dialogs.choose_file_to_open(self, "Load mask", self.preferences.folder("mask"))
        if not path or self.document is None:
            return
        try:
            hole, note = fit_mask(read_mask(path), self.document.height, self.document.width, Path(path).name)
        except InvertFillError as error:
            dialogs.show_error(self, "Cannot load the mask", str(error))
            return
        self.preferences.set_folder("mask", Path(path).parent)
        self.edit_mask("Load mask", lambda mask: self._replace(mask, hole))
        if note:
            self.statusBar().showMessage(note, 8000)

    @staticmethod
    def _replace(mask: np.ndarray, hole: np.ndarray) -> Region:
        mask[...] = hole
        return editing.whole(mask)

    def save_mask(self) -> None:
        if self.document is None:
            return
        folder = self.document.path.parent if self.document.path else Path(self.preferences.folder("mask") or Path.home())
        suggestion = str(folder / f"{Path(self.document.name).stem}_mask.png")
        path = dialogs.choose_file_to_save(self, "Save mask", suggestion, "PNG (*.png)")
        if not path:
            return
        try:
            self.document.save_mask(path)
        except InvertFillError as error:
            dialogs.show_error(self, "Cannot save the mask", str(error))
            return
        self.preferences.set_folder("mask", Path(path).parent)
        self.statusBar().showMessage(f"Saved the mask as {Path(path).name}", 5000)

    # drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData())
        if not paths:
            return
        event.acceptProposedAction()
        if paths[0].is_dir():
            self.open_batch(paths[0])
        else:
            self.open_image(paths[0])
