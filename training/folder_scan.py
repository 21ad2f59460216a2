"""Checking a folder of a user's images before a fine-tune: how many, what sizes, what is wrong."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InvertFillError
from core.io.image_io import read_image
from core.wording import counted

from .data import image_files

MINIMUM_IMAGES = 4
RECOMMENDED_IMAGES = 100


@dataclass(frozen=True)
class ImageInfo:
    path: Path
    width: int
    height: int
    digest: str


@dataclass
class FolderScan:
    """usable: readable, distinct images (sorted by path); unreadable and duplicates with the reason."""

    folder: Path
    usable: list[ImageInfo] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    duplicates: list[tuple[Path, Path]] = field(default_factory=list)
    small: list[ImageInfo] = field(default_factory=list)

    @property
    def is_enough(self) -> bool:
        """Whether a fine-tune can start (at least MINIMUM_IMAGES distinct readable images)."""
        return len(self.usable) >= MINIMUM_IMAGES

    def verdict(self) -> str:
        """One paragraph for the user: enough or not, and why."""
        count = len(self.usable)
        if count == 0:
            return f"No usable image in {self.folder.name}: add PNG, JPEG, WebP, BMP or TIFF photos."
        if not self.is_enough:
            return f"Only {counted(count, 'usable image')}: a fine-tune needs at least {MINIMUM_IMAGES}."
        if count < RECOMMENDED_IMAGES:
            return f"{count} usable images: enough to start, but under ~{RECOMMENDED_IMAGES} the model may copy them rather than learn the domain."
        return f"{count} usable images: a good amount."

    def size_summary(self) -> str:
        """The usable images' shorter sides: one size, or the range and median."""
        if not self.usable:
            return ""
        sides = sorted(min(info.width, info.height) for info in self.usable)
        if sides[0] == sides[-1]:
            return f"shorter side {sides[0]} px"
        return f"shorter side {sides[0]}–{sides[-1]} px (median {sides[len(sides) // 2]})"


def _read(path: Path) -> ImageInfo | str:
    try:
        picture = read_image(path)
    except InvertFillError as error:
        return str(error).removeprefix(f"image {path} ")
    return ImageInfo(path, picture.width, picture.height, hashlib.sha1(picture.pixels.tobytes()).hexdigest())


def scan_image_folder(folder: str | Path, resolution: int = 256, cancel: threading.Event | None = None) -> FolderScan | None:
    """Read every image under `folder` (as training does: any depth, hidden files skipped).

    Images with identical pixels count once; images whose shorter side is under `resolution`
    are usable but listed as `small` (they are upscaled in training). None if `cancel` was set
    before the end: the images left are not read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InvertFillError(f"{folder} is not a folder")
    scan = FolderScan(folder)
    paths = image_files(folder)

    def read(path: Path) -> ImageInfo | str | None:
        return None if cancel is not None and cancel.is_set() else _read(path)

    with ThreadPoolExecutor() as pool:
        results = list(pool.map(read, paths))
    if cancel is not None and cancel.is_set():
        return None
    first_by_digest: dict[str, Path] = {}
    for path, result in zip(paths, results):
        if isinstance(result, str):
            scan.unreadable.append((path, result))
        elif result.digest in first_by_digest:
            scan.duplicates.append((path, first_by_digest[result.digest]))
        else:
            first_by_digest[result.digest] = path
            scan.usable.append(result)
            if min(result.width, result.height) < resolution:
                scan.small.append(result)
    return scan
