"""The open image and its hole mask: what the canvas shows and the undo commands change."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.io.image_io import Picture, read_image, write_image
from core.masks.editing import Region, whole

from .qt_image import display_pixels

_fill_numbers = itertools.count(1)


class Document(QObject):
    """picture: the current image (fills replace it); original: as opened; mask: (H, W) uint8, 1 = hole.

    `display` / `original_display` are the (H, W, 3|4) uint8 pixels the canvas draws; they are
    updated in place so that views over them stay valid.
    """

    image_changed = Signal(object)
    mask_changed = Signal(object)
    modified_changed = Signal(bool)

    def __init__(self, picture: Picture, path: Path | None = None) -> None:
        super().__init__()
        self.picture = Picture(picture.pixels.copy())
        self.original_display = display_pixels(picture)
        self.display = self.original_display.copy()
        self.mask = np.zeros((picture.height, picture.width), np.uint8)
        self.path = path
        self.written = False
        """Whether this session wrote the image to a file; until then `path` is the file it came from."""
        self._applied_fills: list[int] = []
        self._saved_fills: list[int] = []

    @classmethod
    def open(cls, path: str | Path) -> Document:
        """Read an image file; unreadable files raise InvertFillError with a one-line reason."""
        path = Path(path)
        return cls(read_image(path), path)

    @property
    def height(self) -> int:
        return self.picture.height

    @property
    def width(self) -> int:
        return self.picture.width

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "untitled"

    @property
    def modified(self) -> bool:
        """Whether the image differs from the file (fills applied or undone since opening or saving)."""
        return self._applied_fills != self._saved_fills

    def hole(self) -> np.ndarray:
        """The mask as bool (H, W), True = hole."""
        return self.mask.astype(bool)

    def set_mask(self, region: Region, values: np.ndarray) -> None:
        """Write `values` (region's shape, uint8 0/1) into the mask."""
        self.mask[region.slices] = values
        self.mask_changed.emit(region)

    def replace_mask(self, hole: np.ndarray) -> None:
        """Take a whole new bool or 0/1 mask of the image's size."""
        assert hole.shape == self.mask.shape, (hole.shape, self.mask.shape)
        self.set_mask(whole(self.mask), hole.astype(np.uint8))

    def set_pixels(self, region: Region, pixels: np.ndarray) -> None:
        """Write `pixels` (region's rows and columns of Picture.pixels) into the image."""
        self.picture.pixels[region.slices] = pixels
        self.display[region.slices] = display_pixels(Picture(np.ascontiguousarray(pixels)))
        self.image_changed.emit(region)

    def new_fill_number(self) -> int:
        return next(_fill_numbers)

    def fill_applied(self, number: int) -> None:
        was = self.modified
        self._applied_fills.append(number)
        self._emit_if_modified_changed(was)

    def fill_removed(self, number: int) -> None:
        was = self.modified
        assert self._applied_fills and self._applied_fills[-1] == number
        self._applied_fills.pop()
        self._emit_if_modified_changed(was)

    def _emit_if_modified_changed(self, was: bool) -> None:
        if self.modified != was:
            self.modified_changed.emit(self.modified)

    def save(self, path: str | Path, quality: int = 95) -> list[str]:
        """Write the image atomically; returns notes on what the format dropped."""
        path = Path(path)
        notes = write_image(path, self.picture, quality)
        was = self.modified
        self.path = path
        self.written = True
        self._saved_fills = list(self._applied_fills)
        self._emit_if_modified_changed(was)
        return notes

    def save_mask(self, path: str | Path) -> None:
        """Write the mask as a gray PNG-style image: 255 = hole, 0 = known."""
        write_image(path, Picture((self.mask * 255)[:, :, None]))
