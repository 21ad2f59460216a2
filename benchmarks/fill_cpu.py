"""Fill time and peak memory of the engine on this machine (not a test).

    python benchmarks/fill_cpu.py [--runs 5] [--device cpu]

Uses a 256-px InvertFill model of the default size (channel_base 16384, random weights: the
speed does not depend on training). For each image size it times `Inpainter.fill` (median
after one warm-up) with a hole of about 10 % of the image, and runs the whole CLI once in a
subprocess to read its peak resident memory. Prints a markdown table.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.engine.inpainter import Inpainter  # noqa: E402
from core.io.checkpoint import save_checkpoint  # noqa: E402
from core.io.image_io import Picture, write_image  # noqa: E402
from core.nn.config import InvertFillConfig  # noqa: E402
from core.nn.invertfill import InvertFill  # noqa: E402

SIZES = [(256, 256), (512, 512), (4000, 3000)]


def test_picture(width: int, height: int) -> tuple[Picture, np.ndarray]:
    """A smooth random image and a centred hole of about 10 % of its area."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (height // 16 + 1, width // 16 + 1, 3)).astype(np.uint8)
    pixels = np.kron(small, np.ones((16, 16, 1), np.uint8))[:height, :width]
    hole = np.zeros((height, width), bool)
    hole[int(height * 0.35) : int(height * 0.65), int(width * 0.33) : int(width * 0.67)] = True
    return Picture(np.ascontiguousarray(pixels)), hole


def peak_memory_of_cli(checkpoint: Path, picture: Picture, hole: np.ndarray, device: str, folder: Path) -> float:
    """Peak resident memory (MiB) of one `invertfill fill` process on this image."""
    image, mask = folder / "image.png", folder / "mask.png"
    write_image(image, picture)
    write_image(mask, Picture(np.where(hole[..., None], 255, 0).astype(np.uint8)))
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "fill", image, mask, "-o", folder / "out.png", "--model", checkpoint, "--device", device],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkpoint = folder / "model.safetensors"
        model = InvertFill(InvertFillConfig())
        model.reset_mean_latent()
        save_checkpoint(checkpoint, {"invertfill": model}, stage="benchmark")
        inpainter = Inpainter(checkpoint, args.device)
        rows = []
        for width, height in SIZES:
            picture, hole = test_picture(width, height)
            times = []
            for run in range(args.runs + 1):
                start = time.perf_counter()
                inpainter.fill(picture, hole, "crop", seed=run)
                if run > 0:
                    times.append(time.perf_counter() - start)
            peak = peak_memory_of_cli(checkpoint, picture, hole, args.device, folder)
            rows.append((width, height, statistics.median(times), min(times), max(times), peak))
    print(f"Fill with a 256-px InvertFill model (46 M parameters), strategy crop, {args.device}, {os.cpu_count()} cores")
    print("| image | hole | median s | min s | max s | peak memory of the CLI process (MiB) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for width, height, median, low, high, peak in rows:
        print(f"| {width}×{height} | 10 % | {median:.2f} | {low:.2f} | {high:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
