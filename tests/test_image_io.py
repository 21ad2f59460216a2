"""Image and mask files: formats, orientation, modes, bit depth, bad files, atomic writes."""

import struct
import zlib

import cv2
import numpy as np
import pytest

from core.errors import InvertFillError
from core.io import image_io
from core.io.image_io import Picture, exif_orientation, read_image, write_image
from core.masks.reading import read_mask


def noise(h: int, w: int, c: int, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max, (h, w, c), endpoint=True).astype(dtype)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".webp"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_lossless_formats_round_trip_exactly(tmp_path, suffix, channels):
    if suffix == ".webp" and channels == 1:
        pytest.skip("WebP has no gray mode")
    picture = Picture(noise(17, 23, channels))
    path = tmp_path / f"ïmage with spaces #1{suffix}"
    options = {"quality": 101} if suffix == ".webp" else {}
    assert write_image(path, picture, **options) == []
    read = read_image(path).pixels
    assert read.shape == picture.pixels.shape
    visible = picture.pixels[..., 3] > 0 if channels == 4 and suffix == ".webp" else np.ones((17, 23), bool)
    assert np.array_equal(read[visible], picture.pixels[visible])


def test_jpeg_round_trip_is_close_and_keeps_size(tmp_path):
    smooth = cv2.GaussianBlur(noise(64, 48, 3), (0, 0), 4)
    write_image(tmp_path / "a.jpeg", Picture(smooth))
    pixels = read_image(tmp_path / "a.jpeg").pixels
    assert pixels.shape == (64, 48, 3)
    assert np.abs(pixels.astype(int) - smooth).mean() < 3


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_images_keep_16_bits(tmp_path, suffix):
    picture = Picture(noise(9, 11, 3, np.uint16))
    write_image(tmp_path / f"deep{suffix}", picture)
    read = read_image(tmp_path / f"deep{suffix}")
    assert read.pixels.dtype == np.uint16 and np.array_equal(read.pixels, picture.pixels)
    assert np.array_equal(read.rgb8(), ((picture.pixels.astype(np.uint32) + 128) // 257).astype(np.uint8))


def test_formats_without_alpha_or_16_bits_say_what_they_dropped(tmp_path):
    notes = write_image(tmp_path / "x.jpg", Picture(noise(8, 8, 4, np.uint16)))
    assert any("8 bits" in n for n in notes) and any("alpha" in n for n in notes)
    assert read_image(tmp_path / "x.jpg").pixels.shape == (8, 8, 3)


EXIF_ROTATE_90_CW = (
    b"MM\x00*" + struct.pack(">IH", 8, 1) + struct.pack(">HHI", 0x0112, 3, 1) + struct.pack(">H", 6) + b"\x00\x00" + struct.pack(">I", 0)
)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_exif_orientation_is_applied(tmp_path, suffix):
    stored = np.zeros((10, 20, 3), np.uint8)
    stored[0, 0] = (0, 0, 255)
    ok, data = cv2.imencodeWithMetadata(suffix, stored, [cv2.IMAGE_METADATA_EXIF], [np.frombuffer(EXIF_ROTATE_90_CW, np.uint8)])
    assert ok
    (tmp_path / f"photo{suffix}").write_bytes(data.tobytes())
    pixels = read_image(tmp_path / f"photo{suffix}").pixels
    assert pixels.shape == (20, 10, 3)
    assert np.unravel_index(pixels[..., 0].argmax(), (20, 10)) == (0, 9)


def test_exif_orientation_parser():
    assert exif_orientation(EXIF_ROTATE_90_CW) == 6
    assert exif_orientation(b"Exif\x00\x00" + EXIF_ROTATE_90_CW) == 6
    little = b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHI", 0x0112, 3, 1) + struct.pack("<H", 3) + b"\x00\x00"
    assert exif_orientation(little) == 3
    assert exif_orientation(b"") == 1 and exif_orientation(b"MM\x00*\xff\xff\xff\xff") == 1


def test_every_orientation_turns_upright():
    upright = np.arange(6).reshape(2, 3)
    stored = {
        1: upright, 2: upright[:, ::-1], 3: upright[::-1, ::-1], 4: upright[::-1],
        5: upright.T, 6: np.rot90(upright, 1), 7: upright.T[::-1, ::-1], 8: np.rot90(upright, -1),
    }
    for orientation, pixels in stored.items():
        assert np.array_equal(image_io.apply_orientation(np.ascontiguousarray(pixels), orientation), upright), orientation


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_palette_png_reads_as_rgb(tmp_path):
    palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    indices = np.array([[0, 1, 2, 0], [2, 1, 0, 1]], np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in indices)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 2, 8, 3, 0, 0, 0))
    png += _png_chunk(b"PLTE", bytes(sum(palette, ()))) + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b"")
    (tmp_path / "palette.png").write_bytes(png)
    pixels = read_image(tmp_path / "palette.png").pixels
    assert np.array_equal(pixels, np.array(palette, np.uint8)[indices])


