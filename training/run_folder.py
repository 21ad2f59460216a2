"""A training run's folder: config, TensorBoard logs, sample grids, checkpoints, resume state.

    RUN_DIR/config.json                  the run's settings
    RUN_DIR/log/                         TensorBoard event files
    RUN_DIR/samples/NAME.png             image grids
    RUN_DIR/checkpoints/network-IMAGES.safetensors  models the engine loads (named by images seen)
    RUN_DIR/checkpoints/resume.pt        optimizer, step and model state (read with weights_only=True)

Every file is written atomically; only the main rank writes. A run that fails before its first
checkpoint leaves no folder behind that it created (`opened_run_folder`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from core.errors import InvertFillError
from core.io.atomic_write import atomic_write
from core.io.file_kind import FileKind, file_kind
from core.io.image_io import Picture, write_image

RESUME_FILE = "resume.pt"


def image_grid(images: Tensor, columns: int | None = None) -> np.ndarray:
    """(N, 3, H, W) float in [-1, 1] -> one (rows·H, columns·W, 3) uint8 image."""
    n, _, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    pixels = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    grid = torch.zeros(3, rows * h, columns * w, dtype=torch.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        grid[:, r * h : (r + 1) * h, c * w : (c + 1) * w] = pixels[i]
    return grid.permute(1, 2, 0).numpy()


class RunFolder:
    """The files of one run; `is_main=False` (other ranks) makes every write a no-op."""

    def __init__(self, root: str | os.PathLike[str], is_main: bool = True) -> None:
        self.root = Path(root)
        self.is_main = is_main
        self._writer = None
        if is_main:
            if self.root.exists() and not self.root.is_dir():
                raise InvertFillError(f"run folder {self.root} is a file")
            for sub in ("checkpoints", "samples", "log"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def save_config(self, config: dict[str, Any]) -> None:
        if self.is_main:
            with atomic_write(self.root / "config.json") as tmp:
                tmp.write_text(json.dumps(config, indent=2))

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        """Add scalars to TensorBoard under their names (e.g. "Loss/G")."""
        if not self.is_main:
            return
        writer = self._tensorboard()
        for name, value in values.items():
            writer.add_scalar(name, value, step)
        writer.flush()

    def save_grid(self, name: str, images: Tensor, step: int, columns: int | None = None) -> Path | None:
        """Write (N, 3, H, W) images in [-1, 1] as samples/NAME.png (`columns` wide) and to TensorBoard."""
        if not self.is_main:
            return None
        grid = image_grid(images, columns)
        path = self.root / "samples" / f"{name}.png"
        write_image(path, Picture(grid))
        self._tensorboard().add_image(name.rstrip("0123456789-_") or name, grid, step, dataformats="HWC")
        return path

    def save_resume_state(self, state: dict[str, Any]) -> None:
        if self.is_main:
            with atomic_write(self.checkpoints / RESUME_FILE) as tmp:
                torch.save(state, tmp)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _tensorboard(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.root / "log"))
        return self._writer


def snapshots(root: str | os.PathLike[str]) -> list[Path]:
    """The network checkpoints of the run folder `root`, oldest first."""
    return sorted((Path(root) / "checkpoints").glob("network-*.safetensors"))


def discard_untrained(root: str | os.PathLike[str]) -> bool:
    """Remove the run folder `root` if it holds no network checkpoint (a run that failed before
    its first); True if it did."""
    root = Path(root)
    if not root.is_dir() or snapshots(root):
        return False
    shutil.rmtree(root)
    return True


@contextmanager
def opened_run_folder(root: str | os.PathLike[str], is_main: bool = True) -> Iterator[RunFolder]:
    """A RunFolder for the length of a run; closed at the end, and removed again if the run
    fails before its first checkpoint in a folder that it created."""
    created = is_main and not Path(root).exists()
    run = RunFolder(root, is_main)
    try:
        yield run
    except BaseException:
        run.close()
        if created:
            discard_untrained(root)
        raise
    run.close()


def load_resume_state(path: str | os.PathLike[str], device: torch.device) -> dict[str, Any]:
    """A resume state from a run folder or a resume file; never runs code from the file."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / RESUME_FILE
    if not path.is_file():
        raise InvertFillError(f"no resume state at {path}")
    if file_kind(path) is FileKind.SAFETENSORS:
        raise InvertFillError(
            f"{path.name} is a .safetensors model file, not a resume state: "
            f"resume from the run folder or its checkpoints/{RESUME_FILE}"
        )
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as error:
        raise InvertFillError(f"{path} is not a readable resume state: {str(error).splitlines()[0]}") from None
