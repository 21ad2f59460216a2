"""The fine-tune wizard's setup pages after the images (app.gui.finetune_images): the task (inpaint /
outpaint / own masks; base model) and the settings (preset, time estimate, advanced, output)."""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.user_data import user_models_dir
from core.engine.device import cuda_available
from core.errors import InvertFillError
from core.io.checkpoint_header import read_header
from core.io.resources import resource_path
from core.wording import rough_duration
from training.finetune_job import SNAPSHOT_SAMPLES
from training.finetune_timing import FinetuneTiming

from . import dialogs
from .finetune_images import folder_row


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

def inside_bundle(path: Path) -> bool:
    """Whether `path` lies in the app's own files (read-only for a user in a packaged build)."""
    bundle = resource_path().parent.resolve()
    return getattr(sys, "frozen", False) and path.resolve().is_relative_to(bundle)


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


def no_discriminator_note(model: Path) -> str:
    """Task-page text for a model kept without its discriminator: what the fine-tune learns from instead."""
    return (f"{model.name} has no discriminator, so the fine-tune learns from pixel differences alone, without the "
            "perceptual and style losses that a model with its discriminator gets: expect softer fills.")


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
        layout.addWidget(folder_row(self.mask_folder, self._browse_masks))
        self.base_model = QLineEdit(str(base_model) if base_model else "")
        self.base_model.setPlaceholderText("an InvertFill checkpoint (.safetensors)")
        self.base_note = QLabel()
        self.base_note.setWordWrap(True)
        self.base_note.setOpenExternalLinks(True)
        form = QFormLayout()
        form.addRow("Start from", folder_row(self.base_model, self._browse_model))
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
            parts = json.loads(read_header(path).metadata.get("parts", "{}")) if text and path.is_file() else {}
        except (InvertFillError, json.JSONDecodeError):
            parts = {}
        complete = "invertfill" in parts
        self.base_note.setText(no_discriminator_note(path) if complete and "discriminator" not in parts
                               else "" if complete else base_model_missing(text, parts))
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
        self.estimate.setWordWrap(True)
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
        if cuda_available():
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
        form.addRow("Save in", folder_row(self.output_folder, self._browse_output))
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
        except Exception as error:  # noqa: BLE001 - whatever stops a training step here would stop the run: shown, and Start stays off
            timing, problem = None, str(error) or type(error).__name__
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
            self.estimate.setText(f"About {rough_duration(total)} on {device} ({self.steps.value()} steps of {self.batch.value()} images)")
        elif self.timing_key in self._timing_problems:
            self.estimate.setText(f"A fine-tune cannot start here: {self._timing_problems[self.timing_key]}")
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
        """A valid output, and the timing done (it sets the preset's steps): a timing that failed
        is a run that would fail, so Start stays off and the estimate says why."""
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
        return not problem and self.timing is not None
