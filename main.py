"""InvertFill Studio: `python main.py [IMAGE] [--model CKPT] [--device cpu|cuda]` starts the desktop app."""

import sys

from app.gui.application import run

if __name__ == "__main__":
    sys.exit(run())
