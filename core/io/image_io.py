"""Reading and writing images (DESIGN §2); mask files are read by core.masks.reading.

Images keep their own layout: `Picture.pixels` is (H, W, C) with C = 1 (gray), 3 (RGB) or
4 (RGBA), uint8 or uint16, channels in RGB order; palette images arrive as RGB(A). The EXIF
orientation is applied on reading. Writes are atomic.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import InvertFillError

from .atomic_write import atomic_write

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

READABLE = "PNG, JPEG, WebP, BMP or TIFF"
WRITABLE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WebP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
IMAGE_SUFFIXES = frozenset(WRITABLE_SUFFIXES)
EXIF_ORIENTATION_TAG = 0x0112


@dataclass
class Picture:
    """An image as read from a file. pixels: (H, W, C), C ∈ {1, 3, 4}, uint8 or uint16, RGB(A)."""

    pixels: np.ndarray

    def __post_init__(self) -> None:
        p = self.pixels
        assert p.ndim == 3 and p.shape[2] in (1, 3, 4) and p.dtype in (np.uint8, np.uint16), (p.shape, p.dtype)

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] == 4

    def rgb8(self) -> np.ndarray:
        """The colour as (H, W, 3) uint8 RGB, the form the fill methods take."""
        color = self.pixels[..., :3] if self.pixels.shape[2] >= 3 else np.repeat(self.pixels, 3, axis=2)
        if color.dtype == np.uint16:
            color = ((color.astype(np.uint32) + 128) // 257).astype(np.uint8)
        return np.ascontiguousarray(color)

    def with_fill(self, fill_rgb8: np.ndarray, hole: np.ndarray) -> Picture:
        """A copy whose hole pixels take `fill_rgb8` (H, W, 3) uint8; known pixels and alpha stay bit-identical."""
        assert fill_rgb8.shape == (self.height, self.width, 3) and hole.shape == (self.height, self.width)
        fill = fill_rgb8[hole]
        if self.pixels.shape[2] == 1:
            fill = cv2.cvtColor(fill[None], cv2.COLOR_RGB2GRAY).reshape(-1, 1)
        if self.pixels.dtype == np.uint16:
            fill = fill.astype(np.uint16) * 257
        pixels = self.pixels.copy()
        pixels[hole, : fill.shape[1]] = fill
        return Picture(pixels)


def _check_readable_file(path: Path, what: str) -> bytes:
    if not path.exists():
        raise InvertFillError(f"{what} {path} does not exist")
    if path.is_dir():
        raise InvertFillError(f"{what} {path} is a folder, not a file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvertFillError(f"{what} {path} cannot be read: {error.strerror}") from None
    if not data:
        raise InvertFillError(f"{what} {path} is an empty file")
    return data


def _format_of(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data.startswith(b"BM"):
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def exif_orientation(exif: bytes) -> int:
    """The orientation tag (1–8) of a TIFF-structured EXIF block, 1 when absent or unreadable."""
    if len(exif) >= 6 and exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    if len(exif) < 8 or exif[:2] not in (b"II", b"MM"):
        return 1
    order = "<" if exif[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", exif, 4)
    if ifd + 2 > len(exif):
        return 1
    (count,) = struct.unpack_from(order + "H", exif, ifd)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(exif):
            break
        tag, kind, _, value = struct.unpack_from(order + "HHI2s", exif, entry)
        if tag == EXIF_ORIENTATION_TAG and kind == 3:
            (orientation,) = struct.unpack(order + "H", value)
            return orientation if 1 <= orientation <= 8 else 1
    return 1


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn (H, W, ...) pixels stored with EXIF `orientation` upright."""
    transposed = pixels.swapaxes(0, 1)
    upright = {
        1: pixels,
        2: pixels[:, ::-1],
        3: pixels[::-1, ::-1],
        4: pixels[::-1],
        5: transposed,
        6: transposed[:, ::-1],
        7: transposed[::-1, ::-1],
        8: transposed[::-1],
    }[orientation]
    return np.ascontiguousarray(upright)


