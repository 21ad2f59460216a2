"""LPIPS: both trunks load torchvision's key layout, the heads load the LPIPS v0.1 layout, the distance behaves."""

import functools

import pytest
import torch

from core.errors import InvertFillError
from training.metrics.lpips import (
    ALEXNET_FILE,
    LPIPS,
    TAP_CHANNELS,
    AlexNetFeatures,
    VGG16ReluFeatures,
    load_lpips,
)
from training.vgg16 import VGG16_FILE

ALEXNET_SHAPES = {
    "features.0.weight": (64, 3, 11, 11),
    "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5),
    "features.6.weight": (384, 192, 3, 3),
    "features.8.weight": (256, 384, 3, 3),
    "features.10.weight": (256, 256, 3, 3),
    "features.10.bias": (256,),
}
VGG16_SHAPES = {
    "features.0.weight": (64, 3, 3, 3),
    "features.2.weight": (64, 64, 3, 3),
    "features.14.weight": (256, 256, 3, 3),
    "features.17.weight": (512, 256, 3, 3),
    "features.28.weight": (512, 512, 3, 3),
    "features.28.bias": (512,),
}
HEAD_SHAPES = {
    "alex": {f"lin{k}.model.1.weight": (1, c, 1, 1) for k, c in enumerate((64, 192, 384, 256, 256))},
    "vgg": {f"lin{k}.model.1.weight": (1, c, 1, 1) for k, c in enumerate((64, 128, 256, 512, 512))},
}


class Payload:
    """Unpickling this would run code: weights_only must refuse it."""


@functools.cache
def _random_trunk_state(trunk: str) -> dict[str, torch.Tensor]:
    """Random values in torchvision's layout: the full alexnet/vgg16 file, classifier included (do not mutate)."""
    generator = torch.Generator().manual_seed(0)
    with torch.device("meta"):
        model = AlexNetFeatures() if trunk == "alex" else VGG16ReluFeatures()
    state = {
        key: torch.randn(value.shape, generator=generator) * (2 / value[0].numel()) ** 0.5
        if value.ndim > 1
        else torch.zeros(value.shape)
        for key, value in model.state_dict().items()
    }
    classifier_in = 256 * 6 * 6 if trunk == "alex" else 512 * 7 * 7
    state["classifier.1.weight" if trunk == "alex" else "classifier.0.weight"] = torch.zeros(4, classifier_in)
    return state


def _random_heads_state(trunk: str) -> dict[str, torch.Tensor]:
    """Non-negative random heads in the LPIPS v0.1 layout (their trained heads are non-negative too)."""
    generator = torch.Generator().manual_seed(1)
    return {key: torch.rand(shape, generator=generator) for key, shape in HEAD_SHAPES[trunk].items()}


@pytest.fixture(scope="module", params=["alex", "vgg"])
def weights_files(request, tmp_path_factory):
    """(trunk, trunk file, heads file) with random weights under the standard names."""
    trunk = request.param
    folder = tmp_path_factory.mktemp(trunk)
    trunk_file = folder / (ALEXNET_FILE if trunk == "alex" else VGG16_FILE)
    heads_file = folder / f"{trunk}.pth"
    torch.save(_random_trunk_state(trunk), trunk_file)
    torch.save(_random_heads_state(trunk), heads_file)
    return trunk, trunk_file, heads_file


@pytest.fixture(scope="module")
def loaded(weights_files):
    """(trunk, LPIPS loaded from the standard files)."""
    trunk, trunk_file, heads_file = weights_files
    return trunk, load_lpips(trunk, trunk_path=trunk_file, heads_path=heads_file)


@pytest.fixture(scope="module")
def images():
    generator = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1
    y = torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1
    return x, y


def test_model_keys_follow_the_torchvision_and_lpips_layouts():
    alex, vgg = AlexNetFeatures().state_dict(), VGG16ReluFeatures().state_dict()
    for key, shape in ALEXNET_SHAPES.items():
        assert tuple(alex[key].shape) == shape, key
    for key, shape in VGG16_SHAPES.items():
        assert tuple(vgg[key].shape) == shape, key
    assert len(alex) == 10 and len(vgg) == 26
    for trunk in ("alex", "vgg"):
        heads = {key: value for key, value in LPIPS(trunk).state_dict().items() if key.startswith("lin")}
        assert {key: tuple(value.shape) for key, value in heads.items()} == HEAD_SHAPES[trunk]


