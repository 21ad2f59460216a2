"""The main window's model: the Model menu (default, demo and fine-tuned models, classic fills),
loading in the worker, the device, and the fine-tune wizard."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtGui import QAction

from app.user_data import user_models_dir
from core.engine.choices import MODEL
from core.engine.device import device_summary
from core.engine.fill_registry import CLASSIC_FILLS, available_classic_fills
from core.engine.inpainter import Inpainter
from core.io.resources import DEFAULT_MODEL, default_model_path, demo_models
from core.wording import sentences

from . import dialogs

DEMO_MODEL_TIP = "a small model bundled to try the method (see resources/models/README.md for what it was trained on and its terms)"
NO_DEFAULT_MODEL = f"This build has no default model (resources/{'/'.join(DEFAULT_MODEL)}): choose a demo model or load a checkpoint"


def model_summary(inpainter: Inpainter) -> str:
    """What the status bar says of the loaded model: name, resolution, domain — or the classic fill."""
    if inpainter.model_missing:
        return "Classic OpenCV fill (no model found)"
    if inpainter.is_classic:
        return f"Classic fill: {CLASSIC_FILLS[inpainter.method_key].name} (no model)"
    parts = [inpainter.checkpoint.stem, f"{inpainter.resolution} px"] + ([inpainter.domain] if inpainter.domain else [])
    return "Model: " + " · ".join(parts)


def model_terms(inpainter: Inpainter) -> str:
    """The line that names the loaded model's data terms, which its fills inherit; '' for a classic fill."""
    if inpainter.is_classic:
        return ""
    return f"Training data terms: {inpainter.data_terms or 'not recorded in this model; ask whoever trained it'}"


def model_details(inpainter: Inpainter) -> str:
    """The status bar's tooltip on the model, and its paragraph in About: what it is and its data terms."""
    return "\n".join(line for line in (inpainter.description, model_terms(inpainter)) if line)


