"""How long a domain fine-tune takes on this machine: a short timing run and a model of the whole job.

The timing run loads the base model and builds its trainer, times a training step at two batch
sizes (a step costs a fixed part, such as the soft mean latent's update, plus a part per image),
writes a snapshot and its resume state, loads it back as the previews do, and fills one hole with
it. The job's time is then its parts: start, set-up, the training steps, the snapshots (each
fills a few training images for the run's grid), the held-out previews (each loads a snapshot
and fills), and the before/after of the finished job (training/finetune_job.py).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.engine.device import resolve_device
from core.engine.inpainter import Inpainter
from core.io.checkpoint import save_checkpoint
from core.io.image_io import Picture

from .config import EncoderTrainConfig
from .distributed import DistributedContext
from .finetune_job import COMPARED_HOLES
from .stage2 import Stage2Trainer, build_model

PROCESS_START_S = 3.0
"""Starting the job's process (Python, torch and the project's imports), measured on a 2-core CPU."""
TIMED_BATCHES = (1, 4)
"""The two batch sizes a step is timed at, which separate its fixed cost from its cost per image."""


@dataclass(frozen=True)
class FinetuneTiming:
    """Seconds. setup_s: reading the base model and building its trainer; a training step takes
    step_s + batch · image_s on the training device; snapshot_s: writing a snapshot and its resume
    state; load_s: loading a checkpoint for a fill, fill_s: one fill at the model's resolution
    (both on the CPU, where the job fills)."""

    setup_s: float
    step_s: float
    image_s: float
    fill_s: float
    snapshot_s: float
    load_s: float

    def steps_seconds(self, steps: int, batch: int) -> float:
        """`steps` training steps of `batch` images."""
        return steps * (self.step_s + batch * self.image_s)

    def training_seconds(self, steps: int, batch: int, snapshots: int, samples: int) -> float:
        """`train_encoder` for `steps` steps of `batch` with `snapshots` snapshots of `samples` fills each."""
        return self.setup_s + self.steps_seconds(steps, batch) + snapshots * (self.snapshot_s + samples * self.fill_s)

    def job_seconds(self, steps: int, batch: int, previews: int, samples: int) -> float:
        """The wizard's job: start, training with a snapshot per preview and one at the end, each
        preview loaded and filled, then the base and the tuned model loaded and compared on
        COMPARED_HOLES holes."""
        return (PROCESS_START_S + self.training_seconds(steps, batch, previews + 1, samples)
                + previews * (self.load_s + self.fill_s) + 2 * (self.load_s + COMPARED_HOLES * self.fill_s))

    def steps_within(self, seconds: float, batch: int, previews: int, samples: int) -> int:
        """The most steps of `batch` images whose job takes at most `seconds` (at least 1)."""
        spare = seconds - self.job_seconds(0, batch, previews, samples)
        return max(1, math.floor(spare / self.steps_seconds(1, batch)))


def _seconds(run: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def time_finetune(config: EncoderTrainConfig, model_path: str | Path, device: str = "auto") -> FinetuneTiming:
    """A short timing run of fine-tuning `model_path` with `config` on `device` (a few seconds):
    building the trainer checks everything the run needs (model, loss backbone, device)."""
    ctx = DistributedContext(0, 1, resolve_device(device))
    start = time.perf_counter()
    model, discriminator, card = build_model(config, Path(model_path), finetune=True, seed=config.seed)
    trainer = Stage2Trainer(config, ctx, model, discriminator, finetune=True)
    setup_s = time.perf_counter() - start
    r = model.config.resolution
    images = (torch.rand(max(TIMED_BATCHES), 3, r, r, generator=torch.Generator().manual_seed(config.seed)) * 2 - 1).to(ctx.device)
    for batch in TIMED_BATCHES:  # the first step at a batch size builds its kernels (oneDNN, autograd): not timed
        trainer.train_step(images[:batch])
    small, large = (_seconds(lambda b=b: trainer.train_step(images[:b]), ctx.device) for b in TIMED_BATCHES)
    image_s = max(large - small, 0.0) / (TIMED_BATCHES[1] - TIMED_BATCHES[0])
    step_s = max(small - TIMED_BATCHES[0] * image_s, 0.0)
    with tempfile.TemporaryDirectory() as folder:
        snapshot = Path(folder) / "snapshot.safetensors"
        parts = {"invertfill": trainer.model, **({"discriminator": discriminator} if discriminator is not None else {})}

        def write_snapshot() -> None:
            save_checkpoint(snapshot, parts, stage="finetune", card=card)
            torch.save(trainer.state_dict(), Path(folder) / "resume.pt")

        snapshot_s = _seconds(write_snapshot, ctx.device)
        start = time.perf_counter()
        inpainter = Inpainter(snapshot, "cpu")
        load_s = time.perf_counter() - start
        picture = Picture(np.full((r, r, 3), 128, np.uint8))
        hole = np.zeros((r, r), bool)
        hole[r // 4 : 3 * r // 4, r // 4 : 3 * r // 4] = True
        start = time.perf_counter()
        inpainter.fill(picture, hole, "full", seed=0)
        fill_s = time.perf_counter() - start
    return FinetuneTiming(setup_s, step_s, image_s, fill_s, snapshot_s, load_s)
