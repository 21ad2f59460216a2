"""How long a domain fine-tune takes on this machine: a short timing run and a model of the whole job.

The timing run loads the base model, takes one warm-up and one timed training step and one timed
fill; the job's time is then its parts: start, set-up, training images, snapshots (each saves the
model and fills a few preview images) and the held-out previews (each reloads a snapshot and
fills), then the before/after fills of the finished job (training/finetune_job.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from core.engine.device import resolve_device

from .config import EncoderTrainConfig
from .distributed import DistributedContext
from .stage2 import Stage2Trainer, build_model

PROCESS_START_S = 3.0
"""Starting the job's process (Python, torch and the project's imports), measured on a 2-core CPU."""


@dataclass(frozen=True)
class FinetuneTiming:
    """Seconds on one device. setup_s: reading the base model and building its trainer (writing a
    snapshot or reloading one for a preview costs about as much); image_s: one training image;
    fill_s: one fill at the model's resolution."""

    setup_s: float
    image_s: float
    fill_s: float

    def training_seconds(self, images: int, snapshots: int, samples: int) -> float:
        """`train_encoder` on `images` images with `snapshots` snapshots of `samples` preview fills each."""
        return self.setup_s + images * self.image_s + snapshots * (self.setup_s + samples * self.fill_s)

    def job_seconds(self, steps: int, batch: int, previews: int, samples: int) -> float:
        """The wizard's job: start, training with a snapshot per preview and one at the end, each
        preview reloaded and filled, then the base and the tuned model each loaded and filled once."""
        reload_and_fill = self.setup_s + self.fill_s
        return (PROCESS_START_S + self.training_seconds(steps * batch, previews + 1, samples)
                + (previews + 2) * reload_and_fill)

    def steps_within(self, seconds: float, batch: int, previews: int, samples: int) -> int:
        """The most steps of `batch` images whose job takes at most `seconds` (at least 1)."""
        spare = seconds - self.job_seconds(0, batch, previews, samples)
        return max(1, math.floor(spare / (batch * self.image_s)))


def _seconds(run: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def time_finetune(config: EncoderTrainConfig, model_path: str | Path, device: str = "auto") -> FinetuneTiming:
    """A short timing run of fine-tuning `model_path` with `config` on `device` (a few seconds).

    On the CPU a step's cost grows in proportion to its batch, so one image is timed; a GPU is
    timed at `config.batch`, where it works at the speed the job will see.
    """
    ctx = DistributedContext(0, 1, resolve_device(device))
    start = time.perf_counter()
    model, discriminator = build_model(config, Path(model_path), finetune=True, seed=config.seed)
    trainer = Stage2Trainer(config, ctx, model, discriminator, finetune=True)
    setup_s = time.perf_counter() - start
    batch = config.batch if ctx.device.type == "cuda" else 1
    r = model.config.resolution
    images = (torch.rand(batch, 3, r, r, generator=torch.Generator().manual_seed(config.seed)) * 2 - 1).to(ctx.device)
    trainer.train_step(images)
    image_s = _seconds(lambda: trainer.train_step(images), ctx.device) / batch
    mask = trainer.batch_masks(1)
    with torch.no_grad():
        fill_s = _seconds(lambda: trainer.model(images[:1] * (1 - mask), mask, "const"), ctx.device)
    return FinetuneTiming(setup_s, image_s, fill_s)
