"""Batch filling: pair images with masks by name, fill them all, report what was skipped and why."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InvertFillError
from core.io.image_io import IMAGE_SUFFIXES

from .choices import DEFAULT_STRATEGY
from .inpainter import Inpainter
from .progress import Progress, ProgressCallback

MASK_SUFFIX = "_mask"


@dataclass(frozen=True)
class BatchJob:
    image: Path
    mask: Path
    output: Path


@dataclass
class BatchReport:
    """What a batch did: files written, inputs skipped with the reason, notes, and whether it was cancelled."""

    filled: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cancelled: bool = False


def images_in(folder: Path) -> list[Path]:
    """The image files directly in `folder` (not below it), sorted; hidden files are left out."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _check_folder(folder: Path, what: str) -> None:
    if not folder.exists():
        raise InvertFillError(f"{what} {folder} does not exist")
    if not folder.is_dir():
        raise InvertFillError(f"{what} {folder} is not a folder")


def pair_images_with_masks(
    image_dir: str | Path,
    output_dir: str | Path,
    mask_dir: str | Path | None = None,
    mask_file: str | Path | None = None,
    output_suffix: str | None = None,
) -> tuple[list[BatchJob], list[tuple[Path, str]]]:
    """Jobs for every image in `image_dir`, and the images left out with the reason.

    The mask of `photo.jpg` is `photo.*` or `photo_mask.*` in `mask_dir` (default: `photo_mask.*`
    beside the image), or the single `mask_file` for every image. Outputs keep the image's name,
    with `output_suffix` (e.g. ".png", so that a JPEG's known pixels are not re-encoded) if given.
    """
    image_dir, output_dir = Path(image_dir), Path(output_dir)
    _check_folder(image_dir, "image folder")
    if mask_dir is not None and mask_file is not None:
        raise InvertFillError("give either a mask folder or a single mask file, not both")
    if mask_dir is not None:
        _check_folder(Path(mask_dir), "mask folder")
    if mask_file is not None and not Path(mask_file).is_file():
        raise InvertFillError(f"mask {mask_file} does not exist or is not a file")
    masks_by_stem: dict[str, Path] = {}
    if mask_file is None:
        for path in images_in(Path(mask_dir) if mask_dir is not None else image_dir):
            masks_by_stem.setdefault(path.stem, path)
    jobs, skipped = [], []
    for image in images_in(image_dir):
        if mask_dir is None and mask_file is None and image.stem.endswith(MASK_SUFFIX):
            continue
        candidates = [image.stem + MASK_SUFFIX] if mask_dir is None else [image.stem, image.stem + MASK_SUFFIX]
        mask = Path(mask_file) if mask_file is not None else next((masks_by_stem[c] for c in candidates if c in masks_by_stem), None)
        if mask is None:
            skipped.append((image, f"no mask named {' or '.join(c + '.*' for c in candidates)}"))
            continue
        jobs.append(BatchJob(image, mask, output_dir / (image.stem + output_suffix if output_suffix else image.name)))
    return jobs, skipped


def run_batch(
    inpainter: Inpainter,
    jobs: list[BatchJob],
    strategy: str = DEFAULT_STRATEGY,
    seed: int | None = None,
    overwrite: bool = False,
    quality: int = 95,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> BatchReport:
    """Fill every job; a bad file is skipped with its reason, never fatal. Stops early if cancelled."""
    report = BatchReport()
    for index, job in enumerate(jobs):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        try:
            result = inpainter.fill_file(job.image, job.mask, job.output, strategy, seed, overwrite=overwrite, quality=quality, cancel=cancel)
        except InvertFillError as error:
            report.skipped.append((job.image, str(error)))
        else:
            if result is None:
                report.cancelled = True
                break
            report.filled.append(job.output)
            report.notes.extend(f"{job.image.name}: {note}" for note in result.notes)
        if progress is not None:
            progress(Progress(index + 1, len(jobs), job.image.name))
    return report
