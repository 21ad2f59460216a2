"""The outer training loop shared by every stage: ticks, progress, logs, snapshots, cancel, Ctrl-C."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import torch

from core.engine.progress import Progress, ProgressCallback

from .run_folder import RunFolder


class Trainer(Protocol):
    """A stage's trainer: counts images seen and runs one step on a batch."""

    images: int

    def train_step(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step; returns the detached loss terms by name."""


def run_loop(
    trainer: Trainer,
    batches: Iterator[torch.Tensor],
    device: torch.device,
    total_images: int,
    tick_images: int,
    snapshot_ticks: int,
    run: RunFolder,
    snapshot: Callable[[], Path | None],
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    tick_values: Callable[[], dict[str, float]] = dict,
) -> tuple[bool, Path | None]:
    """Train until `total_images`, cancel or Ctrl-C; every tick report (on the main rank, so a
    data-parallel run reports once) and log the mean losses (plus `tick_values()`), every
    `snapshot_ticks` ticks and at the end call `snapshot`.

    Returns (interrupted, the last snapshot's path).
    """
    tick_images = max(tick_images, 1)
    ticks = trainer.images // tick_images
    next_tick = (ticks + 1) * tick_images
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    started, images_at_start = time.perf_counter(), trainer.images
    interrupted = False
    try:
        while trainer.images < total_images:
            if cancel is not None and cancel.is_set():
                interrupted = True
                break
            losses = trainer.train_step(next(batches).to(device, non_blocking=True))
            for name, value in losses.items():
                sums[name] = sums.get(name, 0.0) + value
                counts[name] = counts.get(name, 0) + 1
            if trainer.images < next_tick and trainer.images < total_images:
                continue
            ticks += 1
            next_tick += tick_images
            speed = (trainer.images - images_at_start) / max(time.perf_counter() - started, 1e-9)
            values = {f"loss_{name}": float(sums[name] / counts[name]) for name in sums}
            values.update(tick_values())
            values.update(kimg=trainer.images / 1000, images_per_s=speed, eta_s=(total_images - trainer.images) / max(speed, 1e-9))
            sums, counts = {}, {}
            scalars = {f"Loss/{k.removeprefix('loss_')}": v for k, v in values.items() if k.startswith("loss_")}
            scalars.update({f"Progress/{k}": v for k, v in values.items() if not k.startswith("loss_") and k != "eta_s"})
            run.log_scalars(trainer.images, scalars)
            if progress is not None and run.is_main:
                progress(Progress(trainer.images, total_images, f"tick {ticks}", values))
            if ticks % snapshot_ticks == 0 and trainer.images < total_images:
                snapshot()
    except KeyboardInterrupt:
        interrupted = True
    return interrupted, snapshot()
