"""A fine-tune as a job for a separate process: settings in a JSON file, progress as JSON lines.

The app's wizard starts `main.py --finetune-job SPEC.json` (the frozen app: `InvertFill
--finetune-job SPEC.json`), reads one JSON object per stdout line, and cancels by writing
"cancel" to its stdin. Messages:

    {"type": "started", "total": T}                          T = steps × batch images
    {"type": "progress", "done": images, "total": T, "values": {"loss_total": …, "eta_s": …}}
    {"type": "preview", "path": PNG, "done": images}        the current model filling the held-out image
    {"type": "done", "checkpoint": FILE, "cancelled": bool, "done": images, "photos": P, "comparison": {…}}
    {"type": "error", "message": one line}                  then exit status 1

Progress comes after every training step. The run folder keeps only the newest snapshot while the
job runs; at the end the tuned model is at `output`, and the run folder keeps the resume state
only when the run was cancelled (nothing to resume otherwise): no snapshots pile up.
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
from .run_folder import RESUME_FILE, snapshots
from .stage2 import finetune_config, train_encoder

SNAPSHOT_SAMPLES = 2
"""Training images each snapshot fills for the run folder's grid (the preview is the held-out image)."""
COMPARED_HOLES = 6
"""Seeded holes in the held-out image tried for the before/after; the one the fine-tune changed most is shown."""
MAX_DIFFERENCE_GAIN = 32
"""The difference view magnifies |after − before| so that its largest values (99th percentile) show
near white, by a whole factor of at most this."""


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
    progress tick after every step (so the first shows as soon as one step is done)."""
    between = math.ceil(job.steps / (job.previews + 1))
    return dict(kimg=job.steps * job.batch / 1000, batch=job.batch, lr=job.lr, workers=job.workers,
                tick_kimg=job.batch / 1000, snapshot_ticks=between, samples=SNAPSHOT_SAMPLES)


def emit(message: dict) -> None:
    print(json.dumps(message), flush=True)


def preview_picture(path: str | Path, resolution: int) -> Picture:
    """The held-out image as a centre square at the model's resolution, RGB."""
    return Picture(square_crop(read_image(path).rgb8(), resolution, "center", np.random.default_rng(0)))


def preview_hole(job: FinetuneJob, resolution: int, number: int = 0) -> np.ndarray:
    """(R, R) bool: hole `number` of the held-out image, seeded: outpainting (a side, the
    number picks which) or a `hard` free-form mask. Hole 0 is every preview's."""
    if job.masks == "outpaint":
        hole = np.zeros((resolution, resolution), bool)
        hole[:, resolution * 3 // 4 :] = True
        return np.rot90(hole, -number).copy()
    return bucket_mask("hard", resolution, np.random.default_rng(number)).astype(bool)


def filled_preview(inpainter: Inpainter, job: FinetuneJob, number: int = 0) -> Picture:
    """The held-out image with hole `number` filled by `inpainter`."""
    picture = preview_picture(job.held_out, inpainter.resolution)
    return inpainter.fill(picture, preview_hole(job, inpainter.resolution, number), "full", seed=0).pictures[0]


def fill_preview(inpainter: Inpainter, job: FinetuneJob, out: Path) -> Path:
    """The held-out image with the preview hole filled by `inpainter`, written to `out`."""
    write_image(out, filled_preview(inpainter, job))
    return out


def difference_view(before: Picture, after: Picture) -> tuple[Picture, int]:
    """(|after − before| (H, W, 3) uint8 times the gain, the gain): black where the fine-tune
    changed nothing, the largest changes near white (difference_gain)."""
    change = np.abs(after.pixels.astype(np.int16) - before.pixels.astype(np.int16))
    gain = difference_gain(change)
    return Picture(np.clip(change * gain, 0, 255).astype(np.uint8)), gain


def difference_gain(change: np.ndarray) -> int:
    """The whole factor, 1 to MAX_DIFFERENCE_GAIN, that brings the 99th percentile of `change` (grey levels) near 255."""
    top = float(np.percentile(change, 99))
    return int(min(max(255 // max(top, 1.0), 1), MAX_DIFFERENCE_GAIN))


def before_and_after(job: FinetuneJob, previews: Path) -> dict[str, str | float]:
    """The held-out image with one of COMPARED_HOLES holes (the one whose fill changed most), filled
    by the base model and by the tuned one, and their magnified difference: PNG paths, `change`, the
    mean change in the hole in grey levels, and `gain`, the difference view's magnification."""
    base, tuned = Inpainter(job.model, "cpu"), Inpainter(job.output, "cpu")
    fills = [(filled_preview(base, job, n), filled_preview(tuned, job, n), preview_hole(job, base.resolution, n)) for n in range(COMPARED_HOLES)]
    changes = [np.abs(a.pixels.astype(np.int16) - b.pixels.astype(np.int16))[hole].mean() for b, a, hole in fills]
    best = int(np.argmax(changes))
    before, after, hole = fills[best]
    masked = preview_picture(job.held_out, base.resolution).pixels.copy()
    masked[hole] = 128
    difference, gain = difference_view(before, after)
    pictures = {"masked": Picture(masked), "before": before, "after": after, "difference": difference}
    for name, picture in pictures.items():
        write_image(previews / f"{name}.png", picture)
    return {**{name: str(previews / f"{name}.png") for name in pictures}, "change": float(changes[best]), "gain": gain}


def keep_only_resume_state(run_dir: Path, cancelled: bool) -> None:
    """Once the tuned model is saved as the job's output: remove the run's snapshots, and its
    resume state too unless the run was cancelled (then it can be continued)."""
    for snapshot in snapshots(run_dir):
        snapshot.unlink()
    if not cancelled:
        (run_dir / "checkpoints" / RESUME_FILE).unlink(missing_ok=True)


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
            written = snapshots(run_dir)
            if written and written[-1] not in seen:
                seen.add(written[-1])
                for older in written[:-1]:
                    older.unlink()
                if job.held_out:
                    path = fill_preview(Inpainter(written[-1], "cpu"), job, previews / f"preview-{progress.done:09d}.png")
                    emit({"type": "preview", "path": str(path), "done": progress.done})

        config = finetune_config(job.model, job.masks, **loop_settings(job))
        result = train_encoder(config, job.model, job.data, run_dir, finetune=True, domain=job.domain, device=job.device,
                               progress=report, cancel=cancel, exclude=frozenset(Path(p) for p in job.exclude))
        Path(job.output).parent.mkdir(parents=True, exist_ok=True)
        with checkpoint_write(job.output) as tmp:
            shutil.copyfile(result.checkpoint, tmp)
        keep_only_resume_state(run_dir, result.interrupted)
        comparison = before_and_after(job, previews) if job.held_out else {}
        emit({"type": "done", "checkpoint": job.output, "cancelled": result.interrupted, "done": result.images,
              "photos": result.photos, "comparison": comparison})
        return 0
    except InvertFillError as error:
        emit({"type": "error", "message": str(error)})
        return 1

