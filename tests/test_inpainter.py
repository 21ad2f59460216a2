"""The engine with a tiny checkpoint: hard constraint, modes, seeds, variations, fallback, batch."""

import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import another_thread_drawing

from core.engine.batch import pair_images_with_masks, run_batch
from core.engine.choices import VARIATION_STRENGTH
from core.engine.fill_methods import ModelFill
from core.engine.model_runtime import TorchRunner
from core.engine.inpainter import Inpainter
from core.errors import InvertFillError
from core.io import resources
from core.io.image_io import Picture, read_image, write_image
from core.masks.reading import fit_mask


@pytest.fixture(scope="module")
def inpainter(tiny_checkpoint) -> Inpainter:
    return Inpainter(tiny_checkpoint, device="cpu")


def hole_of(h: int, w: int) -> np.ndarray:
    hole = np.zeros((h, w), bool)
    hole[h // 4 : h // 2, w // 3 : 2 * w // 3] = True
    return hole


@pytest.mark.parametrize("channels, dtype", [(3, np.uint8), (4, np.uint8), (1, np.uint8), (3, np.uint16), (4, np.uint16)])
@pytest.mark.parametrize("strategy", ["crop", "resize"])
def test_fill_keeps_size_mode_and_known_pixels_and_changes_the_hole(inpainter, channels, dtype, strategy):
    rng = np.random.default_rng(0)
    picture = Picture(rng.integers(0, np.iinfo(dtype).max, (70, 100, channels), endpoint=True).astype(dtype))
    hole = hole_of(70, 100)
    (filled,) = inpainter.fill(picture, hole, strategy, seed=1).pictures
    assert filled.pixels.shape == picture.pixels.shape and filled.pixels.dtype == dtype
    assert np.array_equal(filled.pixels[~hole], picture.pixels[~hole])
    if channels == 4:
        assert np.array_equal(filled.pixels[..., 3], picture.pixels[..., 3])
    assert not np.array_equal(filled.pixels[hole, :3], picture.pixels[hole, :3])


def test_full_strategy_at_model_size(inpainter):
    picture = Picture(np.full((32, 32, 3), 90, np.uint8))
    (filled,) = inpainter.fill(picture, hole_of(32, 32), "full", seed=0).pictures
    assert np.array_equal(filled.pixels[~hole_of(32, 32)], picture.pixels[~hole_of(32, 32)])


def test_same_seed_same_fill_and_variations_differ(inpainter):
    picture = Picture(np.random.default_rng(2).integers(0, 256, (48, 64, 3)).astype(np.uint8))
    hole = hole_of(48, 64)
    first = inpainter.fill(picture, hole, seed=7, variations=3)
    again = inpainter.fill(picture, hole, seed=7, variations=3)
    assert first.seed == 7 and len(first.pictures) == 3
    for a, b in zip(first.pictures, again.pictures):
        assert np.array_equal(a.pixels, b.pixels)
    fills = [p.pixels[hole] for p in first.pictures]
    assert not np.array_equal(fills[0], fills[1]) and not np.array_equal(fills[1], fills[2]) and not np.array_equal(fills[0], fills[2])
    other = inpainter.fill(picture, hole, seed=8).pictures[0]
    assert not np.array_equal(other.pixels[hole], fills[0])


def hole_difference(result, hole) -> float:
    """The mean absolute difference, in grey levels, between the first fill's hole and the others'."""
    first = result.pictures[0].pixels[hole].astype(float)
    return float(np.mean([np.abs(p.pixels[hole] - first).mean() for p in result.pictures[1:]]))


def test_the_variation_strength_sets_how_far_variations_stray_from_the_first_fill(inpainter):
    picture = Picture(np.random.default_rng(5).integers(0, 256, (32, 32, 3)).astype(np.uint8))
    hole = hole_of(32, 32)
    default = inpainter.fill(picture, hole, "full", seed=3, variations=3)
    chosen = (0.0, VARIATION_STRENGTH, 1.0)
    strengths = {s: inpainter.fill(picture, hole, "full", seed=3, variations=3, variation_strength=s) for s in chosen}
    assert all(np.array_equal(r.pictures[0].pixels, default.pictures[0].pixels) for r in strengths.values())
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(strengths[VARIATION_STRENGTH].pictures, default.pictures, strict=True))
    differences = [hole_difference(strengths[s], hole) for s in chosen]
    assert differences[0] < differences[1] < differences[2], differences
    with pytest.raises(InvertFillError, match="between 0 and 1"):
        inpainter.fill(picture, hole, "full", seed=3, variations=2, variation_strength=1.5)


