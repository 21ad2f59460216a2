"""Starting the desktop app: `python main.py [IMAGE] [--model CKPT] [--device cpu|cuda]`."""

from __future__ import annotations

import argparse
import sys

from PySide6.QtWidgets import QApplication

from core import __version__

from .main_window import APP_NAME, MainWindow
from .preferences import Preferences


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description=f"{APP_NAME}: paint a mask over an image and fill it.")
    parser.add_argument("image", nargs="?", metavar="IMAGE", help="an image to open")
    parser.add_argument("--model", metavar="CKPT", help="InvertFill checkpoint (.safetensors); default: the embedded model")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to run the model (default: the saved choice)")
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    return parser


def run(argv: list[str] | None = None) -> int:
    """Show the main window and run the event loop; returns the exit status."""
    args = build_parser().parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    window = MainWindow(Preferences(), args.model, args.device)
    window.show()
    if args.image:
        window.open_image(args.image)
    return app.exec()
