"""Training throughput of stage 1 and stage 2, optionally of several code trees side by side (not a test).

    python benchmarks/train_speed.py                         # this tree, the faces64 recipe's settings, eager and compiled
    python benchmarks/train_speed.py --code OLD_TREE --code . --compile off  # before/after, alternating in one run
    python benchmarks/train_speed.py --stage1-config C.json --stage2-config C.json --steps 32
    python benchmarks/train_speed.py --resolution 128 --stages 2   # stage 2 alone, at 128 px

Each measurement runs in a fresh process that imports the code of one tree (`--code`, a checkout
of this project) and times whole training steps on random images after warm-up: stage 1 (G and D
with their lazy regularizers, style mixing, EMA, augmentation at p = 0.2) and stage 2 (encoder,
pre-modulation and RGB branch with the loss, discriminator backbone). `--compile` times each tree
eagerly, compiled (the configs' `compile` setting, training.compiled) or both. Variants alternate
within each repeat so that they share the machine's state; the table gives the median images/s
over repeats, the ratio to the first variant, and the median warm-up time (the first two steps,
which include compiling). On a GPU the steps are synchronised before the clock stops.
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


def measure(stage: int, stage1_config: dict, stage2_config: dict, steps: int, device_name: str) -> tuple[float, float]:
    """(images/s of `steps` training steps of `stage`, seconds of the two warm-up steps), with the code on sys.path."""
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
    start = time.perf_counter()
    for _ in range(2):
        trainer.train_step(images)
    if device.type == "cuda":
        torch.cuda.synchronize()
    warm_up = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(images)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start), warm_up


def settings(args: argparse.Namespace, compile: bool | None) -> tuple[dict, dict]:
    """The stage-1 and stage-2 configs to time: the files', at `--resolution` if given, with `compile` set unless None."""
    stage1, stage2 = (json.loads(Path(path).read_text()) for path in (args.stage1_config, args.stage2_config))
    if args.resolution is not None:
        for network in ("generator", "discriminator"):
            stage1[network] = {**stage1.get(network, {}), "resolution": args.resolution}
    if compile is not None:
        stage1, stage2 = {**stage1, "compile": compile}, {**stage2, "compile": compile}
    return stage1, stage2


def run_worker(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(args.code[0]).resolve()))
    compile = {"on": True, "off": False, "default": None}[args.compile]
    speed, warm_up = measure(args.stage, *settings(args, compile), args.steps, args.device)
    print(json.dumps({"images_per_s": speed, "warm_up_s": warm_up}))


VARIANTS = {"both": ("off", "on"), "on": ("on",), "off": ("off",), "default": ("default",)}
"""--compile -> the compile settings timed per tree; "default" leaves the configs' own (for trees without the setting)."""


def run_compare(args: argparse.Namespace) -> None:
    trees = [str(Path(code).resolve()) for code in args.code or [HERE]]
    variants = [(tree, compile) for tree in trees for compile in VARIANTS[args.compile]]
    results: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    for _ in range(args.repeats):
        for stage in args.stages:
            for tree, compile in variants:
                command = [sys.executable, __file__, "--worker", "--code", tree, "--stage", str(stage), "--steps", str(args.steps),
                           "--stage1-config", args.stage1_config, "--stage2-config", args.stage2_config, "--device", args.device,
                           "--compile", compile] + (["--resolution", str(args.resolution)] if args.resolution is not None else [])
                out = subprocess.run(command, capture_output=True, text=True, cwd=tree)
                if out.returncode != 0:
                    sys.exit(f"train_speed: stage {stage} (compile {compile}) failed in {tree}:\n{out.stderr.strip()}")
                row = json.loads(out.stdout.splitlines()[-1])
                results.setdefault((tree, compile, stage), []).append((row["images_per_s"], row["warm_up_s"]))
    stage1, stage2 = settings(args, None)
    print(f"Training throughput, {args.device} ({os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
          f"{args.steps} steps x {args.repeats} repeats, median images/s and warm-up seconds")
    for name, config in (("stage 1", stage1), ("stage 2", stage2)):
        print(f"{name} settings: {json.dumps(config, separators=(',', ':'))}")
    print("| code | compile | " + " | ".join(f"stage {s} images/s | vs first | stage {s} warm-up s" for s in args.stages) + " |")
    print("| --- | --- |" + " ---: | ---: | ---: |" * len(args.stages))
    first = {stage: statistics.median(speed for speed, _ in results[(*variants[0], stage)]) for stage in args.stages}
    for tree, compile in variants:
        cells = []
        for stage in args.stages:
            speed = statistics.median(speed for speed, _ in results[(tree, compile, stage)])
            warm_up = statistics.median(warm_up for _, warm_up in results[(tree, compile, stage)])
            cells += [f"{speed:.1f}", f"{speed / first[stage]:.2f}x", f"{warm_up:.0f}"]
        print(f"| {tree} | {compile} | " + " | ".join(cells) + " |")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", action="append", metavar="DIR", help="a checkout of this project to time (repeatable; default: this one)")
    parser.add_argument("--stage1-config", default=str(RECIPE / "stage1.json"), metavar="FILE")
    parser.add_argument("--stage2-config", default=str(RECIPE / "stage2.json"), metavar="FILE")
    parser.add_argument("--steps", type=int, default=16, help="timed steps per measurement (16 covers every regularizer)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--compile", default="both", choices=list(VARIANTS),
                        help="time each tree eager (off), compiled (on), both, or with its configs' default")
    parser.add_argument("--resolution", type=int, help="the stage-1 config's resolution replaced by this one (e.g. 128)")
    parser.add_argument("--stages", type=int, nargs="+", choices=[1, 2], default=[1, 2], help="the stages to time")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stage", type=int, choices=[1, 2], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
    else:
        run_compare(args)


if __name__ == "__main__":
    main()
