"""Fill time of the engine on the CPU by runtime, and the CLI's peak memory (not a test).

    python benchmarks/fill_cpu.py [--runs 5] [--sizes 256x256,4000x3000] [--model CKPT]

Uses a 256-px InvertFill model of the default size (channel_base 16384, random weights: the speed
does not depend on training), or --model. For each image size it fills one picture with a hole of
about 10 % of its area with each runtime: torch fp32 (the reference) and bf16, OpenVINO f32 and
bf16 where the `openvino` package is installed. The runtimes take turns, so that they share the
machine's state; the table gives the median time after one warm-up, its ratio to torch fp32's, and
how far the composite strays from torch fp32's (max and mean 8-bit levels, PSNR). Then it runs the
whole CLI once per size in a subprocess to read its peak resident memory. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.engine.fill_methods import ModelFill  # noqa: E402
from core.engine.fill_strategy import fill_rgb8  # noqa: E402
from core.engine.model_runtime import TorchRunner  # noqa: E402
from core.engine.openvino_runner import openvino_installed, openvino_runner  # noqa: E402
from core.io.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from core.io.image_io import Picture, write_image  # noqa: E402
from core.nn.config import InvertFillConfig  # noqa: E402
from core.nn.invertfill import InvertFill  # noqa: E402

CPU = torch.device("cpu")


def test_picture(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random image (H, W, 3) uint8 and a centred hole (H, W) bool of about 10 % of its area."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (height // 16 + 1, width // 16 + 1, 3)).astype(np.uint8)
    pixels = np.kron(small, np.ones((16, 16, 1), np.uint8))[:height, :width]
    hole = np.zeros((height, width), bool)
    hole[int(height * 0.35) : int(height * 0.65), int(width * 0.33) : int(width * 0.67)] = True
    return np.ascontiguousarray(pixels), hole


def fills(checkpoint: Path, cache: Path) -> dict[str, ModelFill]:
    """One ModelFill per runtime, each with its own copy of the model."""
    def fresh() -> InvertFill:
        return load_checkpoint(checkpoint).part("invertfill").eval()

    runners = {"torch fp32": TorchRunner(fresh(), CPU, torch.float32), "torch bf16": TorchRunner(fresh(), CPU, torch.bfloat16)}
    models = {name: runner.model for name, runner in runners.items()}
    if openvino_installed():
        for precision in ("f32", "bf16"):
            model = fresh()
            runners[f"OpenVINO {precision}"] = openvino_runner(model, checkpoint, cache, precision)
            models[f"OpenVINO {precision}"] = model
    return {name: ModelFill(models[name], runner, name) for name, runner in runners.items()}


def peak_memory_of_cli(checkpoint: Path, pixels: np.ndarray, hole: np.ndarray, folder: Path) -> float:
    """Peak resident memory (MiB) of one `invertfill fill` process on this image (its default runtime)."""
    image, mask = folder / "image.png", folder / "mask.png"
    write_image(image, Picture(pixels))
    write_image(mask, Picture(np.where(hole[..., None], 255, 0).astype(np.uint8)))
    environment = {**os.environ, "INVERTFILL_USER_DATA": str(folder / "user-data")}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "fill", image, mask, "-o", folder / "out.png", "--model", checkpoint, "--device", "cpu"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
    )
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_maxrss / 1024


def difference(found: np.ndarray, expected: np.ndarray) -> tuple[int, float, float]:
    """Max and mean absolute difference in 8-bit levels, and PSNR (dB), of two uint8 images."""
    delta = np.abs(found.astype(np.int16) - expected.astype(np.int16))
    mse = float(np.mean(delta.astype(float) ** 2))
    return int(delta.max()), float(delta.mean()), math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="256x256,4000x3000", help="image sizes WxH, comma-separated")
    parser.add_argument("--model", type=Path, help="a checkpoint (default: a random 256-px model of the default size)")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True, help="also measure the CLI's peak memory")
    args = parser.parse_args()
    sizes = [tuple(int(side) for side in size.split("x")) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkpoint = args.model
        if checkpoint is None:
            checkpoint = folder / "model.safetensors"
            model = InvertFill(InvertFillConfig())
            model.reset_mean_latent()
            save_checkpoint(checkpoint, {"invertfill": model}, stage="benchmark")
        methods = fills(checkpoint, folder / "openvino")
        resolution = next(iter(methods.values())).resolution
        rows, memory = [], []
        for width, height in sizes:
            pixels, hole = test_picture(width, height)
            times: dict[str, list[float]] = {name: [] for name in methods}
            outputs: dict[str, np.ndarray] = {}
            for run in range(args.runs + 1):
                for name, method in methods.items():
                    start = time.perf_counter()
                    outputs[name] = fill_rgb8(method, pixels, hole, "detail", run, 0, None, None, [])
                    if run > 0:
                        times[name].append(time.perf_counter() - start)
            reference = statistics.median(times["torch fp32"])
            for name in methods:
                median = statistics.median(times[name])
                rows.append((f"{width}×{height}", name, median, median / reference, *difference(outputs[name], outputs["torch fp32"])))
            if args.memory:
                memory.append((f"{width}×{height}", peak_memory_of_cli(checkpoint, pixels, hole, folder)))
    threads = torch.get_num_threads()
    print(f"Fill with a {resolution}-px InvertFill model ({checkpoint.name}), strategy detail, 10 % hole, CPU, {threads} thread(s)")
    print("| image | runtime | median s | × torch fp32 | max diff (levels) | mean diff (levels) | PSNR vs torch fp32 (dB) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for image, name, median, ratio, largest, mean, psnr in rows:
        print(f"| {image} | {name} | {median:.3f} | {ratio:.2f} | {largest} | {mean:.3f} | {psnr:.1f} |")
    if memory:
        print("\n| image | peak memory of the CLI process (MiB) |\n| --- | ---: |")
        for image, peak in memory:
            print(f"| {image} | {peak:.0f} |")


if __name__ == "__main__":
    main()
