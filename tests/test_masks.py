"""Mask generators: buckets met, seeded, outpainting sides, folders, the training mixture."""

import numpy as np
import pytest

from core.errors import InvertFillError
from core.io.image_io import Picture, write_image
from core.masks.generation import (
    BUCKETS,
    MaskFolder,
    MaskSampler,
    bucket_mask,
    coverage_of,
    free_form_mask,
    mask_set,
    outpaint_mask,
)


def is_outpainting(mask: np.ndarray) -> bool:
    """Whether a bool (H, W) mask is made of whole rows and whole columns (a side band or a frame)."""
    return mask.any() and np.array_equal(mask, mask.all(axis=1)[:, None] | mask.all(axis=0)[None, :])


@pytest.mark.parametrize("bucket", list(BUCKETS))
def test_200_seeded_draws_fall_in_their_bucket(bucket):
    lo, hi = BUCKETS[bucket]
    rng = np.random.default_rng(0)
    coverages = [coverage_of(bucket_mask(bucket, 256, rng)) for _ in range(200)]
    assert all(lo <= c <= hi for c in coverages)
    if bucket == "all":
        assert min(coverages) < 0.3 and max(coverages) > 0.7
        assert np.histogram(coverages, bins=4, range=(lo, hi))[0].min() >= 25


def test_same_seed_same_mask_different_seed_different_mask():
    a = free_form_mask((64, 96), (0.2, 0.4), np.random.default_rng(5))
    b = free_form_mask((64, 96), (0.2, 0.4), np.random.default_rng(5))
    c = free_form_mask((64, 96), (0.2, 0.4), np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    first, again, other = mask_set("hard", 3, 64, 1), mask_set("hard", 3, 64, 1), mask_set("hard", 3, 64, 2)
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    assert not any(np.array_equal(x, y) for x, y in zip(first, other))


@pytest.mark.parametrize(
    "size, shape", [(48, (48, 48)), ((40, 100), (40, 100)), ((100, 40), (100, 40)), (np.int64(32), (32, 32))]
)
def test_every_generator_gives_bool_masks_of_the_asked_shape(size, shape):
    rng = np.random.default_rng(0)
    masks = [free_form_mask(size, (0.3, 0.5), rng), bucket_mask("extreme", size, rng), outpaint_mask(size, rng)]
    masks += [MaskSampler(size, {"all": 1.0, "outpaint": 1.0}).sample(k) for k in range(4)]
    for mask in masks:
        assert mask.dtype == bool and mask.shape == shape


def test_impossible_or_invalid_requests_fail_without_hanging():
    with pytest.raises(InvertFillError, match="could not draw"):
        free_form_mask(4, (0.97, 0.98), np.random.default_rng(0))
    for inverted in [(0.6, 0.5), (0.5, 0.5), (-0.1, 0.5), (0.5, 1.2)]:
        with pytest.raises(InvertFillError, match="range"):
            free_form_mask(32, inverted, np.random.default_rng(0))
    with pytest.raises(InvertFillError, match="unknown mask bucket"):
        bucket_mask("medium", 32, np.random.default_rng(0))
    with pytest.raises(InvertFillError, match="positive"):
        free_form_mask((0, 32), (0.1, 0.2), np.random.default_rng(0))


def test_a_range_one_pixel_wide_is_still_met():
    mask = free_form_mask(64, (0.5, 0.5 + 1 / 4096), np.random.default_rng(0))
    assert 0.5 <= coverage_of(mask) <= 0.5 + 1 / 4096


@pytest.mark.parametrize("kind, own_edge, far_edge", [
    ("left", np.s_[:, 0], np.s_[:, -1]),
    ("right", np.s_[:, -1], np.s_[:, 0]),
    ("top", np.s_[0], np.s_[-1]),
    ("bottom", np.s_[-1], np.s_[0]),
])
def test_outpainting_bands_cover_the_side_they_name(kind, own_edge, far_edge):
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = outpaint_mask((40, 80), rng, kind)
        assert mask[own_edge].all() and not mask[far_edge].any()
        assert is_outpainting(mask) and 0.25 <= coverage_of(mask) <= 0.5


def test_outpainting_border_is_a_frame_around_a_known_centre():
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = outpaint_mask((40, 80), rng, "border")
        assert mask[0].all() and mask[-1].all() and mask[:, 0].all() and mask[:, -1].all()
        assert not mask[10:30, 20:60].any() and is_outpainting(mask)
        rows, cols = np.count_nonzero(mask[:, 40]), np.count_nonzero(mask[20])
        assert 2 * 0.1 * 40 - 2 <= rows <= 2 * 0.25 * 40 and 2 * 0.1 * 80 - 2 <= cols <= 2 * 0.25 * 80


def test_outpainting_kind_left_out_is_drawn_among_all_five():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(100):
        mask = outpaint_mask(16, rng)
        edges = {"top": mask[0].all(), "bottom": mask[-1].all(), "left": mask[:, 0].all(), "right": mask[:, -1].all()}
        seen.add("border" if all(edges.values()) else next(side for side, full in edges.items() if full))
    assert seen == {"left", "right", "top", "bottom", "border"}
    with pytest.raises(InvertFillError, match="unknown outpainting"):
        outpaint_mask(32, rng, "middle")


def test_mask_folder_reads_white_holes_in_sorted_order(tmp_path):
    half = np.zeros((8, 8, 1), np.uint8)
    half[:, 4:] = 255
    write_image(tmp_path / "b.png", Picture(half))
    write_image(tmp_path / "a.png", Picture(np.full((8, 8, 1), 255, np.uint8)))
    (tmp_path / "notes.txt").write_text("not a mask")
    (tmp_path / "c.png").mkdir()
    folder = MaskFolder(tmp_path)
    assert len(folder) == 2 and folder.coverage(0) == 1.0 and folder.coverage(1) == 0.5
    assert folder.load(1)[:, 4:].all() and not folder.load(1)[:, :4].any() and folder.load(1).dtype == bool


def test_mask_folder_resizes_by_nearest_neighbour(tmp_path):
    checker = (np.indices((4, 4)).sum(axis=0) % 2 * 255).astype(np.uint8)
    write_image(tmp_path / "checker.png", Picture(checker[:, :, None]))
    assert np.array_equal(MaskFolder(tmp_path, size=8).load(0), np.kron(checker > 0, np.ones((2, 2), bool)))
    assert np.array_equal(MaskFolder(tmp_path, size=(8, 12)).load(0), np.kron(checker > 0, np.ones((2, 3), bool)))


def test_mask_folder_that_is_missing_or_empty_is_a_clear_error(tmp_path):
    with pytest.raises(InvertFillError, match="does not exist"):
        MaskFolder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvertFillError, match="holds no"):
        MaskFolder(tmp_path / "empty")


