"""Generator forward time: fp32 vs half precision, reference vs fused ops (not a test).

    python benchmarks/generator_forward.py [--resolution 256] [--batch 1] [--runs 50] [--device auto]

Prints a markdown table of median / spread (interquartile range) over `runs` forwards after
warm-up, timed with CUDA events on a GPU and perf_counter on the CPU. On the CPU the fused
Triton path is not available and half precision means bfloat16.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.nn.config import GeneratorConfig  # noqa: E402
from core.nn.generator import Generator  # noqa: E402
from core.ops import backend  # noqa: E402


def time_forward(generator: Generator, ws: torch.Tensor, runs: int, warmup: int) -> list[float]:
    """Milliseconds per synthesis forward, one entry per run."""
    times = []
    with torch.no_grad():
        for i in range(warmup + runs):
            if ws.is_cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                generator.synthesis(ws, "const")
                end.record()
                torch.cuda.synchronize()
                elapsed = start.elapsed_time(end)
            else:
                t0 = time.perf_counter()
                generator.synthesis(ws, "const")
                elapsed = (time.perf_counter() - t0) * 1000
            if i >= warmup:
                times.append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--channel-base", type=int, default=16384)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else args.device.replace("auto", "cpu"))
    half = torch.float16 if device.type == "cuda" else torch.bfloat16
    torch.manual_seed(0)
    base = Generator(GeneratorConfig(resolution=args.resolution, channel_base=args.channel_base)).to(device).eval()
    ws = base.styles(torch.randn(args.batch, base.config.style_dim, device=device))
    rows = []
    reference = None
    for dtype in (torch.float32, half):
        generator = base.to(dtype)
        for path in ("reference", "fused"):
            if path == "fused" and not (device.type == "cuda" and backend.triton_available()):
                continue
            backend.force_reference = path == "reference"
            times = time_forward(generator, ws.to(dtype), args.runs, args.warmup)
            with torch.no_grad():
                image = generator.synthesis(ws.to(dtype), "const").float()
            reference = image if reference is None else reference
            quartiles = statistics.quantiles(times, n=4)
            rel = ((image - reference).norm() / reference.norm()).item()
            rows.append((str(dtype).removeprefix("torch."), path, statistics.median(times), quartiles[2] - quartiles[0], rel))
    backend.force_reference = False
    print(f"Generator synthesis, {args.resolution} px, channel_base {args.channel_base}, batch {args.batch}, {device}")
    print("| dtype | ops | median ms | IQR ms | images/s | rel. diff vs fp32 reference |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for dtype, path, median, iqr, rel in rows:
        print(f"| {dtype} | {path} | {median:.2f} | {iqr:.2f} | {args.batch * 1000 / median:.1f} | {rel:.2e} |")


if __name__ == "__main__":
    main()