def test_the_engine_names_the_data_terms_of_its_model(inpainter, tiny_checkpoint, tmp_path):
    from core.io.checkpoint import export_checkpoint

    assert inpainter.data_terms == "" and Inpainter(None, "cpu", "telea").data_terms == ""
    export_checkpoint(tiny_checkpoint, tmp_path / "terms.safetensors", data_terms="CC BY 4.0, credit the photographers")
    assert Inpainter(tmp_path / "terms.safetensors", "cpu").data_terms == "CC BY 4.0, credit the photographers"


def test_same_seed_same_fill_while_another_thread_reseeds_and_draws_the_global_rng(inpainter):
    picture = Picture(np.random.default_rng(4).integers(0, 256, (48, 64, 3)).astype(np.uint8))
    hole = hole_of(48, 64)
    expected = [p.pixels for p in inpainter.fill(picture, hole, seed=11, variations=2).pictures]
    with another_thread_drawing():
        fills = [inpainter.fill(picture, hole, seed=11, variations=2) for _ in range(3)]
    for result in fills:
        assert all(np.array_equal(p.pixels, e) for p, e in zip(result.pictures, expected, strict=True))


def test_random_seed_is_drawn_and_reported(inpainter):
    picture = Picture(np.zeros((32, 32, 3), np.uint8))
    result = inpainter.fill(picture, hole_of(32, 32))
    again = inpainter.fill(picture, hole_of(32, 32), seed=result.seed)
    assert np.array_equal(result.pictures[0].pixels, again.pictures[0].pixels)


def test_empty_mask_returns_the_input_with_a_note(inpainter):
    picture = Picture(np.random.default_rng(3).integers(0, 256, (20, 30, 3)).astype(np.uint8))
    result = inpainter.fill(picture, np.zeros((20, 30), bool))
    assert np.array_equal(result.pictures[0].pixels, picture.pixels)
    assert any("empty" in n for n in result.notes)


def test_full_mask_is_filled_with_a_note(inpainter):
    picture = Picture(np.zeros((40, 40, 3), np.uint8))
    result = inpainter.fill(picture, np.ones((40, 40), bool), seed=0)
    assert any("whole image" in n for n in result.notes)
    assert result.pictures[0].pixels.std() > 0


def test_mask_of_another_size_is_resized_by_nearest_neighbour_with_a_note():
    mask = np.zeros((10, 20), bool)
    mask[:, 10:] = True
    fitted, note = fit_mask(mask, 40, 80, "m.png")
    assert fitted.shape == (40, 80) and fitted[:, 40:].all() and not fitted[:, :40].any()
    assert note == "m.png is 20×10 but the image is 80×40; resized the mask"
    assert fit_mask(mask, 10, 20) == (mask, None)


@pytest.mark.usefixtures("no_default_model")
def test_without_any_model_the_classic_fill_is_used_and_named():
    inpainter = Inpainter(device="cpu")
    assert inpainter.is_classic
    picture = Picture(np.full((30, 30, 3), 120, np.uint8))
    result = inpainter.fill(picture, hole_of(30, 30))
    assert "classic OpenCV fill (Telea)" in result.method and "no InvertFill model" in result.method
    assert np.abs(result.pictures[0].pixels.astype(int) - 120).max() <= 3


def test_the_embedded_default_model_is_picked_up(monkeypatch, tiny_checkpoint):
    monkeypatch.setattr(resources, "resource_path", lambda *parts: tiny_checkpoint)
    inpainter = Inpainter(device="cpu")
    assert not inpainter.is_classic and inpainter.checkpoint == tiny_checkpoint


def test_a_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(InvertFillError, match="truncated or corrupt"):
        Inpainter(bad, device="cpu")


