"""Tools → Fine-tune for my images: adapt the encoder to a user's own domain (the paper's RQ3).

Pages: images (scan and verdict) → task (inpaint / outpaint / own masks; base model) →
settings (preset, estimate, advanced, output) → training (separate process: progress, ETA,
loss curve, previews, cancel) → finish (saved checkpoint, before / after, load now).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.user_data import user_data_dir, user_models_dir
from core.checkpoint import read_metadata
from core.errors import InvertFillError
from core.resources import resource_path
from training.finetune_job import SNAPSHOT_SAMPLES, FinetuneJob
from training.finetune_timing import FinetuneTiming
from training.folder_scan import FolderScan, scan_image_folder

from . import dialogs
from .loss_plot import LossPlot
from .training_process import TrainingProcess


@dataclass(frozen=True)
class Preset:
    """A time budget on this machine, filled with steps of `batch` images up to `max_steps` (where a GPU stops)."""

    label: str
    seconds: float
    batch: int
    max_steps: int


PRESETS = {
    "quick": Preset("Quick — a first look (about 2½ minutes)", 150, 4, 300),
    "standard": Preset("Standard — a usable model (about 30 minutes)", 30 * 60, 8, 1500),
    "thorough": Preset("Thorough — the best this can do (about 2 hours)", 2 * 3600, 16, 5000),
}
PREVIEWS = 4
TASKS = {"free-form": "Inpainting: fill holes anywhere (free-form masks)", "outpaint": "Outpainting: extend the borders (side masks)"}
STRIP_IMAGES = 12
THUMBNAIL = 96
STRIP_SPACING = 8
TYPING_PAUSE_MS = 500


def _folder_row(field: QLineEdit, browse) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    button = QPushButton("Browse…")
    button.clicked.connect(browse)
    layout.addWidget(field)
    layout.addWidget(button)
    return row


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def inside_bundle(path: Path) -> bool:
    """Whether `path` lies in the app's own files (read-only for a user in a packaged build)."""
    bundle = resource_path().parent.resolve()
    return getattr(sys, "frozen", False) and path.resolve().is_relative_to(bundle)