def test_mask_sampler_is_keyed_by_seed_and_key():
    hard = MaskSampler(64, {"hard": 1.0}, seed=3)
    assert np.array_equal(hard.sample(7), MaskSampler(64, {"hard": 1.0}, seed=3).sample(7))
    assert not np.array_equal(hard.sample(7), hard.sample(8))
    assert not np.array_equal(hard.sample(7), MaskSampler(64, {"hard": 1.0}, seed=4).sample(7))
    assert np.array_equal(hard.sample(-1), hard.sample(-1)) and np.array_equal(hard.sample(2**70), hard.sample(2**70))
    negative = MaskSampler(64, {"hard": 1.0}, seed=-2)
    assert np.array_equal(negative.sample(0), MaskSampler(64, {"hard": 1.0}, seed=-2).sample(0))


def test_mask_sampler_follows_its_mix(tmp_path):
    hard = MaskSampler(64, {"hard": 1.0})
    assert all(0.5 <= coverage_of(hard.sample(k)) <= 0.6 for k in range(30))
    outpaint = MaskSampler(64, {"outpaint": 1.0})
    assert all(is_outpainting(outpaint.sample(k)) for k in range(30))
    mixed = MaskSampler(64, {"hard": 1.0, "outpaint": 3.0}, seed=1)
    share = np.mean([is_outpainting(mixed.sample(k)) for k in range(200)])
    assert 0.63 <= share <= 0.87
    write_image(tmp_path / "a.png", Picture(np.full((32, 32, 1), 255, np.uint8)))
    from_folder = MaskSampler(64, {"folder": 1.0}, folder=tmp_path).sample(0)
    assert from_folder.shape == (64, 64) and from_folder.all()


def test_mask_sampler_rejects_bad_mixes(tmp_path):
    with pytest.raises(InvertFillError, match="unknown mask kind.*medium.*hard, extreme, all, outpaint, folder"):
        MaskSampler(64, {"medium": 1.0})
    with pytest.raises(InvertFillError, match="unknown mask kind"):
        MaskSampler(64, {})
    with pytest.raises(InvertFillError, match="no mask folder"):
        MaskSampler(64, {"folder": 1.0})
    for weights in [{"hard": 0.0}, {"hard": -1.0, "all": 2.0}, {"hard": float("nan")}]:
        with pytest.raises(InvertFillError, match="weights"):
            MaskSampler(64, weights)
