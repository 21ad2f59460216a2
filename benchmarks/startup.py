"""Start-up time of the command line (not a test): each command in a fresh process, as a user runs it.

    taskset -c 1 python benchmarks/startup.py [--runs 10] [--model CKPT]

Times `invertfill --help`, `invertfill info CKPT` (default: the faces demo) and a one-image classic
fill (Telea, a 512×512 picture with a 10 % hole), beside `python -c pass` (the interpreter alone)
and `python -c "import torch"` (what the first three no longer pay). The commands take turns, so
that they share the machine's state; the table gives the median and the fastest wall time over
--runs runs of each. Runs the installed `invertfill` script beside this interpreter (else
`python -m app.cli`). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "models" / "faces64-demo.safetensors"


def invertfill() -> list[str]:
    """The command that starts the command line: the installed script, else the module."""
    script = Path(sys.executable).with_name("invertfill")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "app.cli"]


def write_picture(folder: Path) -> tuple[Path, Path]:
    """A smooth 512×512 picture and a mask with a centred square hole of 10 % of its area."""
    rng = np.random.default_rng(0)
    pixels = cv2.resize(rng.integers(0, 256, (8, 8, 3)).astype(np.uint8), (512, 512), interpolation=cv2.INTER_CUBIC)
    mask = np.zeros((512, 512), np.uint8)
    side = round(512 * 0.1**0.5)
    top = (512 - side) // 2
    mask[top : top + side, top : top + side] = 255
    cv2.imwrite(str(folder / "picture.png"), pixels)
    cv2.imwrite(str(folder / "mask.png"), mask)
    return folder / "picture.png", folder / "mask.png"


def seconds(command: list[str]) -> float:
    """Wall time of one run of `command` from the repository; a failed run stops the benchmark."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command (default 10)")
    parser.add_argument("--model", type=Path, default=DEMO, help="the checkpoint `info` describes (default: the faces demo)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        picture, mask = write_picture(Path(folder))
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import torch'": [sys.executable, "-c", "import torch"],
            "invertfill --help": [*invertfill(), "--help"],
            f"invertfill info {args.model.name}": [*invertfill(), "info", str(args.model)],
            "invertfill fill --method telea (512², 10 % hole)": [*invertfill(), "fill", str(picture), str(mask), "-o",
                                                                 str(Path(folder) / "filled.png"), "--method", "telea"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                times[name].append(seconds(command))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"Start-up of `{' '.join(invertfill())}`, {args.runs} runs each in turn, on {cores} core(s)")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("(PYTHONDONTWRITEBYTECODE is set: the project's own modules are compiled anew in every process)")
    print("\n| command | median s | fastest s |\n| --- | ---: | ---: |")
    for name, runs in times.items():
        print(f"| {name} | {statistics.median(runs):.3f} | {min(runs):.3f} |")


if __name__ == "__main__":
    main()
