"""Starting the desktop app: `python main.py [IMAGE] [--model CKPT] [--device cpu|cuda]`."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.logs import install_logging
from app.selftest import run_selftest
from core import __version__
from core.engine.choices import DEVICE_CHOICES

from .main_window import APP_NAME, MainWindow
from .preferences import Preferences


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description=f"{APP_NAME}: paint a mask over an image and fill it.")
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="an image to open")
    parser.add_argument("--model", metavar="CKPT", help="InvertFill checkpoint (.safetensors); default: the embedded model")
    parser.add_argument("--device", choices=DEVICE_CHOICES, help="where to run the model (default: the saved choice)")
    parser.add_argument("--selftest", action="store_true", help="check the install headlessly (imports, model, fill, window) and exit")
    parser.add_argument("--finetune-job", metavar="SPEC", help=argparse.SUPPRESS)
    parser.add_argument("--screenshot", metavar="PNG", help=argparse.SUPPRESS)
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    return parser


def run(argv: list[str] | None = None, started: float | None = None) -> int:
    """Show the main window and run the event loop (or the self-test); returns the exit status.

    started: time.perf_counter() when the process began, for the self-test's start-up time.
    """
    args = build_parser().parse_args(argv)
    if args.finetune_job:
        from training.finetune_job import run_job

        return run_job(args.finetune_job)
    log_path = install_logging()
    logging.getLogger(__name__).info("%s %s started; this log is %s", APP_NAME, __version__, log_path)
    if args.selftest:
        return run_selftest(args.model, time.perf_counter() if started is None else started)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    window = MainWindow(Preferences(), args.model, args.device)
    window.show()
    if args.image:
        window.open_image(args.image)
    if args.screenshot:
        screenshot_when_started(window, args.screenshot)
    return app.exec()


def screenshot_when_started(window: MainWindow, path: str) -> None:
    """Save the window as PNG `path` once the engine has answered its start-up request, then quit:
    how tests (and docs) see the app exactly as `main.py IMAGE` starts it."""

    def shoot() -> None:
        if window.engine.busy:
            QTimer.singleShot(50, shoot)
            return
        window.grab().save(path)
        QApplication.quit()

    QTimer.singleShot(0, shoot)