def _decode(path: Path, data: bytes, what: str) -> np.ndarray:
    """Bytes -> upright (H, W, C) pixels in RGB(A) order, C ∈ {1, 3, 4}, uint8 or uint16."""
    kind = _format_of(data)
    if kind is None:
        raise InvertFillError(f"{what} {path} is not a {READABLE} image")
    pixels, types, metadata = cv2.imdecodeWithMetadata(np.frombuffer(data, np.uint8), flags=cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.size == 0:
        raise InvertFillError(f"{what} {path} could not be decoded: the {kind} file is truncated or corrupt")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise InvertFillError(f"{what} {path} has {pixels.dtype} samples; only 8- and 16-bit images are supported")
    for kind_id, block in zip(types, metadata):
        if kind_id == cv2.IMAGE_METADATA_EXIF:
            pixels = apply_orientation(pixels, exif_orientation(np.asarray(block).tobytes()))
    if pixels.ndim == 2:
        return pixels[:, :, None]
    conversion = {3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGBA}.get(pixels.shape[2])
    if conversion is None:
        raise InvertFillError(f"{what} {path} has {pixels.shape[2]} channels; expected gray, RGB or RGBA")
    return cv2.cvtColor(pixels, conversion)


def read_pixels(path: str | os.PathLike[str], what: str = "image") -> np.ndarray:
    """The pixels of a PNG, JPEG, WebP, BMP or TIFF file: (H, W, C), C ∈ {1, 3, 4}, uint8 or uint16,
    RGB(A), EXIF orientation applied. Every problem is a one-line InvertFillError that calls the
    file `what` ("image", "mask")."""
    path = Path(path)
    return _decode(path, _check_readable_file(path, what), what)


def read_image(path: str | os.PathLike[str]) -> Picture:
    """Read a PNG, JPEG, WebP, BMP or TIFF file; every problem is a one-line InvertFillError."""
    return Picture(read_pixels(path, "image"))


def encode_image(picture: Picture, suffix: str, quality: int = 95) -> tuple[bytes, list[str]]:
    """Encode for a file ending in `suffix`; returns the bytes and notes on what the format dropped.

    `quality` (1–100) applies to JPEG and WebP, which are lossy; WebP at 101 is lossless, and
    lossless WebP may still change the colour of fully transparent pixels.
    """
    if not 1 <= quality <= 101:
        raise InvertFillError(f"quality must be from 1 to 100 (101: lossless WebP), got {quality}")
    suffix = suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise InvertFillError(f"cannot write {suffix or 'files without an extension'}; use .png, .jpg, .webp, .bmp or .tif")
    name, notes, pixels = WRITABLE_SUFFIXES[suffix], [], picture.pixels
    if pixels.dtype == np.uint16 and name not in ("PNG", "TIFF"):
        pixels = ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
        notes.append(f"{name} stores 8 bits per channel: the 16-bit image was written with 8")
    if pixels.shape[2] == 4 and name == "JPEG":
        pixels = pixels[..., :3]
        notes.append("JPEG has no transparency: the alpha channel was dropped (use .png, .webp or .tif to keep it)")
    if pixels.shape[2] == 1:
        bgr = pixels[..., 0]
    else:
        bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    params = {"JPEG": [cv2.IMWRITE_JPEG_QUALITY, quality], "WebP": [cv2.IMWRITE_WEBP_QUALITY, quality]}.get(name, [])
    ok, encoded = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise InvertFillError(f"could not encode the image as {name}")
    return encoded.tobytes(), notes


def write_image(path: str | os.PathLike[str], picture: Picture, quality: int = 95) -> list[str]:
    """Write atomically (creating missing folders); returns notes on what the format dropped."""
    path = Path(path)
    data, notes = encode_image(picture, path.suffix, quality)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as tmp:
            tmp.write_bytes(data)
    except OSError as error:
        raise InvertFillError(f"cannot write {path}: {error.strerror or error}") from None
    return notes
