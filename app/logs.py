"""The app's log: warnings and unexpected errors go to a file in the user-data folder (and stderr).

A frozen windowed build has no console, so the file is where a crash leaves its traceback.
"""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

from .user_data import user_data_dir

LOG_NAME = "invertfill.log"


def log_file() -> Path:
    folder = user_data_dir() / "logs"
    folder.mkdir(exist_ok=True)
    return folder / LOG_NAME


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    logging.getLogger("invertfill").critical("uncaught exception", exc_info=(kind, error, trace))


def install_logging() -> Path:
    """Log INFO and above to the user-data log file and stderr; uncaught exceptions are logged too."""
    path = log_file()
    handlers: list[logging.Handler] = [RotatingFileHandler(path, maxBytes=1_000_000, backupCount=2, encoding="utf-8")]
    if sys.stderr is not None:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True)
    sys.excepthook = _log_uncaught
    return path
