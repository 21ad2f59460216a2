"""Training throughput of stage 1 and stage 2, optionally of several code trees side by side (not a test).

    python benchmarks/train_speed.py                         # this tree, the faces64 recipe's settings
    python benchmarks/train_speed.py --code OLD_TREE --code .  # before/after, alternating in one run
    python benchmarks/train_speed.py --stage1-config C.json --stage2-config C.json --steps 32

Each measurement runs in a fresh process that imports the code of one tree (`--code`, a checkout
of this project) and times whole training steps on random images after warm-up: stage 1 (G and D
with their lazy regularizers, style mixing, EMA, augmentation at p = 0.2) and stage 2 (encoder,
pre-modulation and RGB branch with the loss, discriminator backbone). Trees alternate within each
repeat so that they share the machine's state; the table gives the median images/s over repeats
and the ratio to the first tree. On a GPU the steps are synchronised before the clock stops.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
RECIPE = HERE / "training" / "recipes" / "faces64"


def measure(stage: int, stage1_config: dict, stage2_config: dict, steps: int, device_name: str) -> float:
    """Images/s of `steps` training steps of `stage`, with the code on sys.path."""
    import torch

    sys.path.insert(1, str(HERE / "benchmarks"))
    from code_trees import import_module

    from training.config import EncoderTrainConfig, GanTrainConfig
    from training.distributed import DistributedContext
    from training.stage1 import Stage1Trainer
    from training.stage2 import Stage2Trainer

    device = torch.device(device_name)
    ctx = DistributedContext(0, 1, device)
    gan = GanTrainConfig.from_dict(stage1_config)
    stage1 = Stage1Trainer(gan, ctx)
    if stage == 1:
        stage1.augment.p.fill_(0.2)
        trainer, batch = stage1, gan.batch
    else:
        encoder = EncoderTrainConfig.from_dict(stage2_config)
        model = import_module("core.nn.invertfill").InvertFill(encoder.model_config(gan.generator))
        model.reset_mean_latent()
        trainer, batch = Stage2Trainer(encoder, ctx, model, stage1.discriminator, finetune=False), encoder.batch
    r = gan.resolution
    images = torch.rand(batch, 3, r, r, device=device) * 2 - 1
    for _ in range(2):
        trainer.train_step(images)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(images)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def run_worker(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(args.code[0]).resolve()))
    configs = [json.loads(Path(path).read_text()) for path in (args.stage1_config, args.stage2_config)]
    print(json.dumps({"images_per_s": measure(args.stage, *configs, args.steps, args.device)}))


def run_compare(args: argparse.Namespace) -> None:
    trees = [str(Path(code).resolve()) for code in args.code or [HERE]]
    results: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.repeats):
        for stage in (1, 2):
            for tree in trees:
                command = [sys.executable, __file__, "--worker", "--code", tree, "--stage", str(stage), "--steps", str(args.steps),
                           "--stage1-config", args.stage1_config, "--stage2-config", args.stage2_config, "--device", args.device]
                out = subprocess.run(command, capture_output=True, text=True, cwd=tree)
                if out.returncode != 0:
                    sys.exit(f"train_speed: stage {stage} failed in {tree}:\n{out.stderr.strip()}")
                results.setdefault((tree, stage), []).append(json.loads(out.stdout.splitlines()[-1])["images_per_s"])
    settings = {name: json.loads(Path(path).read_text()) for name, path in (("stage 1", args.stage1_config), ("stage 2", args.stage2_config))}
    print(f"Training throughput, {args.device} ({os.cpu_count()} cores), {args.steps} steps x {args.repeats} repeats, median images/s")
    for name, config in settings.items():
        print(f"{name} settings: {json.dumps(config, separators=(',', ':'))}")
    print("| code | stage 1 images/s | vs first | stage 2 images/s | vs first |")
    print("| --- | ---: | ---: | ---: | ---: |")
    first = {stage: statistics.median(results[(trees[0], stage)]) for stage in (1, 2)}
    for tree in trees:
        cells = []
        for stage in (1, 2):
            speed = statistics.median(results[(tree, stage)])
            cells += [f"{speed:.1f}", f"{speed / first[stage]:.2f}x"]
        print(f"| {tree} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", action="append", metavar="DIR", help="a checkout of this project to time (repeatable; default: this one)")
    parser.add_argument("--stage1-config", default=str(RECIPE / "stage1.json"), metavar="FILE")
    parser.add_argument("--stage2-config", default=str(RECIPE / "stage2.json"), metavar="FILE")
    parser.add_argument("--steps", type=int, default=16, help="timed steps per measurement (16 covers every regularizer)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stage", type=int, choices=[1, 2], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
    else:
        run_compare(args)


if __name__ == "__main__":
    main()
