"""FID: the Inception loads pytorch-fid's weight layout, the distance matches closed forms, the cache round-trips."""

import functools

import numpy as np
import pytest
import torch

from core.errors import InvertFillError
from training.metrics.fid import (
    cached_statistics,
    compute_features,
    feature_statistics,
    frechet_distance,
    statistics_cache_path,
)
from training.metrics.inception import FEATURE_DIM, FID_INCEPTION_FILE, FIDInception, load_fid_inception

KNOWN_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_1a_3x3.bn.weight": (32,),
    "Conv2d_1a_3x3.bn.bias": (32,),
    "Conv2d_1a_3x3.bn.running_mean": (32,),
    "Conv2d_1a_3x3.bn.running_var": (32,),
    "Conv2d_2a_3x3.conv.weight": (32, 32, 3, 3),
    "Conv2d_2b_3x3.conv.weight": (64, 32, 3, 3),
    "Conv2d_3b_1x1.conv.weight": (80, 64, 1, 1),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5b.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_5c.branch_pool.conv.weight": (64, 256, 1, 1),
    "Mixed_5d.branch1x1.conv.weight": (64, 288, 1, 1),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6c.branch7x7dbl_2.conv.weight": (160, 160, 7, 1),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch3x3dbl_1.conv.weight": (448, 1280, 1, 1),
    "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}


def _standard_state_dict() -> dict[str, torch.Tensor]:
    """Random values in the key layout of pt_inception-2015-12-05-6726825d.pth (no num_batches_tracked)."""
    return dict(_random_standard_state())


@functools.cache
def _random_standard_state() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, value in FIDInception().state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(value.shape, generator=generator)
        elif key.endswith("bn.weight"):
            state[key] = 1.0 + 0.1 * torch.randn(value.shape, generator=generator)
        elif key.endswith("conv.weight"):
            fan_in = value[0].numel()
            state[key] = torch.randn(value.shape, generator=generator) * (2.0 / fan_in) ** 0.5
        else:
            state[key] = 0.1 * torch.randn(value.shape, generator=generator)
    return state


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("hub") / FID_INCEPTION_FILE
    torch.save(_standard_state_dict(), path)
    return path


def test_model_keys_follow_the_standard_file_layout():
    shapes = {key: tuple(value.shape) for key, value in _standard_state_dict().items()}
    for key, shape in KNOWN_SHAPES.items():
        assert shapes[key] == shape, key
    assert len([key for key in shapes if key.endswith(".conv.weight")]) == 94
    assert len(shapes) == 94 * 5 + 2


def test_standard_file_loads_and_gives_pool_features(weights_file):
    model = load_fid_inception(weights_file)
    expected = torch.load(weights_file, weights_only=True)
    assert torch.equal(model.Mixed_6b.branch7x7_2.conv.weight, expected["Mixed_6b.branch7x7_2.conv.weight"])
    images = torch.rand(2, 3, 75, 75) * 2 - 1
    features = compute_features(model, [images[:1], images[1:]], "cpu")
    assert features.shape == (2, FEATURE_DIM) and features.dtype == np.float32
    assert np.isfinite(features).all() and (features >= 0).all()
    assert not np.allclose(features[0], features[1], rtol=1e-3, atol=1e-4)


def test_missing_weights_file_says_where_to_put_it(tmp_path):
    with pytest.raises(InvertFillError, match=r"download_fid_inception\(\)") as error:
        load_fid_inception(tmp_path / FID_INCEPTION_FILE)
    assert FID_INCEPTION_FILE in str(error.value) and "\n" not in str(error.value)


def test_missing_or_misshaped_key_names_the_file_and_key(tmp_path):
    state = _standard_state_dict()
    del state["Mixed_7c.branch_pool.conv.weight"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(InvertFillError, match=r"broken\.pth.*'Mixed_7c\.branch_pool\.conv\.weight' is missing"):
        load_fid_inception(path)
    state = _standard_state_dict()
    state["fc.weight"] = torch.zeros(1000, 2048)
    torch.save(state, path)
    with pytest.raises(InvertFillError, match=r"'fc\.weight' has shape \(1000, 2048\)"):
        load_fid_inception(path)


def test_fid_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(64, 16)) @ np.random.default_rng(1).normal(size=(16, 16))
    mu, sigma = feature_statistics(features)
    assert mu.dtype == np.float64 and sigma.shape == (16, 16)
    assert frechet_distance(mu, sigma, mu, sigma) < 1e-6


def test_fid_matches_the_closed_form_for_diagonal_covariances():
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.normal(size=32), rng.normal(size=32)
    var1, var2 = rng.uniform(0.1, 3.0, size=32), rng.uniform(0.1, 3.0, size=32)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-6)


def test_fid_matches_scipy_sqrtm_for_full_covariances():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(100, 24)), rng.normal(size=(100, 24)) @ rng.normal(size=(24, 24))
    mu1, sigma1 = feature_statistics(a)
    mu2, sigma2 = feature_statistics(b)
    root = np.real(linalg.sqrtm(sigma1 @ sigma2))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(root)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)


def test_mismatched_statistics_are_a_user_error():
    with pytest.raises(InvertFillError, match="do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(InvertFillError, match="at least 2"):
        feature_statistics(np.zeros((1, 8)))


def test_statistics_cache_round_trip(tmp_path):
    calls = []
    mu, sigma = np.arange(4.0), np.eye(4) * 2

    def compute():
        calls.append(1)
        return mu, sigma

    key = "real/0001.png\nreal/0002.png"
    first = cached_statistics(key, tmp_path / "cache", compute)
    second = cached_statistics(key, tmp_path / "cache", compute)
    assert len(calls) == 1
    for got in (first, second):
        np.testing.assert_array_equal(got[0], mu)
        np.testing.assert_array_equal(got[1], sigma)
    assert statistics_cache_path(key, tmp_path / "cache").is_file()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [statistics_cache_path(key, tmp_path / "cache").name]
    cached_statistics(key + "\nreal/0003.png", tmp_path / "cache", compute)
    assert len(calls) == 2
    statistics_cache_path(key, tmp_path / "cache").write_bytes(b"not a zip")
    cached_statistics(key, tmp_path / "cache", compute)
    assert len(calls) == 3
