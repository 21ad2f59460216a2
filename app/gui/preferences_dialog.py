"""Edit → Preferences: how large images are filled, what runs the model, how many variations and how
different, JPEG quality."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QWidget

from .preferences import Preferences

STRATEGY_LABELS = {
    "detail": "Fill at the model's size, then add the photo's own fine detail (best)",
    "crop": "Fill a square around each hole at the model's size and scale it up (softer)",
    "resize": "Fill the whole image shrunk to the model's size and scale it up (softest)",
}

RUNTIME_LABELS = {
    "auto": "Automatic: OpenVINO on the CPU where it is installed, else PyTorch",
    "torch": "PyTorch",
    "openvino": "OpenVINO (CPU; converts a model once, on its first load)",
}


class PreferencesDialog(QDialog):
    def __init__(self, preferences: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.preferences = preferences
        self.strategy = QComboBox()
        for key, label in STRATEGY_LABELS.items():
            self.strategy.addItem(label, key)
        self.strategy.setCurrentIndex(list(STRATEGY_LABELS).index(preferences.strategy))
        self.runtime = QComboBox()
        for key, label in RUNTIME_LABELS.items():
            self.runtime.addItem(label, key)
        self.runtime.setCurrentIndex(list(RUNTIME_LABELS).index(preferences.runtime))
        self.runtime.setToolTip("What runs the model; a change reloads it")
        self.variations = QSpinBox()
        self.variations.setRange(2, 12)
        self.variations.setValue(preferences.variations)
        self.variation_strength = QSpinBox()
        self.variation_strength.setRange(0, 100)
        self.variation_strength.setSuffix(" %")
        self.variation_strength.setValue(round(preferences.variation_strength * 100))
        self.variation_strength.setToolTip(
            "How far each variation's style moves from the model's first fill toward a random one: "
            "0 % changes only fine noise; high values change colours and may stop matching the border"
        )
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(preferences.jpeg_quality)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Large images", self.strategy)
        form.addRow("Model runtime", self.runtime)
        form.addRow("Variations to offer", self.variations)
        form.addRow("How different variations are", self.variation_strength)
        form.addRow("JPEG / WebP quality", self.quality)
        form.addRow(buttons)

    def accept(self) -> None:
        self.preferences.strategy = self.strategy.currentData()
        self.preferences.runtime = self.runtime.currentData()
        self.preferences.variations = self.variations.value()
        self.preferences.variation_strength = self.variation_strength.value() / 100
        self.preferences.jpeg_quality = self.quality.value()
        super().accept()
