"""Where the app keeps what a user makes: settings, fine-tuned models, logs — never inside the bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_FOLDER = "InvertFill Studio"
OVERRIDE = "INVERTFILL_USER_DATA"


def user_data_dir() -> Path:
    """The platform's per-user data folder for the app (created); `$INVERTFILL_USER_DATA` overrides it."""
    if os.environ.get(OVERRIDE):
        root = Path(os.environ[OVERRIDE])
    elif sys.platform == "win32":
        root = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / APP_FOLDER
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Application Support" / APP_FOLDER
    else:
        root = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "invertfill-studio"
    root.mkdir(parents=True, exist_ok=True)
    return root


def user_models_dir() -> Path:
    """Fine-tuned checkpoints the user made; the model menu lists them."""
    folder = user_data_dir() / "models"
    folder.mkdir(exist_ok=True)
    return folder


def settings_file() -> Path:
    return user_data_dir() / "settings.ini"


def openvino_cache_dir() -> Path:
    """Models converted for OpenVINO (core.engine.openvino_runner), one folder per checkpoint and version."""
    return user_data_dir() / "openvino"
