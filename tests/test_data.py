"""Training data: folder scanning, bad files, crops, and the resumable, shardable position stream."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from core.errors import InvertFillError
from core.io.image_io import Picture, write_image
from training import data
from training.data import ImageFolderDataset, StreamSampler, make_loader

GOOD = ["wide.png", "gray.png", "nested/rgba.png", "nested/photo.jpg", "nested/deeper/tall.bmp", "deep16.tif"]
UNREADABLE = ["truncated.png", "nested/text.jpg", "empty.png"]


def noise(h: int, w: int, c: int, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max, (h, w, c), endpoint=True).astype(dtype)


def write_junk(root: Path) -> None:
    """The unreadable files of UNREADABLE, plus a text file that is not an image."""
    write_image(root / "full.png", Picture(noise(40, 40, 3)))
    full = (root / "full.png").read_bytes()
    (root / "full.png").unlink()
    (root / "truncated.png").write_bytes(full[: len(full) // 2])
    (root / "nested").mkdir(exist_ok=True)
    (root / "nested/text.jpg").write_text("not a picture\n")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("captions\n")


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """GOOD images of several sizes, aspects and modes in nested folders, UNREADABLE files, hidden images."""
    root = tmp_path / "images"
    shapes = [(40, 100, 3), (50, 50, 1), (64, 48, 4), (30, 20, 3), (120, 40, 3), (24, 36, 3)]
    for seed, (name, (h, w, c)) in enumerate(zip(GOOD, shapes)):
        dtype = np.uint16 if name.endswith(".tif") else np.uint8
        write_image(root / name, Picture(noise(h, w, c, dtype, seed)))
    write_junk(root)
    write_image(root / ".hidden.png", Picture(noise(32, 32, 3)))
    write_image(root / ".cache/thumb.png", Picture(noise(32, 32, 3)))
    return root


class Positions(Dataset):
    """Item p is the tensor p: shows which positions a loader reads."""

    def __getitem__(self, position: int) -> torch.Tensor:
        return torch.tensor(position)


def take(batches, count: int) -> list[torch.Tensor]:
    return [next(batches) for _ in range(count)]


def test_items_are_square_float_crops_in_range(image_folder):
    dataset = ImageFolderDataset(image_folder, 32)
    assert len(dataset) == len(GOOD)
    for position in range(2 * len(dataset)):
        item = dataset[position]
        assert item.shape == (3, 32, 32) and item.dtype == torch.float32
        assert -1 <= item.min() and item.max() <= 1


def test_unreadable_files_are_skipped_and_listed_hidden_and_other_files_ignored(image_folder):
    dataset = ImageFolderDataset(image_folder, 32)
    assert sorted(p.relative_to(image_folder).as_posix() for p in dataset.files) == sorted(GOOD)
    skipped = {path.relative_to(image_folder).as_posix(): reason for path, reason in dataset.skipped}
    assert sorted(skipped) == sorted(UNREADABLE)
    assert "truncated or corrupt" in skipped["truncated.png"]
    assert "empty file" in skipped["empty.png"]
    assert all("\n" not in reason and str(image_folder) not in reason for reason in skipped.values())


def test_without_verify_every_image_file_is_kept(image_folder):
    dataset = ImageFolderDataset(image_folder, 32, verify=False)
    assert len(dataset) == len(GOOD) + len(UNREADABLE) and dataset.skipped == []


def test_folder_of_junk_says_no_usable_image_and_names_a_skipped_file(tmp_path):
    write_junk(tmp_path)
    with pytest.raises(InvertFillError, match="no usable image") as error:
        ImageFolderDataset(tmp_path, 32)
    message = str(error.value)
    assert "3 files skipped" in message and any(Path(name).name in message for name in UNREADABLE)
    assert "\n" not in message


def test_empty_missing_and_file_roots_are_clear_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("no pictures here\n")
    with pytest.raises(InvertFillError, match=r"no image files \(PNG, JPEG, WebP, BMP, TIFF\) in"):
        ImageFolderDataset(tmp_path, 32)
    with pytest.raises(InvertFillError, match="does not exist"):
        ImageFolderDataset(tmp_path / "absent", 32)
    with pytest.raises(InvertFillError, match="is not a folder"):
        ImageFolderDataset(tmp_path / "notes.txt", 32)


def test_same_seed_and_position_give_the_same_item(image_folder):
    first, second = ImageFolderDataset(image_folder, 32), ImageFolderDataset(image_folder, 32)
    other_seed = ImageFolderDataset(image_folder, 32, seed=1)
    for position in (0, 5, 17, 1000):
        assert torch.equal(first[position], second[position])
    assert any(not torch.equal(first[p], other_seed[p]) for p in range(6))


def test_each_epoch_visits_every_image_once_in_its_own_order(image_folder):
    dataset = ImageFolderDataset(image_folder, 32)
    n = len(dataset)
    orders = [[dataset.image_index(p) for p in range(epoch * n, (epoch + 1) * n)] for epoch in range(3)]
    assert all(sorted(order) == list(range(n)) for order in orders)
    assert orders[0] != orders[1] and orders[1] != orders[2]


def test_center_crop_of_a_wide_image_takes_the_middle(tmp_path):
    pixels = noise(32, 96, 3)
    write_image(tmp_path / "wide.png", Picture(pixels))
    dataset = ImageFolderDataset(tmp_path, 32, crop="center", xflip=False)
    expected = torch.from_numpy(pixels[:, 32:64].transpose(2, 0, 1).astype(np.float32)) / 127.5 - 1
    assert torch.equal(dataset[0], expected) and torch.equal(dataset[7], expected)


def test_random_crops_and_flips_are_windows_of_the_image(tmp_path):
    pixels = noise(32, 96, 3)
    write_image(tmp_path / "wide.png", Picture(pixels))
    dataset = ImageFolderDataset(tmp_path, 32)
    crops = [pixels[:, left : left + 32] for left in range(65)]
    windows = {(left, flip): crop[:, ::-1] if flip else crop for left, crop in enumerate(crops) for flip in (0, 1)}
    seen = set()
    for position in range(20):
        item = ((dataset[position].numpy().transpose(1, 2, 0) + 1) * 127.5).round().astype(np.uint8)
        seen |= {key for key, window in windows.items() if np.array_equal(item, window)}
    assert len({left for left, _ in seen}) > 5 and {flip for _, flip in seen} == {0, 1}


def test_stream_sampler_takes_every_world_size_th_position():
    assert list(zip(range(4), StreamSampler(start=10, rank=1, world_size=3))) == list(enumerate([11, 14, 17, 20]))


def test_resumed_loader_continues_the_uninterrupted_stream(image_folder):
    dataset = ImageFolderDataset(image_folder, 32)
    uninterrupted = take(make_loader(dataset, batch_size=4), 6)
    resumed = take(make_loader(dataset, batch_size=4, start=3 * 4), 3)
    assert all(torch.equal(a, b) for a, b in zip(resumed, uninterrupted[3:]))
    assert uninterrupted[0].shape == (4, 3, 32, 32)


def test_ranks_interleave_to_the_single_rank_stream_without_overlap(image_folder):
    ranks = [take(make_loader(Positions(), batch_size=3, start=6, rank=r, world_size=2), 4) for r in range(2)]
    single = take(make_loader(Positions(), batch_size=6, start=6), 4)
    for step, batch in enumerate(single):
        assert torch.equal(torch.stack([ranks[0][step], ranks[1][step]], dim=1).flatten(), batch)
    assert torch.equal(batch, 6 + torch.arange(18, 24))
    assert not set(torch.cat(ranks[0]).tolist()) & set(torch.cat(ranks[1]).tolist())

    dataset = ImageFolderDataset(image_folder, 32)
    rank_batches = [next(make_loader(dataset, batch_size=2, rank=r, world_size=2)) for r in range(2)]
    assert torch.equal(torch.stack(rank_batches, dim=1).flatten(0, 1), next(make_loader(dataset, batch_size=4)))


def test_loader_leaves_the_global_torch_rng_alone(image_folder):
    dataset = ImageFolderDataset(image_folder, 32)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    next(make_loader(dataset, batch_size=2))
    assert torch.equal(torch.rand(3), expected)


def test_worker_processes_yield_the_same_batches(image_folder):
    dataset = ImageFolderDataset(image_folder, 32)
    in_process = take(make_loader(dataset, batch_size=3, start=5), 4)
    batches = make_loader(dataset, batch_size=3, start=5, workers=2)
    in_workers = take(batches, 4)
    del batches
    assert all(torch.equal(a, b) for a, b in zip(in_process, in_workers))


def test_zoom_takes_random_scale_crops_of_a_large_photo_and_is_fixed_by_the_position(tmp_path):
    """A 128-px image of four flat quadrants at R = 32: without zoom every crop shows all four
    colours; with zoom 4 some crops lie inside one quadrant, and the same position gives the same crop."""
    quadrants = np.zeros((128, 128, 3), np.uint8)
    quadrants[:64, 64:], quadrants[64:, :64], quadrants[64:, 64:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    write_image(tmp_path / "images" / "quadrants.png", Picture(quadrants))

    def colours(item: torch.Tensor) -> int:
        return len({tuple(pixel) for pixel in ((item + 1) * 127.5).round().reshape(3, -1).T.tolist()})

    whole = ImageFolderDataset(tmp_path / "images", 32, xflip=False)
    zoomed = ImageFolderDataset(tmp_path / "images", 32, xflip=False, zoom=4)
    assert all(colours(whole[p]) >= 4 for p in range(20))
    assert any(colours(zoomed[p]) == 1 for p in range(20)) and torch.equal(zoomed[7], zoomed[7])
    with pytest.raises(InvertFillError, match="zoom must be 1 or more"):
        ImageFolderDataset(tmp_path / "images", 32, zoom=0.5)


def test_a_small_folder_is_decoded_once_and_items_stay_the_same(image_folder, monkeypatch):
    dataset = ImageFolderDataset(image_folder, 16, seed=3)
    fresh = ImageFolderDataset(image_folder, 16, seed=3)
    second_epoch = range(len(dataset), 2 * len(dataset))
    expected = [fresh[p] for p in second_epoch]
    for p in range(len(dataset)):
        dataset[p]
    decoded = []
    monkeypatch.setattr(data, "read_image", decoded.append)
    assert all(torch.equal(dataset[p], item) for p, item in zip(second_epoch, expected))
    assert decoded == []


def test_the_decoded_cache_stops_at_its_byte_budget(image_folder, monkeypatch):
    monkeypatch.setattr(data, "DECODED_CACHE_BYTES", 1)
    dataset = ImageFolderDataset(image_folder, 16)
    dataset[0]
    assert dataset._decoded == {}
