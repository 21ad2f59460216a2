"""Every modal question the app asks, in one place, so that tests can answer them.

The windows call these through the module (`dialogs.show_error(...)`); a test replaces them
(`message_box` for errors and notices, which go to the app's log first).
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from core.io.image_io import IMAGE_SUFFIXES

IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)"
SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp);;TIFF (*.tif *.tiff);;BMP (*.bmp)"
MODEL_FILTER = "InvertFill checkpoints (*.safetensors)"


def message_box(parent: QWidget | None, kind: str, title: str, message: str) -> None:
    """A modal message: `kind` "error" or "info"."""
    (QMessageBox.critical if kind == "error" else QMessageBox.information)(parent, title, message)


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """An error dialog; the error is logged too, so the log tells what the user saw."""
    logging.getLogger(__name__).warning("%s: %s", title, message)
    message_box(parent, "error", title, message)


def show_info(parent: QWidget | None, title: str, message: str) -> None:
    message_box(parent, "info", title, message)


def ask_unsaved(parent: QWidget | None, name: str) -> str:
    """'save', 'discard' or 'cancel' for an image with unsaved fills."""
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.warning(
        parent, "Unsaved changes", f"{name} has fills that are not saved. Save them first?",
        buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save,
    )
    return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")


def ask_stop_training(parent: QWidget | None) -> bool:
    """Whether to stop a running fine-tune (it keeps its last checkpoint)."""
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(
        parent, "Fine-tune running", "A fine-tune is still training. Stop it? Its last checkpoint is kept.",
        buttons.Yes | buttons.No, buttons.No,
    )
    return answer == buttons.Yes


def choose_file_to_open(parent: QWidget | None, title: str, folder: str, file_filter: str = IMAGE_FILTER) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, title, folder, file_filter)
    return path or None


def choose_file_to_save(parent: QWidget | None, title: str, suggestion: str, file_filter: str = SAVE_FILTER) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, suggestion, file_filter)
    return path or None


def choose_folder(parent: QWidget | None, title: str, folder: str) -> str | None:
    return QFileDialog.getExistingDirectory(parent, title, folder) or None


def ask_quality(parent: QWidget | None, format_name: str, quality: int) -> int | None:
    """The lossy format's quality 1–100, or None if the user cancelled."""
    value, ok = QInputDialog.getInt(parent, f"{format_name} quality", "Quality (1–100, higher keeps more detail):", quality, 1, 100)
    return value if ok else None


def choose_variation(parent: QWidget | None, thumbnails: list, seed: int) -> int | None:
    """Index of the variation the user picked from `thumbnails` ((h, w, 3|4) uint8 each), or None."""
    from .variations_dialog import VariationsDialog

    dialog = VariationsDialog(thumbnails, seed, parent)
    return dialog.chosen if dialog.exec() == VariationsDialog.DialogCode.Accepted else None
