"""The batch panel: fill every image of a folder, with masks paired by name or the canvas mask."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.engine.batch import BatchReport, images_in, pair_images_with_masks
from core.engine.progress import Progress
from core.errors import InvertFillError
from core.io.image_io import Picture, write_image
from core.wording import counted

from . import dialogs
from .engine import Engine
from .preferences import Preferences

OUTPUT_SUBFOLDER = "filled"
OUTPUT_FORMATS = {"PNG (lossless: known pixels stay exact)": ".png", "Same as each input": None}


def summarize(report: BatchReport, skipped_before: list[tuple[Path, str]], total: int, output: Path, method: str) -> str:
    """The text the panel shows when a batch ends: counts and the fill method, then every skipped file and why."""
    skipped = skipped_before + report.skipped
    lines = [f"Filled {len(report.filled)} of {total} images into {output} with {method}."]
    if report.cancelled:
        lines.append("Cancelled: the remaining images were not filled.")
    if skipped:
        lines.append(f"Skipped {len(skipped)}:")
        lines.extend(f"  {path.name}: {reason}" for path, reason in skipped)
    if report.notes:
        lines.append("Notes:")
        lines.extend(f"  {note}" for note in report.notes)
    return "\n".join(lines)


class BatchDialog(QDialog):
    """Modeless: the main window stays usable while the engine works through the folder."""

    finished_report = Signal(object)

    def __init__(self, engine: Engine, preferences: Preferences, canvas_mask: Callable[[], np.ndarray | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch fill")
        self.engine, self.preferences, self.canvas_mask = engine, preferences, canvas_mask
        self.running = False
        self._mask_folder: tempfile.TemporaryDirectory | None = None
        self._skipped: list[tuple[Path, str]] = []
        self._total = 0

        self.image_folder = QLineEdit(preferences.folder("batch"))
        self.mask_folder = QLineEdit()
        self.mask_folder.setPlaceholderText("beside the images: photo_mask.png for photo.jpg")
        self.output_folder = QLineEdit()
        self.image_folder.textChanged.connect(self._suggest_output)
        self.by_name = QRadioButton("Masks paired by name")
        self.use_canvas = QRadioButton("The canvas mask for every image")
        self.by_name.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.by_name)
        group.addButton(self.use_canvas)
        self.by_name.toggled.connect(self.mask_folder.setEnabled)
        self.output_format = QComboBox()
        for label, suffix in OUTPUT_FORMATS.items():
            self.output_format.addItem(label, suffix)

        form = QFormLayout()
        form.addRow("Images", self._with_browse(self.image_folder, "Folder of images to fill"))
        form.addRow(self.by_name)
        form.addRow("Mask folder", self._with_browse(self.mask_folder, "Folder of masks"))
        form.addRow(self.use_canvas)
        form.addRow("Output folder", self._with_browse(self.output_folder, "Folder for the filled images"))
        form.addRow("Output format", self.output_format)

        self.progress = QProgressBar()
        self.status = QLabel("Choose a folder of images and press Start.")
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self._cancel_or_close)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        self.resize(640, 420)

        for field in (self.image_folder, self.mask_folder):
            field.textChanged.connect(self._preview)
        self.use_canvas.toggled.connect(self._preview)
        engine.model_loaded.connect(self._preview)
        engine.batch_progress.connect(self._progressed)
        engine.batch_finished.connect(self._finished)
        engine.batch_failed.connect(self._failed)
        self._suggest_output(self.image_folder.text())
        self._preview()

    def _with_browse(self, field: QLineEdit, title: str) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self._browse(field, title))
        layout.addWidget(field)
        layout.addWidget(button)
        return row

    def _browse(self, field: QLineEdit, title: str) -> None:
        folder = dialogs.choose_folder(self, title, field.text() or self.preferences.folder("batch"))
        if folder:
            field.setText(folder)

    def _pairs(self, mask_file: Path | None = None) -> tuple[list, list[tuple[Path, str]], str]:
        """(jobs, skipped, output folder) for the fields as they are; InvertFillError for a bad folder."""
        images = self.image_folder.text().strip()
        if not images:
            raise InvertFillError("choose a folder of images first")
        output = self.output_folder.text().strip() or str(Path(images) / OUTPUT_SUBFOLDER)
        suffix = self.output_format.currentData()
        if mask_file is not None:
            jobs, skipped = pair_images_with_masks(images, output, mask_file=mask_file, output_suffix=suffix)
        else:
            jobs, skipped = pair_images_with_masks(images, output, mask_dir=self.mask_folder.text().strip() or None, output_suffix=suffix)
        return jobs, skipped, output

    def _preview(self, *_: object) -> None:
        """Before Start: how many images the settings match, and which fill method will run."""
        if self.running:
            return
        try:
            if self.use_canvas.isChecked():
                folder = Path(self.image_folder.text().strip())
                count = len(images_in(folder)) if folder.is_dir() else 0
                matched = f"{counted(count, 'image')}, each with the canvas mask"
            else:
                jobs, skipped, _ = self._pairs()
                matched = f"{counted(len(jobs), 'image')} matched with a mask" + (f", {len(skipped)} without" if skipped else "")
        except (InvertFillError, OSError) as error:
            matched = str(error)[:1].upper() + str(error)[1:]
        self.status.setText(f"{matched}. Fill: {self._method()}.")

    def _method(self) -> str:
        return self.engine.inpainter.description if self.engine.inpainter is not None else "no model loaded yet"

    def _suggest_output(self, images: str) -> None:
        self.output_folder.setText(str(Path(images) / OUTPUT_SUBFOLDER) if images else "")

    def set_image_folder(self, folder: str | Path) -> None:
        self.image_folder.setText(str(folder))

    def _canvas_mask_file(self) -> Path:
        hole = self.canvas_mask()
        if hole is None or not hole.any():
            raise InvertFillError("the canvas has no mask: paint one, or pair masks by name")
        self._mask_folder = tempfile.TemporaryDirectory(prefix="invertfill-batch-")
        path = Path(self._mask_folder.name) / "canvas_mask.png"
        write_image(path, Picture((hole.astype(np.uint8) * 255)[:, :, None]))
        return path

    def start(self) -> None:
        """Pair the files and hand the jobs to the engine; problems are shown as one-line dialogs."""
        if self.running:
            return
        try:
            if self.engine.busy:
                raise InvertFillError("the engine is busy with another fill; wait for it or cancel it")
            jobs, skipped, output = self._pairs(self._canvas_mask_file() if self.use_canvas.isChecked() else None)
            images = self.image_folder.text().strip()
        except InvertFillError as error:
            dialogs.show_error(self, "Batch fill", str(error))
            return
        self.preferences.set_folder("batch", images)
        self.preferences.set_folder("output", output)
        self._skipped, self._total, self._output = skipped, len(jobs) + len(skipped), Path(output)
        self._filled_with = self._method()
        if not jobs:
            self._show_summary(BatchReport())
            return
        self.running = True
        self.progress.setRange(0, len(jobs))
        self.progress.setValue(0)
        self.summary.clear()
        self.status.setText(f"Filling {len(jobs)} images…")
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self.engine.batch(jobs, self.preferences.strategy, self.preferences.jpeg_quality)

    def _progressed(self, progress: Progress) -> None:
        if self.running:
            self.progress.setValue(progress.done)
            self.status.setText(f"{progress.done} of {progress.total}: {progress.message}")

    def _finished(self, report: BatchReport) -> None:
        if self.running:
            self._show_summary(report)

    def _failed(self, message: str) -> None:
        if self.running:
            self._end()
            self.status.setText(f"The batch stopped: {message}")
            dialogs.show_error(self, "Batch fill", message)

    def _show_summary(self, report: BatchReport) -> None:
        self._end()
        self.status.setText("Cancelled." if report.cancelled else "Done.")
        self.summary.setPlainText(summarize(report, self._skipped, self._total, self._output, self._filled_with))
        self.finished_report.emit(report)

    def _end(self) -> None:
        self.running = False
        self.start_button.setEnabled(True)
        self.cancel_button.setText("Close")
        if self._mask_folder is not None:
            self._mask_folder.cleanup()
            self._mask_folder = None

    def _cancel_or_close(self) -> None:
        if self.running:
            self.engine.cancel()
            self.status.setText("Cancelling after the current image…")
        else:
            self.close()

    def closeEvent(self, event) -> None:
        if self.running:
            self.engine.cancel()
        super().closeEvent(event)
