"""InvertFill Studio: `python main.py [IMAGE] [--model CKPT] [--device cpu|cuda]` starts the desktop app.

`--selftest` checks the install (or a frozen build) headlessly and exits 0 when it works.
"""

import time

STARTED = time.perf_counter()

import multiprocessing  # noqa: E402
import sys  # noqa: E402

if __name__ == "__main__":
    # Training subprocesses (the fine-tune wizard, data loader workers) re-enter a frozen build here.
    multiprocessing.freeze_support()
    from app.gui.application import run

    sys.exit(run(started=STARTED))
