"""The main window: canvas, menus, toolbar and status bar, wired to the Document and the Engine.

Its concerns live in mixins beside it: window_actions (actions, menus, toolbar, status bar),
window_files (open, save, masks, drag and drop), window_fill (mask edits, fills, batch) and
window_model (the Model menu, loading, devices, the fine-tune wizard). This module holds the
window's state and what ties them together.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import qtawesome
from PySide6.QtGui import QCloseEvent, QUndoStack
from PySide6.QtWidgets import QMainWindow

from core.engine.choices import MODEL
from core.masks.editing import Region

from . import dialogs
from .batch_dialog import BatchDialog
from .canvas import CanvasView
from .document import Document
from .engine import Engine
from .preferences import BRUSH_RANGE, Preferences
from .preferences_dialog import PreferencesDialog
from .shortcuts_dialog import ShortcutsDialog
from .window_actions import WindowActions
from .window_files import FileHandling
from .window_fill import FillControl
from .window_model import ModelControl, model_details

if TYPE_CHECKING:
    from .finetune_wizard import FinetuneWizard

APP_NAME = "InvertFill Studio"
VARIATIONS_NEED_A_MODEL = (
    "Variations need an InvertFill model (the classic fill gives one result): load one with Model → Load checkpoint…"
)


class MainWindow(WindowActions, FileHandling, FillControl, ModelControl, QMainWindow):
    """`model` / `device` from the command line override the saved preferences for this session."""

    def __init__(self, preferences: Preferences, model: str | None = None, device: str | None = None) -> None:
        super().__init__()
        self.preferences = preferences
        self.document: Document | None = None
        self.undo_stack = QUndoStack(self)
        self.engine = Engine(self)
        self.canvas = CanvasView(self)
        self.canvas.set_brush_size(preferences.brush_size)
        self.setCentralWidget(self.canvas)
        self.setAcceptDrops(True)
        self.setWindowIcon(qtawesome.icon("fa5s.magic", color="#d04848"))
        self.batch_dialog: BatchDialog | None = None
        self.finetune_wizard: FinetuneWizard | None = None
        self._fill_job: tuple[int, Region, int] | None = None
        self._startup_model = Path(model) if model else (Path(preferences.model) if preferences.model else None)
        self._startup_method = MODEL if model else preferences.fill_method

        self._create_actions()
        self._create_menus()
        self._create_toolbar()
        self._create_status_bar()
        self._connect()
        self._update_title()
        self._update_enabled()
        if preferences.geometry is not None:
            self.restoreGeometry(preferences.geometry)
        else:
            self.resize(1200, 800)
        self.load_model(self._startup_model, device or preferences.device, remember=False, method=self._startup_method)

    def _connect(self) -> None:
        self.canvas.mask_edited.connect(self._push_mask_edit)
        self.canvas.compare_held.connect(self.canvas.show_original)
        self.canvas.zoom_changed.connect(self._show_zoom)
        self.compare_button.pressed.connect(self._compare_pressed)
        self.compare_button.released.connect(self._compare_released)
        self.brush_slider.valueChanged.connect(self.set_brush_size)
        self.undo_stack.canUndoChanged.connect(self._update_enabled)
        self.undo_stack.canRedoChanged.connect(self._update_enabled)
        self.undo_stack.indexChanged.connect(self._update_enabled)
        self.engine.busy_changed.connect(self._update_enabled)
        self.engine.devices_checked.connect(self._update_enabled)
        self.engine.model_loaded.connect(self._model_loaded)
        self.engine.model_failed.connect(self._model_failed)
        self.engine.fill_finished.connect(self._fill_finished)
        self.engine.fill_failed.connect(self._fill_failed)
        self.set_brush_size(self.canvas.brush_size)

    # state shown

    def _show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom:.0%}")

    def _compare_pressed(self) -> None:
        self.canvas.show_original(True)

    def _compare_released(self) -> None:
        self.canvas.show_original(False)

    def _update_title(self, *_: object) -> None:
        name = self.document.name if self.document is not None else ""
        self.setWindowTitle(f"{name}[*] — {APP_NAME}" if name else APP_NAME)
        self.setWindowModified(self.document is not None and self.document.modified)

    def _update_enabled(self, *_: object) -> None:
        """While the engine works (a model loads, a batch runs) only what needs it waits; while a fill
        of this image runs, its mask and pixels are also left alone. Opening and saving always work."""
        busy, filling, has_image = self.engine.busy, self._fill_job is not None, self.document is not None
        for action in {*self._need_engine, *self._change_image, *self._need_image}:
            action.setEnabled(
                (not busy or action not in self._need_engine)
                and (not filling or action not in self._change_image)
                and (has_image or action not in self._need_image)
            )
        # Device → CUDA is offered once the engine's worker has found a usable CUDA device.
        cuda = self.engine.cuda_available is True
        self.device_actions["cuda"].setEnabled(not busy and cuda)
        self.device_actions["cuda"].setStatusTip("" if cuda else "no usable CUDA device on this machine (or not checked yet)")
        self._offer_default_model()
        classic = self.engine.inpainter is None or self.engine.inpainter.is_classic
        self.variations_action.setEnabled(self.variations_action.isEnabled() and not classic)
        self.variations_action.setText("&Variations… (needs a model)" if classic else "&Variations…")
        self.variations_action.setToolTip(VARIATIONS_NEED_A_MODEL if classic else "Variations — choose among several fills")
        self.variations_action.setStatusTip(VARIATIONS_NEED_A_MODEL if classic else "choose among several fills")
        self.undo_action.setEnabled(not filling and self.undo_stack.canUndo())
        self.redo_action.setEnabled(not filling and self.undo_stack.canRedo())
        self.undo_action.setText(f"&Undo {self.undo_stack.undoText()}".rstrip())
        self.redo_action.setText(f"&Redo {self.undo_stack.redoText()}".rstrip())
        self.cancel_action.setEnabled(busy)
        self.busy_bar.setVisible(busy)
        self.canvas.set_editable(not filling)

    def set_brush_size(self, size: int) -> None:
        size = min(max(int(size), BRUSH_RANGE[0]), BRUSH_RANGE[1])
        self.canvas.set_brush_size(size)
        self.brush_slider.setValue(size)
        self.brush_label.setText(f"{size} px")
        self.preferences.brush_size = size

    def _mask_step(self) -> int:
        return max(1, round(self.canvas.brush_image_size / 4))

    # dialogs and closing

    def edit_preferences(self) -> None:
        runtime = self.preferences.runtime
        if PreferencesDialog(self.preferences, self).exec() and self.preferences.runtime != runtime:
            self._runtime_changed()

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self.actions(), self).exec()

    def show_about(self) -> None:
        from core import __version__

        about = f"{APP_NAME} {__version__}\nImage inpainting with GAN inversion (InvertFill, ECCV 2022)."
        if self.engine.inpainter is not None:
            about += f"\n\n{model_details(self.engine.inpainter)}"
        dialogs.show_info(self, f"About {APP_NAME}", about)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Quit: a running fine-tune is stopped first (it saves), unsaved fills are asked about. The
        window goes at once; a fill or batch still running is cancelled and stops at its next check."""
        wizard = self.finetune_wizard
        if wizard is not None and wizard.training:
            if dialogs.ask_stop_training(self):
                wizard.stop_then(self.close)
            event.ignore()
            return
        if not self._confirm_discard():
            event.ignore()
            return
        self.preferences.geometry = self.saveGeometry()
        if self.batch_dialog is not None:
            self.batch_dialog.close()
        self.hide()
        self.engine.shutdown()
        event.accept()
