"""Where bundled files live, both from source and in a frozen (PyInstaller) build."""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_MODEL = ("models", "default.safetensors")


def resource_path(*parts: str) -> Path:
    """A path under `resources/`: beside `core/` from source, in the bundle when frozen."""
    root = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[2]))
    return root.joinpath("resources", *parts)


def default_model_path() -> Path | None:
    """The embedded default InvertFill checkpoint, or None when the build has none."""
    path = resource_path(*DEFAULT_MODEL)
    return path if path.is_file() else None


def demo_models() -> list[Path]:
    """Bundled demonstration checkpoints (`resources/models/*.safetensors` other than the default), by name."""
    default = resource_path(*DEFAULT_MODEL)
    return sorted(p for p in default.parent.glob("*.safetensors") if p != default)
