"""Tools → Fine-tune for my images: adapt the encoder to a user's own domain (the paper's RQ3).

The setup pages live in app.gui.finetune_setup; this module runs the job and shows its result.

Pages: images (scan and verdict) → task (inpaint / outpaint / own masks; base model) →
settings (preset, estimate, advanced, output) → training (separate process: progress, ETA,
loss curve, previews, cancel) → finish (saved checkpoint, before / after, load now).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.user_data import user_data_dir
from core.wording import counted, rough_duration
from training.finetune_job import FinetuneJob
from training.run_folder import discard_untrained

from . import dialogs
from .finetune_images import ImagesPage
from .finetune_setup import PREVIEWS, SettingsPage, TaskPage
from .loss_plot import LossPlot
from .preferences import Preferences
from .training_process import TrainingProcess

MAX_WIDTH = 1000
"""The wizard never grows wider than this (long messages wrap), so its buttons stay on a small screen."""
IMAGE_SIZE = 160


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
        self.status.setWordWrap(True)
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
        self.run_dir = Path(job.run_dir)
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
            self.status.setText(f"{message['done']} of {message['total']} images · about {rough_duration(values.get('eta_s', 0))} left")
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
        discard_untrained(self.run_dir)
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
    CAPTIONS = {"masked": "held-out photo and hole", "before": "before (base model)", "after": "after (your model)",
                "difference": "difference"}

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Your model")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.images = {key: QLabel() for key in self.CAPTIONS}
        self.change = QLabel()
        self.change.setWordWrap(True)
        self.load_now = QCheckBox("Load this model now")
        self.load_now.setChecked(True)
        row = QHBoxLayout()
        self.captions = {key: QLabel(caption) for key, caption in self.CAPTIONS.items()}
        for key, caption in self.captions.items():
            column = QVBoxLayout()
            column.addWidget(self.images[key])
            column.addWidget(caption, alignment=Qt.AlignmentFlag.AlignHCenter)
            row.addLayout(column)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(row)
        layout.addWidget(self.change)
        layout.addWidget(self.load_now)

    def initializePage(self) -> None:
        outcome = self.wizard().training_page.outcome
        photos, samples = outcome["photos"], outcome["done"]
        trained = (f"{counted(photos, 'photo')}, {counted(samples, 'training sample')} "
                   f"({counted(round(samples / max(photos, 1)), 'pass', 'passes')})")
        state = "Cancelled early: this is the last checkpoint, trained on" if outcome["cancelled"] else "Trained on"
        self.summary.setText(f"{state} {trained}; saved as {outcome['checkpoint']}.\n"
                             f"It is listed in the Model menu, with the domain “{self.wizard().domain}”.")
        comparison = outcome["comparison"]
        for key, label in self.images.items():
            path = comparison.get(key)
            label.setPixmap(QPixmap(path).scaled(IMAGE_SIZE, IMAGE_SIZE, Qt.AspectRatioMode.KeepAspectRatio) if path else QPixmap())
        self.captions["difference"].setText(f"difference ×{comparison['gain']}" if comparison else "difference")
        self.change.setText(f"On this held-out photo the fill changed by {comparison['change']:.1f} grey levels on average in the hole "
                            "(of the holes tried, the one that changed most)." if comparison else "")


class FinetuneWizard(QWizard):
    """model_ready(path, load_now) when the user finishes with a saved checkpoint."""

    model_ready = Signal(object, bool)

    def __init__(self, base_model: Path | None, device: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preferences = Preferences()
        self.setWindowTitle("Fine-tune for my images")
        self.setMaximumWidth(MAX_WIDTH)
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.images_page, self.task_page = ImagesPage(), TaskPage(base_model)
        self.settings_page, self.training_page, self.finish_page = SettingsPage(device), TrainingPage(), FinishPage()
        for page in (self.images_page, self.task_page, self.settings_page, self.training_page, self.finish_page):
            self.addPage(page)
        self.resize(760, 560)
        self.images_page.scanned.connect(self._remember_folder)
        last_folder = self.preferences.folder("finetune")
        if last_folder and Path(last_folder).is_dir():
            self.images_page.scan_folder(last_folder)
        if self.task_page.isComplete():
            self.settings_page.start_timing(*self.settings_page.timing_key)

    def _remember_folder(self, number: int, scan, problem: str) -> None:
        """A folder good enough to train on is where the wizard starts next time."""
        if scan is not None and scan.is_enough:
            self.preferences.set_folder("finetune", scan.folder)

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