def test_cuda_without_cuda_is_a_clear_error(tiny_checkpoint, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(InvertFillError, match="no usable CUDA device"):
        Inpainter(tiny_checkpoint, device="cuda")


def test_fill_file_refuses_to_replace_its_input_unless_asked(inpainter, photo_and_mask):
    image, mask = photo_and_mask
    before = image.read_bytes()
    with pytest.raises(InvertFillError, match="would replace the input"):
        inpainter.fill_file(image, mask, image)
    assert image.read_bytes() == before
    inpainter.fill_file(image, mask, image, seed=0, overwrite=True)
    assert image.read_bytes() != before


def test_fill_file_writes_variations_beside_the_output_name(inpainter, photo_and_mask, tmp_path):
    image, mask = photo_and_mask
    result = inpainter.fill_file(image, mask, tmp_path / "out" / "filled.png", seed=0, variations=2)
    assert len(result.pictures) == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["filled_1.png", "filled_2.png"]


def test_batch_pairs_by_name_fills_and_reports_skipped_files(inpainter, tmp_path):
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    rng = np.random.default_rng(4)
    for name in ("a.png", "b.jpg", "c.png", "broken.png"):
        write_image(images / name, Picture(rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)))
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    mask = Picture(np.where(hole_of(40, 50)[..., None], 255, 0).astype(np.uint8))
    write_image(masks / "a.png", mask)
    write_image(masks / "b_mask.png", mask)
    write_image(masks / "broken.png", mask)
    jobs, unpaired = pair_images_with_masks(images, out, mask_dir=masks)
    assert [j.image.name for j in jobs] == ["a.png", "b.jpg", "broken.png"]
    assert [(p.name, "no mask" in why) for p, why in unpaired] == [("c.png", True)]
    seen = []
    report = run_batch(inpainter, jobs, seed=0, progress=lambda p: seen.append((p.done, p.total)))
    assert sorted(p.name for p in report.filled) == ["a.png", "b.jpg"]
    assert [(p.name, "truncated" in why) for p, why in report.skipped] == [("broken.png", True)]
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert read_image(out / "a.png").pixels.shape == (40, 50, 3)


def test_batch_with_masks_beside_images_and_one_shared_mask(inpainter, tmp_path):
    folder = tmp_path / "photos"
    write_image(folder / "x.png", Picture(np.zeros((20, 20, 3), np.uint8)))
    write_image(folder / "x_mask.png", Picture(np.full((20, 20, 1), 255, np.uint8)))
    jobs, unpaired = pair_images_with_masks(folder, tmp_path / "o")
    assert [(j.image.name, j.mask.name) for j in jobs] == [("x.png", "x_mask.png")] and unpaired == []
    jobs, _ = pair_images_with_masks(folder, tmp_path / "o", mask_file=folder / "x_mask.png")
    assert [j.image.name for j in jobs] == ["x.png", "x_mask.png"]


def test_batch_cancel_stops_between_files(inpainter, tmp_path):
    for name in ("1.png", "2.png", "3.png"):
        write_image(tmp_path / "in" / name, Picture(np.zeros((20, 20, 3), np.uint8)))
        write_image(tmp_path / "in" / name.replace(".png", "_mask.png"), Picture(np.full((20, 20, 1), 255, np.uint8)))
    jobs, _ = pair_images_with_masks(tmp_path / "in", tmp_path / "out")
    cancel = threading.Event()
    report = run_batch(inpainter, jobs, progress=lambda p: cancel.set(), cancel=cancel)
    assert report.cancelled and len(report.filled) == 1


@pytest.mark.cuda
def test_cuda_fill_runs_in_half_precision_and_keeps_known_pixels(tiny_checkpoint):
    import torch

    inpainter = Inpainter(tiny_checkpoint, device="cuda")
    assert inpainter.runtime == "torch fp16" and inpainter.method.runner.dtype == torch.float16
    picture = Picture(np.random.default_rng(5).integers(0, 256, (70, 90, 3)).astype(np.uint8))
    hole = hole_of(70, 90)
    (filled,) = inpainter.fill(picture, hole, seed=0).pictures
    assert np.array_equal(filled.pixels[~hole], picture.pixels[~hole])
    full = Inpainter(tiny_checkpoint, device="cuda")
    model = full.method.model.float()
    full.method = ModelFill(model, TorchRunner(model, full.device, torch.float32), "fp32")
    reference = full.fill(picture, hole, seed=0).pictures[0]
    assert np.abs(filled.pixels[hole].astype(int) - reference.pixels[hole]).mean() < 3


def test_bundled_resources_are_found_in_the_project_folder_when_run_from_source():
    root = Path(__file__).resolve().parents[1]
    assert resources.resource_path("samples", "countryside.png") == root / "resources" / "samples" / "countryside.png"
    assert resources.resource_path("samples", "countryside.png").is_file()
