"""A fine-tune as a job for a separate process: settings in a JSON file, progress as JSON lines.

The app's wizard starts `main.py --finetune-job SPEC.json` (the frozen app: `InvertFill
--finetune-job SPEC.json`), reads one JSON object per stdout line, and cancels by writing
"cancel" to its stdin. Messages:

    {"type": "started", "total": T}                          T = steps × batch images
    {"type": "progress", "done": images, "total": T, "values": {"loss_total": …, "eta_s": …}}
    {"type": "preview", "path": PNG, "done": images}        the current model filling the held-out image
    {"type": "done", "checkpoint": FILE, "cancelled": bool, "done": images, "comparison": {…}}
    {"type": "error", "message": one line}                  then exit status 1
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.engine.inpainter import Inpainter
from core.engine.progress import Progress
from core.errors import InvertFillError
from core.io.atomic_write import atomic_write
from core.io.checkpoint import checkpoint_write
from core.io.image_io import Picture, read_image, write_image
from core.masks.generation import bucket_mask
from core.nn.config import Serializable

from .data import square_crop
from .stage2 import finetune_config, train_encoder

MAX_TICK_STEPS = 10
SNAPSHOT_SAMPLES = 2
"""Training images each snapshot fills for the run folder's grid (the preview is the held-out image)."""


@dataclass(frozen=True)
class FinetuneJob(Serializable):
    """model: the base checkpoint; output: where the tuned checkpoint goes; run_dir: logs and snapshots."""

    model: str
    data: str
    output: str
    run_dir: str
    domain: str
    masks: str = "free-form"
    device: str = "auto"
    steps: int = 300
    batch: int = 8
    lr: float = 1e-4
    workers: int = 2
    previews: int = 4
    held_out: str = ""
    exclude: tuple[str, ...] = ()

    def save(self, path: str | Path) -> None:
        with atomic_write(Path(path)) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> FinetuneJob:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as error:
            raise InvertFillError(f"cannot read the fine-tune job {path}: {error}") from None


def loop_settings(job: FinetuneJob) -> dict:
    """The job as training settings: `previews` snapshots spread evenly over the steps, and a
    progress tick at least every `MAX_TICK_STEPS` steps and five times between snapshots."""
    between = math.ceil(job.steps / (job.previews + 1))
    tick = max(1, min(MAX_TICK_STEPS, between // 5))
    return dict(kimg=job.steps * job.batch / 1000, batch=job.batch, lr=job.lr, workers=job.workers,
                tick_kimg=tick * job.batch / 1000, snapshot_ticks=math.ceil(between / tick), samples=SNAPSHOT_SAMPLES)


def emit(message: dict) -> None:
    print(json.dumps(message), flush=True)


def preview_picture(path: str | Path, resolution: int) -> Picture:
    """The held-out image as a centre square at the model's resolution, RGB."""
    return Picture(square_crop(read_image(path).rgb8(), resolution, "center", np.random.default_rng(0)))


def preview_hole(job: FinetuneJob, resolution: int) -> np.ndarray:
    """The same hole for every preview: outpainting or a `hard` free-form mask, seeded."""
    rng = np.random.default_rng(0)
    if job.masks == "outpaint":
        hole = np.zeros((resolution, resolution), bool)
        hole[:, resolution * 3 // 4 :] = True
        return hole
    return bucket_mask("hard", resolution, rng).astype(bool)


def fill_preview(inpainter: Inpainter, job: FinetuneJob, out: Path) -> Path:
    """The held-out image with its preview hole filled by `inpainter`, written to `out`."""
    picture = preview_picture(job.held_out, inpainter.resolution)
    filled = inpainter.fill(picture, preview_hole(job, inpainter.resolution), "full", seed=0)
    write_image(out, filled.pictures[0])
    return out


def masked_preview(job: FinetuneJob, resolution: int, out: Path) -> Path:
    """The held-out image with its preview hole shown in gray."""
    pixels = preview_picture(job.held_out, resolution).pixels.copy()
    pixels[preview_hole(job, resolution)] = 128
    write_image(out, Picture(pixels))
    return out


def before_and_after(job: FinetuneJob, previews: Path) -> dict[str, str]:
    """The held-out image with its hole, filled by the base model and by the tuned one: PNG paths."""
    base = Inpainter(job.model, "cpu")
    return {
        "masked": str(masked_preview(job, base.resolution, previews / "masked.png")),
        "before": str(fill_preview(base, job, previews / "before.png")),
        "after": str(fill_preview(Inpainter(job.output, "cpu"), job, previews / "after.png")),
    }


def watch_for_cancel(cancel: threading.Event) -> None:
    """Set `cancel` when the parent writes "cancel" or closes our stdin."""
    for line in sys.stdin:
        if line.strip() == "cancel":
            break
    cancel.set()


def run_job(spec: str | Path) -> int:
    """The body of the fine-tune process; returns its exit status."""
    cancel = threading.Event()
    threading.Thread(target=watch_for_cancel, args=(cancel,), daemon=True).start()
    try:
        job = FinetuneJob.load(spec)
        run_dir = Path(job.run_dir)
        previews = run_dir / "previews"
        previews.mkdir(parents=True, exist_ok=True)
        total = job.steps * job.batch
        emit({"type": "started", "total": total})
        seen: set[Path] = set()

        def report(progress: Progress) -> None:
            emit({"type": "progress", "done": progress.done, "total": progress.total, "values": dict(progress.values)})
            snapshots = sorted((run_dir / "checkpoints").glob("network-*.safetensors"))
            if job.held_out and snapshots and snapshots[-1] not in seen:
                seen.add(snapshots[-1])
                path = fill_preview(Inpainter(snapshots[-1], "cpu"), job, previews / f"preview-{progress.done:09d}.png")
                emit({"type": "preview", "path": str(path), "done": progress.done})

        config = finetune_config(job.model, job.masks, **loop_settings(job))
        result = train_encoder(config, job.model, job.data, run_dir, finetune=True, domain=job.domain, device=job.device,
                               progress=report, cancel=cancel, exclude=frozenset(Path(p) for p in job.exclude))
        Path(job.output).parent.mkdir(parents=True, exist_ok=True)
        with checkpoint_write(job.output) as tmp:
            shutil.copyfile(result.checkpoint, tmp)
        comparison = before_and_after(job, previews) if job.held_out else {}
        emit({"type": "done", "checkpoint": job.output, "cancelled": result.interrupted, "done": result.images, "comparison": comparison})
        return 0
    except InvertFillError as error:
        emit({"type": "error", "message": str(error)})
        return 1

