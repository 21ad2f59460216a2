"""The fine-tune wizard's Quick preset on this machine: its estimate against the real job (not a test).

    python benchmarks/finetune_quick.py [--model CKPT] [--data FOLDER] [--device cpu] [--preset quick] [--seconds S]

Fine-tunes --model, or else builds a 256-px InvertFill model of the default size with its
discriminator (random weights: the speed does not depend on training); times it as the wizard does (`time_finetune`, the wall time
it takes is what the user waits for the estimate), plans the preset as the wizard does, then runs
the job the wizard would start (`main.py --finetune-job`) and timestamps its messages. Prints a
markdown table: the estimate's own time, the estimated and real job time and their ratio, and
when the first progress line and the first held-out preview arrived.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.gui.finetune_setup import PRESETS, PREVIEWS  # noqa: E402
from core.io.checkpoint import save_checkpoint  # noqa: E402
from core.io.image_io import Picture, write_image  # noqa: E402
from core.nn.config import DiscriminatorConfig, InvertFillConfig  # noqa: E402
from core.nn.discriminator import Discriminator  # noqa: E402
from core.nn.invertfill import InvertFill  # noqa: E402
from training.finetune_job import SNAPSHOT_SAMPLES, FinetuneJob  # noqa: E402
from training.finetune_timing import time_finetune  # noqa: E402
from training.folder_scan import scan_image_folder  # noqa: E402
from training.stage2 import finetune_config  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "scenes" / "paris_streetview256"


def default_size_base(path: Path) -> Path:
    model = InvertFill(InvertFillConfig())
    model.reset_mean_latent()
    save_checkpoint(path, {"invertfill": model, "discriminator": Discriminator(DiscriminatorConfig())}, stage="encoder", domain="base")
    return path


def generated_photos(folder: Path, count: int = 60) -> Path:
    """Smooth random colour fields at 320×256, when no photo folder is at hand."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        coarse = rng.integers(0, 256, (4, 5, 3)).astype(np.float32)
        pixels = np.kron(coarse, np.ones((64, 64, 1), np.float32)).astype(np.uint8)
        write_image(folder / f"photo{i:03d}.png", Picture(pixels))
    return folder


def run_job(job: FinetuneJob, spec: Path) -> dict[str, float]:
    """Seconds from the process start to its first progress, first preview and end."""
    job.save(spec)
    started = time.perf_counter()
    times: dict[str, float] = {}
    with subprocess.Popen([sys.executable, str(ROOT / "main.py"), "--finetune-job", str(spec)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as process:
        for line in process.stdout:
            message = json.loads(line)
            times.setdefault(message["type"], time.perf_counter() - started)
            if message["type"] == "error":
                raise SystemExit(f"the job failed: {message['message']}")
        process.stdin.close()
    times["end"] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="the model to fine-tune (default: a 256-px model of the default size)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a folder of photos (default: Paris StreetView, else generated)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="quick", choices=sorted(PRESETS))
    parser.add_argument("--seconds", type=float, help="the preset's batch in this time budget instead of the preset's")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = args.model or default_size_base(tmp / "base.safetensors")
        data = args.data if args.data.is_dir() else generated_photos(tmp / "photos")
        scan = scan_image_folder(data)
        held_out = scan.usable[-1].path
        preset = PRESETS[args.preset]
        clock = time.perf_counter()
        timing = time_finetune(finetune_config(base, batch=PRESETS["standard"].batch), base, args.device)
        estimate_wall = time.perf_counter() - clock
        steps = min(preset.max_steps, timing.steps_within(args.seconds or preset.seconds, preset.batch, PREVIEWS, SNAPSHOT_SAMPLES))
        estimated = timing.job_seconds(steps, preset.batch, PREVIEWS, SNAPSHOT_SAMPLES)
        job = FinetuneJob(model=str(base), data=str(data), output=str(tmp / "tuned.safetensors"), run_dir=str(tmp / "run"),
                          domain="bench", device=args.device, steps=steps, batch=preset.batch, workers=0, previews=PREVIEWS,
                          held_out=str(held_out), exclude=(str(held_out), *(str(p) for p, _ in scan.duplicates)))
        times = run_job(job, tmp / "job.json")
    print(f"{args.preset} preset on {args.device}: {steps} steps × {preset.batch} images, {len(scan.usable)} photos in {data}")
    print(f"timing run: setup {timing.setup_s:.2f} s, steps of {timing.step_s:.3f} s + {timing.image_s:.3f} s per image, "
          f"snapshot {timing.snapshot_s:.2f} s, load {timing.load_s:.2f} s, fill {timing.fill_s:.3f} s\n")
    print("| estimate shown after | estimated job | real job | real / estimated | first progress | first preview |")
    print("|---|---|---|---|---|---|")
    print(f"| {estimate_wall:.1f} s | {estimated:.0f} s | {times['end']:.0f} s | {times['end'] / estimated:.2f} "
          f"| {times.get('progress', float('nan')):.0f} s | {times.get('preview', float('nan')):.0f} s |")


if __name__ == "__main__":
    main()