class ModelControl:
    """The loaded model or classic fill and its device; a mixin of MainWindow."""

    def _current_checkpoint(self) -> Path | None:
        inpainter = self.engine.inpainter
        return None if inpainter is None or inpainter.checkpoint is None or self._is_default(inpainter) else inpainter.checkpoint

    @staticmethod
    def _is_default(inpainter: Inpainter) -> bool:
        return inpainter.checkpoint == default_model_path()

    def _offer_default_model(self) -> None:
        """Model → Default model is offered only when the build has one (otherwise its tooltip says why),
        and checked while it is the loaded model."""
        present = default_model_path() is not None
        inpainter = self.engine.inpainter
        self.default_model_action.setChecked(present and inpainter is not None and not inpainter.is_classic and self._is_default(inpainter))
        self.default_model_action.setEnabled(present and not self.engine.busy)
        tip = "the model embedded in this build" if present else NO_DEFAULT_MODEL
        self.default_model_action.setToolTip(tip)
        self.default_model_action.setStatusTip(tip)

    def _current_method(self) -> str:
        """The fill method asked for last: "invertfill" or a classic fill's key."""
        return self._requested[2]

    def load_model(self, checkpoint: Path | None, device: str, remember: bool = True, method: str = MODEL) -> None:
        """Load a checkpoint (None: the embedded default), or the classic fill `method`, on a device in
        the worker; the status bar follows."""
        if self.engine.busy:
            return
        self._remember_model = remember
        self._requested = (checkpoint, device, method)
        self.model_label.setText("Loading model…" if method == MODEL else "Preparing the fill…")
        self.engine.load_model(checkpoint, device, method, self.preferences.runtime)

    def _runtime_changed(self) -> None:
        """Preferences changed the runtime: the loaded model loads again with it."""
        inpainter = self.engine.inpainter
        if inpainter is not None and not inpainter.is_classic:
            self.load_model(self._current_checkpoint(), self._requested[1])

    def choose_model(self) -> None:
        path = dialogs.choose_file_to_open(self, "Load checkpoint", self.preferences.folder("model") or str(user_models_dir()), dialogs.MODEL_FILTER)
        if path:
            self.preferences.set_folder("model", Path(path).parent)
            self.load_model(Path(path), self.preferences.device)

    def _fill_model_menu(self) -> None:
        self.model_menu.clear()
        self._offer_default_model()
        self.model_menu.addAction(self.default_model_action)
        current = self._current_checkpoint()
        for path in demo_models():
            self._add_model_choice(f"Demo: {path.stem}", path, current).setStatusTip(DEMO_MODEL_TIP)
        self.model_menu.addSeparator()
        for path in self.user_model_paths():
            self._add_model_choice(path.stem, path, current)
        self.model_menu.addAction(self.load_model_action)
        self.model_menu.addSection("Without a model")
        for method in available_classic_fills():
            action = self.model_menu.addAction(
                f"Classic: {method.name}", lambda key=method.key: self.load_model(None, self.preferences.device, method=key)
            )
            action.setCheckable(True)
            action.setChecked(self.engine.inpainter is not None and self.engine.inpainter.method_key == method.key)
            action.setEnabled(not self.engine.busy)
        self.model_menu.addSeparator()
        devices = self.model_menu.addMenu("&Device")
        devices.addActions(list(self.device_actions.values()))

    def _add_model_choice(self, label: str, path: Path, current: Path | None) -> QAction:
        """A Model-menu entry that loads `path`, checked when it is the loaded model."""
        action = self.model_menu.addAction(label, lambda: self.load_model(path, self.preferences.device))
        action.setCheckable(True)
        action.setChecked(current is not None and current.resolve() == path.resolve())
        action.setEnabled(not self.engine.busy)
        return action

    def user_model_paths(self) -> list[Path]:
        """Fine-tuned checkpoints: the user-data models folder, then those the wizard saved elsewhere."""
        paths = sorted(user_models_dir().glob("*.safetensors"))
        seen = {p.resolve() for p in paths}
        return paths + [Path(p) for p in self.preferences.user_models if Path(p).is_file() and Path(p).resolve() not in seen]

    def open_finetune_wizard(self) -> None:
        """Tools → Fine-tune: starts from the loaded model; the result can be loaded at the end.
        The wizard (and the training code behind it, with torch) is imported when first opened."""
        from .finetune_wizard import FinetuneWizard

        self.finetune_wizard = FinetuneWizard(self._loaded_checkpoint(), self.preferences.device, self)
        self.finetune_wizard.model_ready.connect(self._finetuned)
        self.finetune_wizard.show()

    def _loaded_checkpoint(self) -> Path | None:
        inpainter = self.engine.inpainter
        return None if inpainter is None else inpainter.checkpoint

    def _finetuned(self, path: Path, load_now: bool) -> None:
        self.preferences.add_user_model(path)
        if load_now:
            self.load_model(path, self.preferences.device)

    def _model_loaded(self, inpainter: Inpainter) -> None:
        self.model_label.setText(model_summary(inpainter))
        self.model_label.setToolTip(model_details(inpainter))
        logging.getLogger(__name__).info("loaded %s", model_details(inpainter).replace("\n", "; "))
        self.device_label.setText(device_summary(inpainter.device) + (f" · {inpainter.runtime}" if inpainter.runtime else ""))
        if inpainter.notes:
            self.statusBar().showMessage(sentences(inpainter.notes), 0)
        self.device_actions[inpainter.device.type].setChecked(True)
        if self._remember_model:
            if not inpainter.is_classic:
                self.preferences.model = "" if inpainter.checkpoint is None or self._is_default(inpainter) else str(inpainter.checkpoint)
            self.preferences.fill_method = self._requested[2]
            self.preferences.device = self._requested[1]

    def _model_failed(self, message: str) -> None:
        dialogs.show_error(self, "Cannot load the model", message)
        if self.engine.inpainter is None and (self._requested[0] is not None or self._requested[2] != MODEL):
            self.load_model(None, "cpu", remember=False)
        else:
            self.model_label.setText(model_summary(self.engine.inpainter))