def test_mask_threshold_is_mid_gray_in_any_mode(tmp_path):
    gray = np.array([[0, 127, 128, 255]], np.uint8)[..., None]
    assert read_mask_of(tmp_path, gray).tolist() == [[False, False, True, True]]
    rgb = np.zeros((1, 2, 3), np.uint8)
    rgb[0, 1] = 255
    assert read_mask_of(tmp_path, rgb).tolist() == [[False, True]]
    deep = np.array([[1000, 40000]], np.uint16)[..., None]
    assert read_mask_of(tmp_path, deep).tolist() == [[False, True]]


def read_mask_of(tmp_path, pixels: np.ndarray) -> np.ndarray:
    write_image(tmp_path / "mask.png", Picture(pixels))
    return read_mask(tmp_path / "mask.png")


def test_picture_with_fill_changes_only_the_hole_and_keeps_alpha():
    rgba = Picture(noise(6, 7, 4, np.uint16))
    hole = np.zeros((6, 7), bool)
    hole[2:4, 1:5] = True
    fill = np.full((6, 7, 3), 200, np.uint8)
    out = rgba.with_fill(fill, hole).pixels
    assert np.array_equal(out[~hole], rgba.pixels[~hole])
    assert np.array_equal(out[..., 3], rgba.pixels[..., 3])
    assert (out[hole, :3] == 200 * 257).all()
    gray = Picture(noise(6, 7, 1)).with_fill(fill, hole).pixels
    assert gray.shape == (6, 7, 1) and (gray[hole] == 200).all()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"this is a text file, not a picture\n", "not a PNG, JPEG, WebP, BMP or TIFF image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "truncated or corrupt"),
    ],
)
def test_bad_files_give_one_clear_line(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InvertFillError, match=message) as error:
        read_image(path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif", ".bmp"])
def test_truncated_files_are_refused(tmp_path, suffix):
    full = tmp_path / f"full{suffix}"
    write_image(full, Picture(noise(64, 64, 3)))
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(InvertFillError, match="truncated or corrupt"):
        read_image(cut)


def test_missing_path_and_folder_are_refused(tmp_path):
    with pytest.raises(InvertFillError, match="does not exist"):
        read_image(tmp_path / "absent.png")
    with pytest.raises(InvertFillError, match="is a folder"):
        read_mask(tmp_path)


def test_writing_creates_folders_and_refuses_unknown_extensions(tmp_path):
    write_image(tmp_path / "new" / "deeper" / "out.png", Picture(noise(4, 4, 3)))
    assert (tmp_path / "new" / "deeper" / "out.png").is_file()
    with pytest.raises(InvertFillError, match="cannot write .gif"):
        write_image(tmp_path / "out.gif", Picture(noise(4, 4, 3)))


def test_an_unwritable_destination_is_a_clear_error(tmp_path):
    (tmp_path / "file.txt").write_text("not a folder")
    with pytest.raises(InvertFillError, match="cannot write"):
        write_image(tmp_path / "file.txt" / "out.png", Picture(noise(4, 4, 3)))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    write_image(path, Picture(noise(4, 4, 3)))
    before = path.read_bytes()

    def disk_full(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(image_io.Path, "write_bytes", disk_full)
    with pytest.raises(InvertFillError, match="No space left"):
        write_image(path, Picture(noise(4, 4, 3, seed=1)))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
