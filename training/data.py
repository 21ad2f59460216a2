"""Training images: a folder of pictures as a resumable, shardable stream of square crops.

Stage 1 (StyleGAN2) and stage 2 (encoder) read the same stream. An item is addressed by its
**stream position** p = 0, 1, 2, … (unbounded): p lies in epoch p // len, which visits the
images in an order drawn from (seed, epoch), and the crop and flip of p are drawn from
(seed, p). So the stream is a pure function of the seed: a run resumes exactly by restarting
at the number of images consumed, and ranks share it by taking every world_size-th position.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from core.errors import InvertFillError
from core.io.image_io import IMAGE_SUFFIXES, read_image
from core.wording import counted

CROPS = ("center", "random")
FORMATS = "PNG, JPEG, WebP, BMP, TIFF"
PREFETCH_BATCHES_PER_WORKER = 4
DECODED_CACHE_BYTES = 2**30
"""Decoded images are kept in memory (per process) until they fill this many bytes."""


def image_files(root: Path) -> list[Path]:
    """Image files under `root` at any depth, sorted; hidden files and folders are left out."""
    return sorted(
        path
        for path in root.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
        and path.is_file()
    )


def unreadable_reason(path: Path) -> str | None:
    """None when `path` decodes as an image, else why not in one line (without the path)."""
    try:
        read_image(path)
    except InvertFillError as error:
        return str(error).removeprefix(f"image {path} ")
    return None


def square_crop(pixels: np.ndarray, resolution: int, crop: str, rng: np.random.Generator, zoom: float = 1.0) -> np.ndarray:
    """(H, W, 3) uint8 -> (R, R, 3) uint8: shorter side resized to R, then a center or random square.

    With `zoom` > 1 a random crop first resizes the shorter side to R·s, log s uniform in [0, log zoom]
    (as many windows per octave of scale): a square of a 512-px photo at R = 256 and zoom 2 spans
    between its whole shorter side and half of it.
    """
    height, width = pixels.shape[:2]
    scale = resolution / min(height, width)
    if crop == "random" and zoom > 1:
        scale *= zoom ** rng.uniform(0, 1)
    size = (max(resolution, round(width * scale)), max(resolution, round(height * scale)))
    if scale != 1:
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    slack_y, slack_x = pixels.shape[0] - resolution, pixels.shape[1] - resolution
    if crop == "center":
        top, left = slack_y // 2, slack_x // 2
    else:
        top, left = int(rng.integers(0, slack_y + 1)), int(rng.integers(0, slack_x + 1))
    return pixels[top : top + resolution, left : left + resolution]


def to_tensor(pixels: np.ndarray) -> Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32) / 127.5 - 1)


class ImageFolderDataset(Dataset[Tensor]):
    """The images under a folder, as (3, R, R) float32 crops in [-1, 1] indexed by stream position.

    Random crops with `zoom` > 1 take squares of random scale (see `square_crop`).
    With `verify`, every file is decoded once here and the unreadable ones are dropped and listed
    in `skipped` as (path, reason); without it, an unreadable file raises when its turn comes.
    Decoded images stay in memory up to DECODED_CACHE_BYTES, so a small folder is decoded once
    per process rather than once per epoch.
    `len()` is the number of usable images (one epoch); positions beyond it continue the stream.
    """

    def __init__(
        self,
        root: str | Path,
        resolution: int,
        crop: str = "random",
        xflip: bool = True,
        seed: int = 0,
        verify: bool = True,
        exclude: frozenset[Path] = frozenset(),
        zoom: float = 1.0,
    ) -> None:
        root = Path(root)
        if crop not in CROPS:
            raise InvertFillError(f"crop must be 'center' or 'random', got {crop!r}")
        if zoom < 1:
            raise InvertFillError(f"zoom must be 1 or more, got {zoom}")
        if resolution < 1:
            raise InvertFillError(f"resolution must be a positive number of pixels, got {resolution}")
        if seed < 0:
            raise InvertFillError(f"seed must be 0 or more, got {seed}")
        if not root.exists():
            raise InvertFillError(f"image folder {root} does not exist")
        if not root.is_dir():
            raise InvertFillError(f"image folder {root} is not a folder")
        held_out = {path.resolve() for path in exclude}
        candidates = [path for path in image_files(root) if path.resolve() not in held_out]
        if not candidates:
            raise InvertFillError(f"no image files ({FORMATS}) in {root}")
        reasons = [None] * len(candidates)
        if verify:
            with ThreadPoolExecutor() as pool:
                reasons = list(pool.map(unreadable_reason, candidates))
        self.root = root
        self.resolution = resolution
        self.crop = crop
        self.zoom = zoom
        self.xflip = xflip
        self.seed = seed
        self.files = [path for path, reason in zip(candidates, reasons) if reason is None]
        self.skipped = [(path, reason) for path, reason in zip(candidates, reasons) if reason is not None]
        self._epoch_order: tuple[int, np.ndarray] | None = None
        self._decoded: dict[int, np.ndarray] = {}
        self._decoded_bytes = 0
        if not self.files:
            count = len(self.skipped)
            path, reason = self.skipped[0]
            raise InvertFillError(
                f"no usable image in {root}: {counted(count, 'file')} skipped "
                f"(e.g. {path.relative_to(root)}: {reason})"
            )

    def __len__(self) -> int:
        return len(self.files)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The permutation of image indices that `epoch` visits; the last one is cached."""
        if self._epoch_order is None or self._epoch_order[0] != epoch:
            self._epoch_order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.files)))
        return self._epoch_order[1]

    def image_index(self, position: int) -> int:
        """The index into `files` of the image at stream `position`."""
        epoch, offset = divmod(position, len(self.files))
        return int(self.epoch_order(epoch)[offset])

    def __getitem__(self, position: int) -> Tensor:
        """Stream position (0, 1, 2, …) -> (3, R, R) float32 in [-1, 1]."""
        assert position >= 0, position
        pixels = self._decode(self.image_index(position))
        rng = np.random.default_rng([self.seed, position, 1])
        pixels = square_crop(pixels, self.resolution, self.crop, rng, self.zoom)
        if self.xflip and rng.random() < 0.5:
            pixels = pixels[:, ::-1]
        return to_tensor(pixels)


    def _decode(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB of files[index], from the in-memory cache when it is there."""
        pixels = self._decoded.get(index)
        if pixels is None:
            pixels = read_image(self.files[index]).rgb8()
            if self._decoded_bytes + pixels.nbytes <= DECODED_CACHE_BYTES:
                self._decoded[index] = pixels
                self._decoded_bytes += pixels.nbytes
        return pixels


class StreamSampler(Sampler[int]):
    """The endless positions of one rank: start + rank, start + rank + world_size, …"""

    def __init__(self, start: int = 0, rank: int = 0, world_size: int = 1) -> None:
        assert start >= 0 and world_size >= 1 and 0 <= rank < world_size, (start, rank, world_size)
        self.start = start
        self.rank = rank
        self.world_size = world_size

    def __iter__(self) -> Iterator[int]:
        return itertools.count(self.start + self.rank, self.world_size)


def single_threaded_opencv(worker_id: int) -> None:
    """DataLoader worker setup: one OpenCV thread per worker process, the workers are the parallelism."""
    cv2.setNumThreads(1)


def make_loader(
    dataset: Dataset[Tensor],
    batch_size: int,
    start: int = 0,
    rank: int = 0,
    world_size: int = 1,
    workers: int = 0,
    device: torch.device | None = None,
) -> Iterator[Tensor]:
    """Endless batches (N, 3, R, R) of one rank, from stream position `start` on.

    Batch b holds positions start + rank + world_size · (b · batch_size + j), j < batch_size, so
    each global step of world_size · batch_size images takes consecutive positions, and a run
    resumes exactly with start = images consumed so far.
    """
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=StreamSampler(start, rank, world_size),
        num_workers=workers,
        pin_memory=device is not None and device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=PREFETCH_BATCHES_PER_WORKER if workers > 0 else None,
        worker_init_fn=single_threaded_opencv if workers > 0 else None,
        # Workers forked from a busy process can inherit a held lock of its thread pools and hang;
        # a fork server forks them from a clean process instead.
        multiprocessing_context="forkserver" if workers > 0 else None,
        # A private generator: starting the loader leaves the caller's torch RNG untouched.
        generator=torch.Generator().manual_seed(0),
    )
    return iter(loader)