def test_trunks_return_five_taps_of_the_head_widths():
    x = torch.zeros(1, 3, 64, 64)
    alex = [tuple(tap.shape) for tap in AlexNetFeatures()(x)]
    vgg = [tuple(tap.shape) for tap in VGG16ReluFeatures()(x)]
    assert alex == [(1, 64, 15, 15), (1, 192, 7, 7), (1, 384, 3, 3), (1, 256, 3, 3), (1, 256, 3, 3)]
    assert vgg == [(1, 64, 64, 64), (1, 128, 32, 32), (1, 256, 16, 16), (1, 512, 8, 8), (1, 512, 4, 4)]
    assert [shape[1] for shape in alex] == list(TAP_CHANNELS["alex"])


def test_standard_files_load_and_distance_behaves(loaded, images):
    trunk, model = loaded
    assert torch.equal(model.net.state_dict()["features.0.weight"], _random_trunk_state(trunk)["features.0.weight"])
    assert torch.equal(model.lin4.model[1].weight, _random_heads_state(trunk)["lin4.model.1.weight"])
    x, y = images
    with torch.no_grad():
        same, forward, backward = model(x, x), model(x, y), model(y, x)
    assert same.shape == (2,) and forward.shape == (2,)
    assert torch.all(same == 0)
    assert torch.all(forward > 0)
    torch.testing.assert_close(forward, backward)


def test_distance_sends_gradients_to_the_input_but_not_the_weights(loaded, images):
    model = loaded[1]
    assert not model.train().training
    x = images[0].clone().requires_grad_(True)
    model(x, images[1]).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(parameter.grad is None for parameter in model.parameters())


def test_missing_file_says_where_to_put_it(tmp_path, hub_dir):
    with pytest.raises(InvertFillError, match=ALEXNET_FILE) as error:
        load_lpips("alex")
    assert str(hub_dir) in str(error.value) and "\n" not in str(error.value)
    torch.save(_random_trunk_state("alex"), tmp_path / ALEXNET_FILE)
    with pytest.raises(InvertFillError, match=r"alex\.pth was not found at .*PerceptualSimilarity"):
        load_lpips("alex", trunk_path=tmp_path / ALEXNET_FILE, heads_path=tmp_path / "alex.pth")


def test_missing_or_misshaped_key_names_the_file_and_key(tmp_path):
    trunk_file, heads_file = tmp_path / VGG16_FILE, tmp_path / "vgg.pth"
    trunk_state, heads_state = _random_trunk_state("vgg"), _random_heads_state("vgg")
    torch.save({key: value for key, value in trunk_state.items() if key != "features.28.bias"}, trunk_file)
    torch.save(heads_state, heads_file)
    with pytest.raises(InvertFillError, match=r"vgg16-397923af\.pth .*'features\.28\.bias' is missing"):
        load_lpips("vgg", trunk_path=trunk_file, heads_path=heads_file)
    torch.save(trunk_state, trunk_file)
    torch.save({**heads_state, "lin2.model.1.weight": torch.zeros(1, 3, 1, 1)}, heads_file)
    with pytest.raises(InvertFillError, match=r"vgg\.pth .*'lin2\.model\.1\.weight' has shape \(1, 3, 1, 1\)"):
        load_lpips("vgg", trunk_path=trunk_file, heads_path=heads_file)


def test_pickle_with_a_custom_class_is_refused(tmp_path):
    heads_file = tmp_path / "alex.pth"
    torch.save(_random_trunk_state("alex"), tmp_path / ALEXNET_FILE)
    torch.save({**_random_heads_state("alex"), "extra": Payload()}, heads_file)
    with pytest.raises(InvertFillError, match="only plain tensors are accepted") as error:
        load_lpips("alex", trunk_path=tmp_path / ALEXNET_FILE, heads_path=heads_file)
    assert "\n" not in str(error.value)


def test_unknown_trunk_is_a_user_error():
    with pytest.raises(InvertFillError, match="'squeeze'"):
        LPIPS("squeeze")