class ImagesPage(QWizardPage):
    """The folder check runs in a background thread (a folder of large photos takes a while to
    decode); only the newest scan is shown."""

    scanned = Signal(int, object, str)

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Your images")
        self.setSubTitle("Pick or drop a folder of photos from the domain the model should learn (any depth).")
        self.setAcceptDrops(True)
        self.scan: FolderScan | None = None
        self._scans_started = self._scans_shown = 0
        self._scan_cancel = threading.Event()
        self.scanned.connect(self._show_scan)
        self.folder = QLineEdit()
        self._typing_pause = QTimer(self)
        self._typing_pause.setSingleShot(True)
        self._typing_pause.setInterval(TYPING_PAUSE_MS)
        self._typing_pause.timeout.connect(self._folder_typed)
        self.folder.textEdited.connect(self._typing_pause.start)
        self.folder.textEdited.connect(self.completeChanged)
        self.verdict = QLabel("No folder yet.")
        self.verdict.setWordWrap(True)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(110)
        self.strip = QListWidget()
        self.strip.setViewMode(QListWidget.ViewMode.IconMode)
        self.strip.setFlow(QListWidget.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.strip.setGridSize(QSize(THUMBNAIL + STRIP_SPACING, THUMBNAIL + STRIP_SPACING))
        self.strip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll_bar = self.strip.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.strip.setFixedHeight(THUMBNAIL + STRIP_SPACING + scroll_bar + 2 * self.strip.frameWidth())
        layout = QVBoxLayout(self)
        layout.addWidget(_folder_row(self.folder, self._browse))
        layout.addWidget(self.verdict)
        layout.addWidget(self.strip)
        layout.addWidget(self.details)

    def _folder_typed(self) -> None:
        """Check the typed folder once typing pauses (no Enter needed)."""
        text = self.folder.text().strip()
        if text and (self.scan is None or Path(text) != self.scan.folder):
            self.scan_folder(text)

    def _browse(self) -> None:
        folder = dialogs.choose_folder(self, "Folder of your images", self.folder.text())
        if folder:
            self.scan_folder(folder)

    def dragEnterEvent(self, event) -> None:
        if any(Path(url.toLocalFile()).is_dir() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        folders = [Path(url.toLocalFile()) for url in event.mimeData().urls() if Path(url.toLocalFile()).is_dir()]
        if folders:
            self.scan_folder(folders[0])

    @property
    def scanning(self) -> bool:
        return self._scans_shown != self._scans_started

    def scan_folder(self, folder: str | Path) -> None:
        """Check `folder` off the GUI thread (a check still running is cancelled); the page shows
        the result when it comes. The field keeps what the user typed when it names `folder`."""
        folder = Path(folder)
        if Path(self.folder.text().strip()) != folder:
            self.folder.setText(str(folder))
        self.strip.clear()
        self.details.clear()
        self.scan = None
        self._scans_started += 1
        self._scan_cancel.set()
        self._scan_cancel = threading.Event()
        self.verdict.setText(f"Checking the images in {folder.name}…")
        self.completeChanged.emit()
        threading.Thread(target=self._scan, args=(self._scans_started, folder, self._scan_cancel), daemon=True).start()

    def _scan(self, number: int, folder: Path, cancel: threading.Event) -> None:
        try:
            scan = scan_image_folder(folder, cancel=cancel)
        except InvertFillError as error:
            self.scanned.emit(number, None, str(error))
            return
        if scan is not None:
            self.scanned.emit(number, scan, "")

    def _show_scan(self, number: int, scan: FolderScan | None, problem: str) -> None:
        if number != self._scans_started:
            return
        self._scans_shown = number
        self.scan = scan
        self.completeChanged.emit()
        if scan is None:
            self.verdict.setText(problem)
            return
        self.verdict.setText(scan.verdict())
        lines = [f"{len(scan.usable)} usable images; {scan.size_summary()}".rstrip("; ")]
        lines += [f"unreadable: {path.name}: {reason}" for path, reason in scan.unreadable]
        lines += [f"duplicate: {path.name} is the same picture as {original.name} (used once)" for path, original in scan.duplicates]
        if scan.small:
            lines.append(f"{len(scan.small)} images are smaller than 256 px and will be upscaled")
        self.details.setPlainText("\n".join(lines))
        for info in scan.usable[:STRIP_IMAGES]:
            pixmap = QPixmap(str(info.path)).scaled(THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            self.strip.addItem(QListWidgetItem(pixmap, ""))

    def isComplete(self) -> bool:
        """A checked folder with enough images, and still the one in the field."""
        return self.scan is not None and self.scan.is_enough and Path(self.folder.text().strip()) == self.scan.folder


def base_model_missing(text: str, parts: dict) -> str:
    """Rich text for the task page when its base model cannot be fine-tuned: what is missing and how to get it."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "training.md"
    guide = f'<a href="{docs.as_uri()}">docs/training.md</a>' if docs.is_file() else "docs/training.md"
    how = (
        "Choose an InvertFill model file with Browse…, or load one in the main window (Model → Load "
        "checkpoint…) and start the wizard again. To make one, train a StyleGAN2 on your images "
        "(<code>invertfill train-gan</code>) and its encoder (<code>invertfill train-encoder</code>), "
        f"or import a published generator (<code>invertfill import-gan</code>): see {guide}."
    )
    if not text:
        return f"<b>No model to start from.</b> Fine-tuning adapts a complete InvertFill model to your images. {how}"
    if parts:
        return (f"<b>{Path(text).name} holds {', '.join(parts)}, not a complete InvertFill model</b> (a GAN needs its "
                f"encoder trained first: <code>invertfill train-encoder --gan {Path(text).name}</code>). {how}")
    return f"<b>{Path(text).name} is not an InvertFill model file.</b> {how}"


class TaskPage(QWizardPage):
    def __init__(self, base_model: Path | None) -> None:
        super().__init__()
        self.setTitle("What to learn")
        self.setSubTitle("The kind of holes the model should fill in your images, and the model to start from.")
        self.task_buttons = QButtonGroup(self)
        layout = QVBoxLayout(self)
        for key, label in [*TASKS.items(), ("folder", "My own masks, from a folder:")]:
            button = QRadioButton(label)
            button.setProperty("task", key)
            self.task_buttons.addButton(button)
            layout.addWidget(button)
        self.task_buttons.buttons()[0].setChecked(True)
        self.mask_folder = QLineEdit()
        layout.addWidget(_folder_row(self.mask_folder, self._browse_masks))
        self.base_model = QLineEdit(str(base_model) if base_model else "")
        self.base_model.setPlaceholderText("an InvertFill checkpoint (.safetensors)")
        self.base_note = QLabel()
        self.base_note.setWordWrap(True)
        self.base_note.setOpenExternalLinks(True)
        form = QFormLayout()
        form.addRow("Start from", _folder_row(self.base_model, self._browse_model))
        layout.addLayout(form)
        layout.addWidget(self.base_note)
        for widget in (self.mask_folder, self.base_model):
            widget.textChanged.connect(self.completeChanged)
        self.task_buttons.buttonToggled.connect(lambda *_: self.completeChanged.emit())

    @property
    def masks(self) -> str:
        task = self.task_buttons.checkedButton().property("task")
        return self.mask_folder.text().strip() if task == "folder" else task

    def _browse_masks(self) -> None:
        folder = dialogs.choose_folder(self, "Folder of mask images", self.mask_folder.text())
        if folder:
            self.mask_folder.setText(folder)
            self.task_buttons.buttons()[2].setChecked(True)

    def _browse_model(self) -> None:
        path = dialogs.choose_file_to_open(self, "Model to start from", str(user_models_dir()), dialogs.MODEL_FILTER)
        if path:
            self.base_model.setText(path)

    def isComplete(self) -> bool:
        text = self.base_model.text().strip()
        path = Path(text)
        try:
            parts = json.loads(read_metadata(path).get("parts", "{}")) if text and path.is_file() else {}
        except (InvertFillError, json.JSONDecodeError):
            parts = {}
        complete = "invertfill" in parts
        self.base_note.setText("" if complete else base_model_missing(text, parts))
        if self.task_buttons.checkedButton().property("task") == "folder" and not Path(self.mask_folder.text().strip() or "/nonexistent").is_dir():
            return False
        return complete


class SettingsPage(QWizardPage):
    estimated = Signal(str, str, object, str)

    def __init__(self, device: str) -> None:
        super().__init__()
        self.setTitle("How long to train")
        self.setSubTitle("A preset is a time budget: a short timing run on this machine sets its number of steps.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Start training")
        self.timings: dict[tuple[str, str], FinetuneTiming] = {}
        self._timing_problems: dict[tuple[str, str], str] = {}
        self._timing: set[tuple[str, str]] = set()
        self._applying_preset = self._steps_chosen = False
        self.preset = QComboBox()
        for key, preset in PRESETS.items():
            self.preset.addItem(preset.label, key)
        self.estimate = QLabel("Timing a training step on this machine…")
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced settings")
        self.advanced_toggle.setCheckable(True)
        self.advanced = QWidget()
        self.steps, self.batch, self.lr, self.device = QSpinBox(), QSpinBox(), QDoubleSpinBox(), QComboBox()
        self.steps.setRange(1, 1_000_000)
        self.batch.setRange(1, 256)
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1e-2)
        self.lr.setSingleStep(1e-5)
        self.lr.setValue(1e-4)
        self.device.addItem("CPU", "cpu")
        if torch.cuda.is_available():
            self.device.addItem("CUDA GPU", "cuda")
            self.device.setCurrentIndex(1 if device in ("auto", "cuda") else 0)
        advanced = QFormLayout(self.advanced)
        advanced.addRow("Steps", self.steps)
        advanced.addRow("Batch size", self.batch)
        advanced.addRow("Learning rate", self.lr)
        advanced.addRow("Device", self.device)
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self.advanced.setVisible)
        self.name = QLineEdit()
        self.output_folder = QLineEdit(str(user_models_dir()))
        self.output_note = QLabel()
        self.output_note.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Preset", self.preset)
        form.addRow("", self.estimate)
        form.addRow(self.advanced_toggle)
        form.addRow(self.advanced)
        form.addRow("Model name", self.name)
        form.addRow("Save in", _folder_row(self.output_folder, self._browse_output))
        form.addRow(self.output_note)
        self.preset.currentIndexChanged.connect(self._choose_preset)
        for widget in (self.steps, self.batch):
            widget.valueChanged.connect(self._size_edited)
        self.device.currentIndexChanged.connect(self._time_current)
        for widget in (self.name, self.output_folder):
            widget.textChanged.connect(self.completeChanged)
        self.estimated.connect(self._estimated)

    def initializePage(self) -> None:
        if not self.name.text():
            self.name.setText(self.wizard().images_page.scan.folder.name.replace(" ", "-"))
        self._time_current()

    @property
    def timing_key(self) -> tuple[str, str]:
        """(base model, device) of the current choices: what a timing run is for."""
        wizard = self.wizard()
        return (wizard.task_page.base_model.text().strip() if wizard else ""), self.device.currentData()

    @property
    def timing(self) -> FinetuneTiming | None:
        return self.timings.get(self.timing_key)

    def start_timing(self, model: str, device: str) -> None:
        """Time the fine-tune of `model` on `device` in a background thread, once per pair (the
        wizard starts it as it opens, so that the estimate is ready by this page)."""
        key = (model, device)
        if key not in self.timings and key not in self._timing_problems and key not in self._timing:
            self._timing.add(key)
            threading.Thread(target=self._time, args=key, daemon=True).start()

    def _time_current(self) -> None:
        self.start_timing(*self.timing_key)
        if self._steps_chosen:
            self._show_estimate()
        else:
            self._apply_preset()

    def _time(self, model: str, device: str) -> None:
        from training.finetune_timing import time_finetune
        from training.stage2 import finetune_config

        try:
            timing, problem = time_finetune(finetune_config(model, batch=PRESETS["standard"].batch), model, device), ""
        except Exception as error:  # noqa: BLE001 - the estimate is advice; the run reports real errors
            timing, problem = None, str(error)
        try:
            self.estimated.emit(model, device, timing, problem)
        except RuntimeError:
            pass  # the wizard was closed while timing: nobody to tell

    def _estimated(self, model: str, device: str, timing: FinetuneTiming | None, problem: str) -> None:
        key = (model, device)
        self._timing.discard(key)
        if timing is not None:
            self.timings[key] = timing
        else:
            self._timing_problems[key] = problem
        if key == self.timing_key:
            if self._steps_chosen:
                self._show_estimate()
            else:
                self._apply_preset()
            self.completeChanged.emit()

    def _choose_preset(self) -> None:
        self._steps_chosen = False
        self._apply_preset()

    def _size_edited(self) -> None:
        """Steps or batch set by hand in the advanced settings: a later timing keeps them."""
        if not self._applying_preset:
            self._steps_chosen = True
        self._show_estimate()

    def _apply_preset(self) -> None:
        """The preset's batch, and as many steps as fit its time on this machine (its cap until timed)."""
        preset = PRESETS[self.preset.currentData()]
        steps = preset.max_steps
        if self.timing is not None:
            steps = min(steps, self.timing.steps_within(preset.seconds, preset.batch, PREVIEWS, SNAPSHOT_SAMPLES))
        self._applying_preset = True
        self.batch.setValue(preset.batch)
        self.steps.setValue(steps)
        self._applying_preset = False
        self._show_estimate()

    def _show_estimate(self) -> None:
        device = self.device.currentText()
        if self.timing is not None:
            total = self.timing.job_seconds(self.steps.value(), self.batch.value(), PREVIEWS, SNAPSHOT_SAMPLES)
            self.estimate.setText(f"About {_duration(total)} on {device} ({self.steps.value()} steps of {self.batch.value()} images)")
        elif self.timing_key in self._timing_problems:
            self.estimate.setText(f"Could not time a step here: {self._timing_problems[self.timing_key]}")
        else:
            self.estimate.setText(f"Timing a training step on {device}…")

    def _browse_output(self) -> None:
        folder = dialogs.choose_folder(self, "Where to save the model", self.output_folder.text())
        if folder:
            self.output_folder.setText(folder)

    @property
    def output(self) -> Path:
        return Path(self.output_folder.text().strip()) / f"{self.name.text().strip()}.safetensors"

    def isComplete(self) -> bool:
        """A valid output, and the timing done (it sets the preset's steps) or failed."""
        name, folder = self.name.text().strip(), Path(self.output_folder.text().strip())
        problem = ""
        if not name or any(c in name for c in '/\\:*?"<>|'):
            problem = "Give the model a name (letters, digits, - and _)."
        elif inside_bundle(folder):
            problem = "That folder is inside the app; choose a folder of your own."
        elif folder.exists() and not os.access(folder, os.W_OK):
            problem = f"{folder} is not writable."
        elif self.output.exists():
            problem = f"{self.output.name} already exists there; choose another name."
        self.output_note.setText(problem)
        return not problem and self.timing_key not in self._timing


class TrainingPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Training")
        self.setSubTitle("The model trains in a separate process; the app stays usable. Cancel stops it and keeps the last checkpoint.")
        self.process = TrainingProcess(self)
        self.process.message.connect(self._message)
        self.process.succeeded.connect(self._succeeded)
        self.process.failed.connect(self._failed)
        self.outcome: dict | None = None
        self.stopping = False
        self.progress = QProgressBar()
        self.status = QLabel("Starting…")
        self.plot = LossPlot("total loss")
        self.preview = QLabel("The preview of the current model appears here.")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(160, 160)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setVisible(False)
        grid = QGridLayout(self)
        grid.addWidget(self.progress, 0, 0, 1, 2)
        grid.addWidget(self.status, 1, 0, 1, 2)
        grid.addWidget(self.plot, 2, 0)
        grid.addWidget(self.preview, 2, 1)
        grid.addWidget(self.log, 3, 0, 1, 2)
        grid.setRowStretch(2, 1)

    def initializePage(self) -> None:
        wizard = self.wizard()
        job = wizard.make_job()
        Path(job.run_dir).mkdir(parents=True, exist_ok=True)
        spec = Path(job.run_dir) / "job.json"
        job.save(spec)
        self.outcome = None
        self.stopping = False
        self.progress.setRange(0, 0)
        self.process.start(spec)

    def _message(self, message: dict) -> None:
        kind = message["type"]
        if kind == "started":
            self.progress.setRange(0, message["total"])
            self.status.setText("Training…")
        elif kind == "progress":
            values = message["values"]
            self.progress.setValue(message["done"])
            self.plot.add(message["done"], values.get("loss_total", 0.0))
            self.status.setText(f"{message['done']} of {message['total']} images · about {_duration(values.get('eta_s', 0))} left")
        elif kind == "preview":
            self.preview.setPixmap(QPixmap(message["path"]).scaled(192, 192, Qt.AspectRatioMode.KeepAspectRatio))
            self.preview.setToolTip(f"the held-out image, filled by the model after {message['done']} images")

    def _succeeded(self, outcome: dict) -> None:
        self.outcome = outcome
        if outcome["cancelled"]:
            self.status.setText(f"Cancelled after {outcome['done']} images: the last checkpoint was kept.")
        else:
            self.progress.setValue(self.progress.maximum())
            self.status.setText("Finished.")
        self.completeChanged.emit()

    def _failed(self, reason: str, tail: str) -> None:
        self.status.setText(f"Training failed: {reason}")
        self.log.setVisible(True)
        self.log.setPlainText(tail or "(the process printed nothing)")
        dialogs.show_error(self, "Fine-tune failed", reason)

    def cancel(self) -> None:
        """Stop the training; the job saves its last checkpoint first (once, however often asked)."""
        if self.stopping:
            return
        self.stopping = True
        self.status.setText("Stopping and saving the last checkpoint…")
        self.process.cancel()

    def isComplete(self) -> bool:
        return self.outcome is not None


class FinishPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Your model")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.images = [QLabel() for _ in range(3)]
        self.load_now = QCheckBox("Load this model now")
        self.load_now.setChecked(True)
        row = QHBoxLayout()
        for label, caption in zip(self.images, ("held-out image and hole", "before (base model)", "after (your model)")):
            column = QVBoxLayout()
            column.addWidget(label)
            column.addWidget(QLabel(caption), alignment=Qt.AlignmentFlag.AlignHCenter)
            row.addLayout(column)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(row)
        layout.addWidget(self.load_now)

    def initializePage(self) -> None:
        outcome = self.wizard().training_page.outcome
        state = "Cancelled early: this is the last checkpoint, trained on" if outcome["cancelled"] else "Trained on"
        self.summary.setText(f"{state} {outcome['done']} images and saved as {outcome['checkpoint']}.\n"
                             f"It is listed in the Model menu, with the domain “{self.wizard().domain}”.")
        for label, key in zip(self.images, ("masked", "before", "after")):
            path = outcome["comparison"].get(key)
            label.setPixmap(QPixmap(path).scaled(192, 192, Qt.AspectRatioMode.KeepAspectRatio) if path else QPixmap())


class FinetuneWizard(QWizard):
    """model_ready(path, load_now) when the user finishes with a saved checkpoint."""

    model_ready = Signal(object, bool)

    def __init__(self, base_model: Path | None, device: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune for my images")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.images_page, self.task_page = ImagesPage(), TaskPage(base_model)
        self.settings_page, self.training_page, self.finish_page = SettingsPage(device), TrainingPage(), FinishPage()
        for page in (self.images_page, self.task_page, self.settings_page, self.training_page, self.finish_page):
            self.addPage(page)
        self.resize(720, 560)
        if self.task_page.isComplete():
            self.settings_page.start_timing(*self.settings_page.timing_key)

    @property
    def domain(self) -> str:
        return self.settings_page.name.text().strip()

    def make_job(self) -> FinetuneJob:
        scan, settings = self.images_page.scan, self.settings_page
        held_out = scan.usable[-1].path
        output = settings.output
        run_dir = user_data_dir() / "runs" / f"{output.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        return FinetuneJob(
            model=self.task_page.base_model.text().strip(), data=str(scan.folder), output=str(output), run_dir=str(run_dir),
            domain=self.domain, masks=self.task_page.masks, device=settings.device.currentData(), steps=settings.steps.value(),
            batch=settings.batch.value(), lr=settings.lr.value(), workers=2 if settings.device.currentData() == "cuda" else 0, previews=PREVIEWS,
            held_out=str(held_out), exclude=(str(held_out), *(str(p) for p, _ in scan.duplicates)),
        )

    def accept(self) -> None:
        outcome = self.training_page.outcome
        if outcome is not None:
            self.model_ready.emit(Path(outcome["checkpoint"]), self.finish_page.load_now.isChecked())
        super().accept()

    @property
    def training(self) -> bool:
        return self.training_page.process.running

    def stop_then(self, then) -> None:
        """Cancel the running fine-tune and call `then()` once its process has ended (it saves first)."""
        self.training_page.process.process.finished.connect(lambda *_: then())
        self.training_page.cancel()

    def reject(self) -> None:
        """The wizard's one Cancel: while a fine-tune trains it stops it (if the user agrees) and the
        wizard stays open to show the checkpoint it kept, which Next offers to load; else it closes."""
        if not self.training:
            super().reject()
        elif not self.training_page.stopping and dialogs.ask_stop_training(self):
            self.training_page.cancel()
