"""The app's persistent preferences, kept with QSettings in the user-data folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from app.user_data import settings_file
from core.engine.choices import (
    DEFAULT_STRATEGY,
    DEVICE_CHOICES,
    METHOD_KEYS,
    MODEL,
    RUNTIMES,
    STRATEGIES,
    VARIATION_STRENGTH,
    default_runtime,
)

RECENT_LIMIT = 10
BRUSH_RANGE = (1, 500)


class Preferences:
    """Typed access to QSettings; every value has a default and is checked on reading."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.settings = settings or QSettings(str(settings_file()), QSettings.Format.IniFormat)

    def _int(self, key: str, default: int, low: int, high: int) -> int:
        try:
            value = int(self.settings.value(key, default))
        except (TypeError, ValueError):
            return default
        return min(max(value, low), high)

    def _choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = str(self.settings.value(key, default))
        return value if value in choices else default

    def _set(self, key: str, value: object) -> None:
        self.settings.setValue(key, value)
        self.settings.sync()

    @property
    def brush_size(self) -> int:
        return self._int("canvas/brush_size", 40, *BRUSH_RANGE)

    @brush_size.setter
    def brush_size(self, value: int) -> None:
        self._set("canvas/brush_size", int(value))

    @property
    def device(self) -> str:
        return self._choice("engine/device", "auto", DEVICE_CHOICES)

    @device.setter
    def device(self, value: str) -> None:
        self._set("engine/device", value)

    @property
    def runtime(self) -> str:
        """What runs the model on the CPU: "auto" (OpenVINO where installed), "torch" or "openvino"."""
        return self._choice("engine/runtime", default_runtime(), RUNTIMES)

    @runtime.setter
    def runtime(self, value: str) -> None:
        self._set("engine/runtime", value)

    @property
    def strategy(self) -> str:
        return self._choice("engine/strategy", DEFAULT_STRATEGY, STRATEGIES[:3])

    @strategy.setter
    def strategy(self, value: str) -> None:
        self._set("engine/strategy", value)

    @property
    def model(self) -> str:
        """The checkpoint to load at start; '' for the embedded default."""
        return str(self.settings.value("engine/model", ""))

    @model.setter
    def model(self, value: str) -> None:
        self._set("engine/model", value)

    @property
    def fill_method(self) -> str:
        """The fill method to start with: "invertfill" (the model above) or a classic fill's key."""
        return self._choice("engine/method", MODEL, METHOD_KEYS)

    @fill_method.setter
    def fill_method(self, value: str) -> None:
        self._set("engine/method", value)

    @property
    def variations(self) -> int:
        return self._int("fill/variations", 4, 2, 12)

    @variations.setter
    def variations(self, value: int) -> None:
        self._set("fill/variations", int(value))

    @property
    def variation_strength(self) -> float:
        """How far variations stray from the first fill, 0-1 (kept as a whole percentage)."""
        return self._int("fill/variation_strength", round(VARIATION_STRENGTH * 100), 0, 100) / 100

    @variation_strength.setter
    def variation_strength(self, value: float) -> None:
        self._set("fill/variation_strength", round(value * 100))

    @property
    def jpeg_quality(self) -> int:
        return self._int("files/jpeg_quality", 95, 1, 100)

    @jpeg_quality.setter
    def jpeg_quality(self, value: int) -> None:
        self._set("files/jpeg_quality", int(value))

    def folder(self, purpose: str) -> str:
        """The last folder used to `purpose` ("open", "save", "mask", "batch", "output", "model"), or ''."""
        return str(self.settings.value(f"folders/{purpose}", ""))

    def set_folder(self, purpose: str, path: str | Path) -> None:
        self._set(f"folders/{purpose}", str(path))

    @property
    def recent_files(self) -> list[str]:
        value = self.settings.value("files/recent", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [str(item) for item in items if item][:RECENT_LIMIT]

    def add_recent_file(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        self._set("files/recent", [path, *(p for p in self.recent_files if p != path)][:RECENT_LIMIT])

    def clear_recent_files(self) -> None:
        self._set("files/recent", [])

    @property
    def user_models(self) -> list[str]:
        """Checkpoints the fine-tune wizard saved outside the user-data models folder."""
        value = self.settings.value("engine/user_models", [])
        return [str(item) for item in ([value] if isinstance(value, str) else list(value or [])) if item]

    def add_user_model(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        self._set("engine/user_models", [path, *(p for p in self.user_models if p != path)])

    @property
    def geometry(self) -> QByteArray | None:
        value = self.settings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._set("window/geometry", value)
