"""The main window: canvas, menus, toolbar and status bar, wired to the Document and the Engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import qtawesome
import torch
from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QSlider, QToolButton

from app.user_data import user_models_dir
from core import mask_edit
from core.errors import InvertFillError
from core.image_io import read_mask
from core.inpainter import FillResult, Inpainter, fit_mask
from core.mask_edit import Region, bounding_region
from core.resources import demo_models

from . import dialogs
from .batch_dialog import BatchDialog
from .canvas import CanvasView
from .document import Document
from .edits import FillEdit, MaskEdit
from .engine import Engine
from .finetune_wizard import FinetuneWizard
from .preferences import BRUSH_RANGE, Preferences
from .preferences_dialog import PreferencesDialog
from .qt_image import display_pixels
from .shortcuts_dialog import ShortcutsDialog
from .variations_dialog import thumbnail_region

APP_NAME = "InvertFill Studio"
LOSSY = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WebP"}
LOSSLESS = (".png", ".tif", ".tiff", ".bmp")
VARIATIONS_NEED_A_MODEL = (
    "Variations need an InvertFill model (the classic fill gives one result): load one with Model → Load checkpoint…"
)

DEMO_MODEL_TIP = "a small model bundled to try the method (see resources/models/README.md for what it was trained on and its terms)"


def local_paths(mime: QMimeData) -> list[Path]:
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def model_summary(inpainter: Inpainter) -> str:
    """What the status bar says of the loaded model: name, resolution, domain — or the classic fill."""
    if inpainter.is_classic:
        return "Classic OpenCV fill (no model found)"
    parts = [inpainter.checkpoint.stem, f"{inpainter.resolution} px"] + ([inpainter.domain] if inpainter.domain else [])
    return "Model: " + " · ".join(parts)


def device_summary(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return "CPU"


class MainWindow(QMainWindow):
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
        self.load_model(self._startup_model, device or preferences.device, remember=False)

    # construction

    def _action(self, text: str, slot: Callable[[], object], shortcut: str | QKeySequence.StandardKey | None = None,
                icon: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if icon:
            action.setIcon(qtawesome.icon(icon))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{text.replace('&', '').rstrip('…')} — {tip}")
        action.triggered.connect(lambda checked=False: slot())
        self.addAction(action)
        return action

    def _create_actions(self) -> None:
        keys = QKeySequence.StandardKey
        self.open_action = self._action("&Open…", self.choose_image, keys.Open, "fa5s.folder-open", "open an image")
        self.save_action = self._action("&Save", self.save, keys.Save, "fa5s.save", "save the filled image")
        self.save_as_action = self._action("Save &As…", self.save_as, keys.SaveAs, tip="save under another name or format")
        self.batch_action = self._action("&Batch…", self.open_batch, "Ctrl+B", "fa5s.layer-group", "fill every image of a folder")
        self.quit_action = self._action("&Quit", self.close, keys.Quit)
        self.undo_action = self._action("&Undo", self.undo_stack.undo, keys.Undo, "fa5s.undo")
        self.undo_action.setIconText("Undo")
        self.redo_action = self._action("&Redo", self.undo_stack.redo, keys.Redo, "fa5s.redo")
        self.redo_action.setIconText("Redo")
        self.tool_actions = {
            "brush": self._action("&Brush", lambda: self.canvas.set_tool("brush"), "B", "fa5s.paint-brush", "paint the area to fill"),
            "eraser": self._action("&Eraser", lambda: self.canvas.set_tool("eraser"), "E", "fa5s.eraser", "remove paint"),
            "rectangle": self._action("&Rectangle", lambda: self.canvas.set_tool("rectangle"), "R", "fa5s.vector-square", "drag a rectangle to fill"),
        }
        tools = QActionGroup(self)
        for action in self.tool_actions.values():
            action.setCheckable(True)
            tools.addAction(action)
        self.tool_actions["brush"].setChecked(True)
        self.smaller_action = self._action("Smaller brush", lambda: self.set_brush_size(round(self.canvas.brush_size / 1.25)), "[")
        self.bigger_action = self._action("Bigger brush", lambda: self.set_brush_size(max(self.canvas.brush_size + 1, round(self.canvas.brush_size * 1.25))), "]")
        step = "a quarter of the brush size"
        self.grow_action = self._action("&Grow mask", lambda: self.edit_mask("Grow mask", lambda m: mask_edit.grow(m, self._mask_step())), "G", "fa5s.expand", f"by {step}")
        self.shrink_action = self._action("S&hrink mask", lambda: self.edit_mask("Shrink mask", lambda m: mask_edit.shrink(m, self._mask_step())), "Shift+G", "fa5s.compress", f"by {step}")
        self.invert_action = self._action("&Invert mask", lambda: self.edit_mask("Invert mask", mask_edit.invert), "Ctrl+I", "fa5s.adjust")
        self.clear_action = self._action("&Clear mask", lambda: self.edit_mask("Clear mask", mask_edit.clear), "Delete", "fa5s.times-circle")
        self.load_mask_action = self._action("&Load mask…", self.load_mask, "Ctrl+Shift+O", tip="white pixels become the hole")
        self.save_mask_action = self._action("Sa&ve mask…", self.save_mask, "Ctrl+Shift+M", tip="as a black-and-white image")
        self.preferences_action = self._action("&Preferences…", self.edit_preferences, keys.Preferences)
        self.fill_action = self._action("&Fill", lambda: self.fill(1), "Ctrl+Return", "fa5s.magic", "fill the masked area")
        self.variations_action = self._action("&Variations…", lambda: self.fill(self.preferences.variations), "Ctrl+Shift+Return", "fa5s.th-large", "choose among several fills")
        self.cancel_action = self._action("&Cancel", self.cancel, "Esc", "fa5s.stop-circle", "stop the running fill")
        self.fit_action = self._action("&Fit to window", self.canvas.fit_to_window, "Ctrl+0", "fa5s.compress-arrows-alt")
        self.actual_size_action = self._action("&100 %", self.canvas.actual_size, "Ctrl+1", "fa5s.search")
        self.zoom_in_action = self._action("Zoom &in", lambda: self.canvas.zoom_by(1.25), keys.ZoomIn, "fa5s.search-plus")
        self.zoom_out_action = self._action("Zoom &out", lambda: self.canvas.zoom_by(0.8), keys.ZoomOut, "fa5s.search-minus")
        self.load_model_action = self._action("&Load checkpoint…", self.choose_model, tip="an InvertFill .safetensors file")
        self.default_model_action = self._action("&Default model", lambda: self.load_model(None, self.preferences.device))
        self.device_actions = {
            "cpu": self._action("&CPU", lambda: self.load_model(self._current_checkpoint(), "cpu")),
            "cuda": self._action("C&UDA", lambda: self.load_model(self._current_checkpoint(), "cuda")),
        }
        devices = QActionGroup(self)
        for action in self.device_actions.values():
            action.setCheckable(True)
            devices.addAction(action)
        self.device_actions["cuda"].setEnabled(torch.cuda.is_available())
        if not torch.cuda.is_available():
            self.device_actions["cuda"].setStatusTip("no usable CUDA device on this machine")
        self.finetune_action = self._action("&Fine-tune for my images…", self.open_finetune_wizard, tip="adapt the model to your own photos")
        self.shortcuts_action = self._action("&Keyboard shortcuts", self.show_shortcuts, keys.HelpContents)
        self.about_action = self._action("&About", self.show_about)
        self._need_engine = [
            self.batch_action, self.fill_action, self.variations_action, self.load_model_action, self.default_model_action,
            *self.device_actions.values(), self.finetune_action,
        ]
        self._change_image = [self.grow_action, self.shrink_action, self.invert_action, self.clear_action, self.load_mask_action]
        self._need_image = [
            self.save_action, self.save_as_action, self.grow_action, self.shrink_action, self.invert_action, self.clear_action,
            self.load_mask_action, self.save_mask_action, self.fill_action, self.variations_action,
        ]

    def _create_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addAction(self.open_action)
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file.addActions([self.save_action, self.save_as_action])
        file.addSeparator()
        file.addAction(self.batch_action)
        file.addSeparator()
        file.addAction(self.quit_action)
        edit = bar.addMenu("&Edit")
        edit.addActions([self.undo_action, self.redo_action])
        edit.addSeparator()
        edit.addActions(list(self.tool_actions.values()) + [self.smaller_action, self.bigger_action])
        edit.addSeparator()
        edit.addActions([self.grow_action, self.shrink_action, self.invert_action, self.clear_action, self.load_mask_action, self.save_mask_action])
        edit.addSeparator()
        edit.addAction(self.preferences_action)
        view = bar.addMenu("&View")
        view.addActions([self.fit_action, self.actual_size_action, self.zoom_in_action, self.zoom_out_action])
        fill = bar.addMenu("F&ill")
        fill.addActions([self.fill_action, self.variations_action, self.cancel_action])
        self.model_menu = bar.addMenu("&Model")
        self.model_menu.aboutToShow.connect(self._fill_model_menu)
        tools = bar.addMenu("&Tools")
        tools.addAction(self.finetune_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.shortcuts_action, self.about_action])

    def _create_toolbar(self) -> None:
        toolbar = self.addToolBar("Tools")
        toolbar.setObjectName("tools")
        toolbar.addActions([self.open_action, self.save_action])
        toolbar.addSeparator()
        toolbar.addActions(list(self.tool_actions.values()))
        self.brush_slider = QSlider(Qt.Orientation.Horizontal)
        self.brush_slider.setRange(*BRUSH_RANGE)
        self.brush_slider.setValue(self.canvas.brush_size)
        self.brush_slider.setMaximumWidth(160)
        self.brush_slider.setToolTip("Brush size on screen ([ and ]): it paints at the scale the image is seen at")
        self.brush_label = QLabel()
        self.brush_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.brush_label.setFixedWidth(self.brush_label.fontMetrics().horizontalAdvance(f"{BRUSH_RANGE[1]} px") + 6)
        toolbar.addWidget(self.brush_slider)
        toolbar.addWidget(self.brush_label)
        toolbar.addSeparator()
        toolbar.addActions([self.undo_action, self.redo_action])
        toolbar.addSeparator()
        toolbar.addActions([self.grow_action, self.shrink_action, self.invert_action, self.clear_action])
        toolbar.addSeparator()
        toolbar.addActions([self.fill_action, self.variations_action, self.cancel_action])
        for action in (self.fill_action, self.variations_action):
            toolbar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.variations_action.setIconText("Variations")
        self.compare_button = QToolButton()
        self.compare_button.setIcon(qtawesome.icon("fa5s.eye"))
        self.compare_button.setToolTip("Hold to show the original (or hold Tab)")
        toolbar.addWidget(self.compare_button)
        toolbar.addSeparator()
        toolbar.addActions([self.fit_action, self.actual_size_action])

    def _create_status_bar(self) -> None:
        status = self.statusBar()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setVisible(False)
        self.zoom_label, self.model_label, self.device_label = QLabel(), QLabel("Loading model…"), QLabel()
        for widget in (self.busy_bar, self.zoom_label, self.model_label, self.device_label):
            status.addPermanentWidget(widget)

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
        self.device_actions["cuda"].setEnabled(not busy and torch.cuda.is_available())
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

    # files

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
        return mask_edit.whole(mask)

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

    # mask edits and fills

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
        job = self.engine.fill(self.document.picture, hole, self.preferences.strategy, None, variations)
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
            context = thumbnail_region(region, self.document.height, self.document.width)
            thumbnails = [display_pixels(p)[context.slices] for p in result.pictures]
            chosen = dialogs.choose_variation(self, thumbnails, result.seed)
            if chosen is None:
                self.statusBar().showMessage("No variation chosen; the image is unchanged.", 5000)
                return
        self.undo_stack.push(FillEdit(self.document, region, result.pictures[chosen].pixels[region.slices].copy()))
        seeded = self.engine.inpainter is not None and not self.engine.inpainter.is_classic
        done = f"Filled with {result.method}, seed {result.seed}." if seeded else f"Filled with {result.method}."
        self.statusBar().showMessage(" ".join([done] + result.notes), 10000)

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

    # model and device

    def _current_checkpoint(self) -> Path | None:
        inpainter = self.engine.inpainter
        return None if inpainter is None or inpainter.checkpoint is None or self._is_default(inpainter) else inpainter.checkpoint

    @staticmethod
    def _is_default(inpainter: Inpainter) -> bool:
        from core.resources import default_model_path

        return inpainter.checkpoint == default_model_path()

    def load_model(self, checkpoint: Path | None, device: str, remember: bool = True) -> None:
        """Load a checkpoint (None: the embedded default) on a device in the worker; the status bar follows."""
        if self.engine.busy:
            return
        if device == "cuda" and not torch.cuda.is_available():
            device = "cpu"
        self._remember_model = remember
        self._requested = (checkpoint, device)
        self.model_label.setText("Loading model…")
        self.engine.load_model(checkpoint, device)

    def choose_model(self) -> None:
        path = dialogs.choose_file_to_open(self, "Load checkpoint", self.preferences.folder("model") or str(user_models_dir()), dialogs.MODEL_FILTER)
        if path:
            self.preferences.set_folder("model", Path(path).parent)
            self.load_model(Path(path), self.preferences.device)

    def _fill_model_menu(self) -> None:
        self.model_menu.clear()
        self.model_menu.addAction(self.default_model_action)
        current = self._current_checkpoint()
        for path in demo_models():
            self._add_model_choice(f"Demo: {path.stem}", path, current).setStatusTip(DEMO_MODEL_TIP)
        self.model_menu.addSeparator()
        for path in self.user_model_paths():
            self._add_model_choice(path.stem, path, current)
        self.model_menu.addAction(self.load_model_action)
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
        """Tools → Fine-tune: starts from the loaded model; the result can be loaded at the end."""
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
        self.model_label.setToolTip(inpainter.description)
        self.device_label.setText(device_summary(inpainter.device))
        self.device_actions[inpainter.device.type].setChecked(True)
        if self._remember_model:
            self.preferences.model = "" if inpainter.checkpoint is None or self._is_default(inpainter) else str(inpainter.checkpoint)
            self.preferences.device = self._requested[1]

    def _model_failed(self, message: str) -> None:
        dialogs.show_error(self, "Cannot load the model", message)
        if self.engine.inpainter is None and self._requested[0] is not None:
            self.load_model(None, "cpu", remember=False)
        else:
            self.model_label.setText(model_summary(self.engine.inpainter))

    # dialogs and closing

    def edit_preferences(self) -> None:
        PreferencesDialog(self.preferences, self).exec()

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self.actions(), self).exec()

    def show_about(self) -> None:
        from core import __version__

        dialogs.show_info(self, f"About {APP_NAME}", f"{APP_NAME} {__version__}\nImage inpainting with GAN inversion (InvertFill, ECCV 2022).")

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

