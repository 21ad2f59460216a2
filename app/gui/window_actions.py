"""The main window's actions, menus, toolbar and status bar (built once, at start)."""

from __future__ import annotations

from collections.abc import Callable

import qtawesome
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QLabel, QProgressBar, QSlider, QToolButton

from core.masks import editing

from .preferences import BRUSH_RANGE


class WindowActions:
    """Builds the QActions and where they show; a mixin of MainWindow, whose state they act on."""

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
        self.grow_action = self._action("&Grow mask", lambda: self.edit_mask("Grow mask", lambda m: editing.grow(m, self._mask_step())), "G", "fa5s.expand", f"by {step}")
        self.shrink_action = self._action("S&hrink mask", lambda: self.edit_mask("Shrink mask", lambda m: editing.shrink(m, self._mask_step())), "Shift+G", "fa5s.compress", f"by {step}")
        self.invert_action = self._action("&Invert mask", lambda: self.edit_mask("Invert mask", editing.invert), "Ctrl+I", "fa5s.adjust")
        self.clear_action = self._action("&Clear mask", lambda: self.edit_mask("Clear mask", editing.clear), "Delete", "fa5s.times-circle")
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
        self.default_model_action.setCheckable(True)
        self.device_actions = {
            "cpu": self._action("&CPU", lambda: self.load_model(self._current_checkpoint(), "cpu", method=self._current_method())),
            "cuda": self._action("C&UDA", lambda: self.load_model(self._current_checkpoint(), "cuda", method=self._current_method())),
        }
        devices = QActionGroup(self)
        for action in self.device_actions.values():
            action.setCheckable(True)
            devices.addAction(action)
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
        self.model_menu.setToolTipsVisible(True)
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
