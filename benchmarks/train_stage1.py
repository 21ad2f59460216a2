"""Stage-1 (StyleGAN2) training throughput (not a test).

    python benchmarks/train_stage1.py [--res 64] [--batch 16] [--channel-base 16384] [--steps 16] [--device auto]

Runs whole training steps (G and D, with lazy R1 every 16 and path length every 4 steps,
style mixing, EMA, adaptive augmentation at p = 0.2) on random images, after warm-up steps,
and prints a markdown table: images/s and seconds per thousand images (s/kimg), the unit
of StyleGAN2-ADA's published timings (12.5 s/kimg at 256 px, batch 16, one A100).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import DiscriminatorConfig, GeneratorConfig  # noqa: E402
from training.config import GanTrainConfig  # noqa: E402
from training.distributed import DistributedContext  # noqa: E402
from training.stage1 import Stage1Trainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--res", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--channel-base", type=int, default=16384)
    parser.add_argument("--steps", type=int, default=16, help="timed steps (a multiple of 16 covers every regularizer)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else args.device.replace("auto", "cpu"))
    config = GanTrainConfig(
        generator=GeneratorConfig(resolution=args.res, channel_base=args.channel_base),
        discriminator=DiscriminatorConfig(resolution=args.res, channel_base=args.channel_base),
        batch=args.batch,
    )
    trainer = Stage1Trainer(config, DistributedContext(0, 1, device))
    trainer.augment.p.fill_(0.2)
    real = torch.rand(args.batch, 3, args.res, args.res, device=device) * 2 - 1
    times = []
    for step in range(args.warmup + args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        trainer.train_step(real)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    per_image = sum(times) / (len(times) * args.batch)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {os.cpu_count()} cores"
    print(f"Stage-1 training step, {args.res} px, channel_base {args.channel_base}, batch {args.batch}, {name}")
    print("| images/s | s/kimg | median step s | slowest step s (regularized) |")
    print("| ---: | ---: | ---: | ---: |")
    print(f"| {1 / per_image:.1f} | {per_image * 1000:.1f} | {statistics.median(times):.3f} | {max(times):.3f} |")


if __name__ == "__main__":
    main()
