"""Time of one crop-strategy fill of a 4000×3000 photo with four holes, for one or several code
trees side by side (not a test).

    python benchmarks/crop_fill.py                               # this tree
    python benchmarks/crop_fill.py --code OLD_TREE --code .      # before/after, alternating in one run
    python benchmarks/crop_fill.py --code . --code .:4            # the model given 4 windows per pass

A default-size 256-px InvertFill model (random weights: the speed does not depend on training)
fills four 400×300 holes near the corners, so the crop strategy plans four windows. Each
measurement runs in a fresh process that imports one tree (`--code`, a checkout of this project);
`DIR:N` sets the model's windows per forward pass to N (trees since the fill registry). Trees
alternate within each repeat. The table gives the median seconds of `Inpainter.fill` after
one warm-up fill, and the ratio to the first tree.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
HOLES = ((300, 400), (300, 3200), (2400, 400), (2400, 3200))
"""(top, left) of the four 300-row, 400-column holes."""


def measure(runs: int, device: str, windows_per_pass: int | None) -> float:
    """Median seconds of `runs` fills, with the tree under test first on sys.path."""
    import numpy as np
    import torch

    sys.path.insert(1, str(HERE.parent))
    from code_trees import import_module

    save_checkpoint = import_module("core.io.checkpoint").save_checkpoint
    Inpainter = import_module("core.engine.inpainter").Inpainter
    Picture = import_module("core.io.image_io").Picture
    config_module, model_module = import_module("core.nn.config"), import_module("core.nn.invertfill")

    torch.manual_seed(0)
    model = model_module.InvertFill(config_module.InvertFillConfig())
    model.reset_mean_latent()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"
        save_checkpoint(path, {"invertfill": model}, stage="encoder")
        inpainter = Inpainter(path, device)
    if windows_per_pass is not None:
        inpainter.method.windows_per_pass = windows_per_pass
    rng = np.random.default_rng(0)
    picture = Picture(rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8))
    hole = np.zeros((3000, 4000), bool)
    for top, left in HOLES:
        hole[top : top + 300, left : left + 400] = True
    inpainter.fill(picture, hole, "crop", seed=0)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        inpainter.fill(picture, hole, "crop", seed=0)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def split_code(code: str) -> tuple[str, int | None]:
    """"DIR" or "DIR:N" -> (the tree's absolute path, N or None)."""
    folder, _, per_pass = code.partition(":")
    return str(Path(folder).resolve()), int(per_pass) if per_pass else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", action="append", metavar="DIR[:N]", help="a checkout of this project to time, N windows per pass (repeatable; default: this one)")
    parser.add_argument("--runs", type=int, default=2, help="timed fills per measurement")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tree, per_pass = split_code(args.code[0])
        sys.path.insert(0, tree)
        print(json.dumps({"seconds": measure(args.runs, args.device, per_pass)}))
        return
    trees = args.code or [str(HERE.parents[1])]
    results: dict[str, list[float]] = {tree: [] for tree in trees}
    for _ in range(args.repeats):
        for tree in trees:
            command = [sys.executable, str(HERE), "--worker", "--code", tree, "--runs", str(args.runs), "--device", args.device]
            out = subprocess.run(command, capture_output=True, text=True, cwd=split_code(tree)[0])
            if out.returncode != 0:
                sys.exit(f"crop_fill: the measurement failed in {tree}:\n{out.stderr.strip()}")
            results[tree].append(json.loads(out.stdout.splitlines()[-1])["seconds"])
    print(f"Crop fill of a 4000×3000 photo with 4 holes, 256-px model, {args.device} ({os.cpu_count()} cores), "
          f"median of {args.runs} fills x {args.repeats} repeats")
    print("| code | seconds per fill | vs first |")
    print("| --- | ---: | ---: |")
    first = statistics.median(results[trees[0]])
    for tree in trees:
        seconds = statistics.median(results[tree])
        print(f"| {tree} | {seconds:.2f} | {seconds / first:.2f}x |")


if __name__ == "__main__":
    main()
