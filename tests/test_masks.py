"""Mask generators: buckets met, seeded, outpainting sides, folders, the training mixture."""

import numpy as np
import pytest

from core.errors import InvertFillError
from core.image_io import Picture, write_image
from core.masks import (
    BUCKETS,
    MaskFolder,
    MaskSampler,
    bucket_mask,
    coverage_of,
    free_form_mask,
    mask_set,
    outpaint_mask,
)


@pytest.mark.parametrize("bucket", list(BUCKETS))
def test_200_seeded_draws_fall_in_their_bucket(bucket):
    lo, hi = BUCKETS[bucket]
    rng = np.random.default_rng(0)
    coverages = [coverage_of(bucket_mask(bucket, 256, rng)) for _ in range(200)]
    assert all(lo <= c <= hi for c in coverages)
    if bucket == "all":
        assert min(coverages) < 0.3 and max(coverages) > 0.7


def test_same_seed_same_mask_and_shapes():
    a = free_form_mask((64, 96), (0.2, 0.4), np.random.default_rng(5))
    b = free_form_mask((64, 96), (0.2, 0.4), np.random.default_rng(5))
    c = free_form_mask((64, 96), (0.2, 0.4), np.random.default_rng(6))
    assert a.dtype == bool and a.shape == (64, 96)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert all(np.array_equal(x, y) for x, y in zip(mask_set("hard", 3, 64, 1), mask_set("hard", 3, 64, 1)))


def test_impossible_or_inverted_ranges_fail_without_hanging():
    with pytest.raises(InvertFillError, match="could not draw"):
        free_form_mask(4, (0.97, 0.98), np.random.default_rng(0))
    with pytest.raises(InvertFillError, match="range"):
        free_form_mask(32, (0.6, 0.5), np.random.default_rng(0))
    with pytest.raises(InvertFillError, match="unknown mask bucket"):
        bucket_mask("medium", 32, np.random.default_rng(0))


def test_outpainting_masks_cover_the_side_they_name():
    rng = np.random.default_rng(0)
    left = outpaint_mask((40, 80), rng, "left")
    assert left[:, 0].all() and not left[:, -1].any() and 0.25 <= coverage_of(left) <= 0.5
    bottom = outpaint_mask((40, 80), rng, "bottom")
    assert bottom[-1].all() and not bottom[0].any()
    border = outpaint_mask((40, 80), rng, "border")
    assert border[0].all() and border[:, -1].all() and not border[20, 40]
    with pytest.raises(InvertFillError):
        outpaint_mask(32, rng, "middle")


def test_mask_folder_reads_white_holes_and_resizes_by_nearest_neighbour(tmp_path):
    mask = np.zeros((8, 8, 1), np.uint8)
    mask[:, 4:] = 255
    write_image(tmp_path / "m0.png", Picture(mask))
    write_image(tmp_path / "m1.png", Picture(np.full((8, 8, 1), 255, np.uint8)))
    folder = MaskFolder(tmp_path, size=16)
    assert len(folder) == 2 and folder.coverage(0) == 0.5 and folder.coverage(1) == 1.0
    assert folder.load(0)[:, 8:].all() and not folder.load(0)[:, :8].any()
    with pytest.raises(InvertFillError, match="does not exist"):
        MaskFolder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvertFillError, match="holds no"):
        MaskFolder(tmp_path / "empty")


def test_mask_sampler_is_keyed_and_follows_its_mix(tmp_path):
    hard = MaskSampler(64, {"hard": 1.0}, seed=3)
    assert np.array_equal(hard.sample(7), MaskSampler(64, {"hard": 1.0}, seed=3).sample(7))
    assert not np.array_equal(hard.sample(7), hard.sample(8))
    assert all(0.5 <= coverage_of(hard.sample(k)) <= 0.6 for k in range(20))
    outpaint = MaskSampler(64, {"outpaint": 1.0})
    for k in range(20):
        m = outpaint.sample(k)
        assert m[0].all() or m[-1].all() or m[:, 0].all() or m[:, -1].all()
    write_image(tmp_path / "a.png", Picture(np.full((64, 64, 1), 255, np.uint8)))
    assert MaskSampler(64, {"folder": 1.0}, folder=tmp_path).sample(0).all()
    with pytest.raises(InvertFillError, match="unknown mask kind"):
        MaskSampler(64, {"medium": 1.0})
    with pytest.raises(InvertFillError, match="no mask folder"):
        MaskSampler(64, {"folder": 1.0})
