"""Stage-2 losses and the VGG16 backbone: zeros, regions, gradients, Gram by hand, weight files, download checks."""

from __future__ import annotations

import collections
import hashlib
import io
import urllib.request
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from core.errors import InvertFillError
from core.nn.config import DiscriminatorConfig
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from core.nn.invertfill import InvertFillOutput, compose
from training import vgg16
from training.gan_losses import PathLengthRegularizer
from training.losses import (
    DiscriminatorFeatures,
    LossWeights,
    fidelity_loss,
    gram,
    inpainting_loss,
    l1_hole,
    l1_valid,
    make_backbone,
    msr_loss,
    perceptual_loss,
    style_loss,
    tv_loss,
)
from training.vgg16 import VGG16_FILE, VGG16Features, download_vgg16, load_vgg16
from training.weights_file import fetch_checked

STYLE_DIM = 16
VGG16_CONVS = {
    0: (64, 3),
    2: (64, 64),
    5: (128, 64),
    7: (128, 128),
    10: (256, 128),
    12: (256, 256),
    14: (256, 256),
    17: (512, 256),
    19: (512, 512),
    21: (512, 512),
    24: (512, 512),
    26: (512, 512),
    28: (512, 512),
}
"""torchvision's vgg16 `features` conv indices -> (out, in) channels."""


def write_torchvision_vgg16(path: Path, drop: str | None = None, reshape: str | None = None) -> Path:
    """A random-valued state dict with torchvision's exact VGG16 key names and shapes, torch.save'd."""
    generator = torch.Generator().manual_seed(0)
    state: collections.OrderedDict[str, torch.Tensor] = collections.OrderedDict()
    for index, (out_channels, in_channels) in VGG16_CONVS.items():
        state[f"features.{index}.weight"] = torch.randn(out_channels, in_channels, 3, 3, generator=generator) * 0.05
        state[f"features.{index}.bias"] = torch.randn(out_channels, generator=generator) * 0.01
    for index, (out_features, in_features) in {0: (4096, 25088), 3: (4096, 4096), 6: (1000, 4096)}.items():
        # Stride-0 views of a one-element storage: torchvision's shapes without 0.5 GB on disk.
        state[f"classifier.{index}.weight"] = torch.zeros(1).expand(out_features, in_features)
        state[f"classifier.{index}.bias"] = torch.zeros(out_features)
    if drop is not None:
        del state[drop]
    if reshape is not None:
        state[reshape] = torch.zeros(7)
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def backbone() -> DiscriminatorFeatures:
    torch.manual_seed(0)
    return DiscriminatorFeatures(Discriminator(DiscriminatorConfig(resolution=32, channel_base=4096, channel_max=16)))


@pytest.fixture
def hub_dir(tmp_path: Path):
    """torch.hub's cache pointed at tmp_path/hub for one test."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(previous)


def images_and_mask(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 3, 32, 32, generator=generator) * 2 - 1
    mask = (torch.rand(2, 1, 32, 32, generator=generator) > 0.6).float()
    return target, mask


def model_output(target: torch.Tensor, mask: torch.Tensor, noise: float, mean_latent: torch.Tensor) -> InvertFillOutput:
    """What InvertFill would return: O_G = target + noise, O_E^r = area-downsampled target + noise, w* = w̄ + noise."""
    generator = torch.Generator().manual_seed(1)
    output = (target + noise * torch.randn(target.shape, generator=generator)).requires_grad_()
    encoder_images = tuple(
        (
            F.adaptive_avg_pool2d(target, size) + noise * torch.randn(2, 3, size, size, generator=generator)
        ).requires_grad_()
        for size in (2, 4, 8)
    )
    latents = (
        mean_latent.expand(2, 6, STYLE_DIM) + noise * torch.randn(2, 6, STYLE_DIM, generator=generator)
    ).requires_grad_()
    return InvertFillOutput(output, compose(target * (1 - mask), output, mask), encoder_images, latents)


def test_every_term_is_zero_for_a_perfect_fill(backbone):
    target, mask = images_and_mask()
    mean_latent = torch.randn(STYLE_DIM)
    _, terms = inpainting_loss(
        model_output(target, mask, 0.0, mean_latent), target, mask, backbone, LossWeights(), mean_latent
    )
    assert set(terms) == {"valid", "hole", "perceptual", "style", "tv", "msr", "fid"}
    assert all(terms[name].item() == 0 for name in terms if name != "tv"), terms
    assert torch.isfinite(terms["tv"]) and terms["tv"] > 0  # a prior on the composition alone
    flat = torch.full_like(target, 0.3)
    total, terms = inpainting_loss(
        model_output(flat, mask, 0.0, mean_latent), flat, mask, backbone, LossWeights(), mean_latent
    )
    assert total.item() == 0, terms


def test_every_term_is_positive_when_the_fill_differs_and_gradients_reach_the_model(backbone):
    target, mask = images_and_mask()
    mean_latent = torch.randn(STYLE_DIM)
    out = model_output(target, mask, 0.3, mean_latent)
    total, terms = inpainting_loss(out, target, mask, backbone, LossWeights(), mean_latent)
    assert all(torch.isfinite(value) and value.item() > 0 for value in terms.values()), terms
    assert total.item() == pytest.approx(sum(value.item() for value in terms.values()), rel=1e-5)
    total.backward()
    assert out.output.grad.abs().sum() > 0 and out.latents.grad.abs().sum() > 0
    assert all(image.grad.abs().sum() > 0 for image in out.encoder_images)
    assert all(p.grad is None for p in backbone.parameters())


def test_weights_scale_their_terms_and_travel_as_data(backbone):
    target, mask = images_and_mask()
    mean_latent = torch.zeros(STYLE_DIM)
    out = model_output(target, mask, 0.3, mean_latent)
    _, base = inpainting_loss(out, target, mask, backbone, LossWeights(), mean_latent)
    doubled_weights = LossWeights(**{name: 2 * value for name, value in LossWeights().to_dict().items()})
    _, doubled = inpainting_loss(out, target, mask, backbone, doubled_weights, mean_latent)
    for name in ("valid", "hole", "perceptual", "style", "tv", "fid"):
        assert doubled[name].item() == pytest.approx(2 * base[name].item(), rel=1e-5), name
    assert LossWeights.from_dict(doubled_weights.to_dict()) == doubled_weights
    with pytest.raises(InvertFillError, match="hole"):
        LossWeights(hole=-1.0)
    with pytest.raises(InvertFillError, match="unknown"):
        LossWeights.from_dict({"lpips": 1.0})


def test_l1_terms_see_only_their_region():
    target, mask = torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 8)
    mask[..., 2:4, 2:4] = 1
    in_hole, outside = target.clone(), target.clone()
    in_hole[0, 1, 3, 3] = 1
    outside[0, 1, 7, 7] = 1
    assert l1_hole(in_hole, target, mask).item() == pytest.approx(1 / in_hole.numel())
    assert l1_valid(in_hole, target, mask).item() == 0
    assert l1_valid(outside, target, mask).item() == pytest.approx(1 / in_hole.numel())
    assert l1_hole(outside, target, mask).item() == 0


def test_tv_sees_only_the_hole_dilated_by_one_pixel():
    composite, mask = torch.zeros(1, 3, 10, 10), torch.zeros(1, 1, 10, 10)
    mask[..., 4:6, 4:6] = 1  # dilated: rows and columns 3..6
    assert tv_loss(composite, mask).item() == 0
    for row, col, counted in [(4, 4, True), (3, 3, True), (6, 5, True), (2, 4, False), (7, 7, False), (0, 0, False)]:
        changed = composite.clone()
        changed[0, 0, row, col] = 1
        assert (tv_loss(changed, mask).item() > 0) == counted, (row, col)
    changed = composite.clone()
    changed[0, 0, 4, 4] = 1  # four neighbours in the dilated hole, one channel
    assert tv_loss(changed, mask).item() == pytest.approx(4 / composite.numel())


def test_gram_matches_a_hand_computation():
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # N=1, C=2, H=1, W=2
    expected = torch.tensor([[[1 * 1 + 2 * 2, 1 * 3 + 2 * 4], [3 * 1 + 4 * 2, 3 * 3 + 4 * 4]]]) / (2 * 1 * 2)
    assert torch.equal(gram(features), expected)


def test_perceptual_and_style_compare_output_and_composite_with_the_target(backbone):
    target, mask = images_and_mask()
    output = target + 0.2
    composite = compose(target, output, mask)
    assert perceptual_loss(backbone, target, target, target).item() == 0
    assert style_loss(backbone, target, target, target).item() == 0
    only_output = perceptual_loss(backbone, output, target, target)
    both = perceptual_loss(backbone, output, composite, target)
    assert 0 < only_output < both
    assert 0 < style_loss(backbone, output, target, target) < style_loss(backbone, output, composite, target)


def test_msr_compares_each_encoder_image_with_the_area_downsampled_target(backbone):
    target, _ = images_and_mask()
    exact = tuple(F.avg_pool2d(target, 32 // size) for size in (2, 4, 8))
    assert msr_loss(backbone, exact, target).item() == 0
    off = (exact[0] + 0.1, exact[1], exact[2])
    loss = msr_loss(backbone, off, target, perceptual_weight=0.0, style_weight=0.0)
    assert loss.item() == pytest.approx(0.01, rel=1e-4)  # the MSE of the 2×2 scale alone
    assert msr_loss(backbone, off, target) > loss


def test_fidelity_is_the_l2_norm_over_the_code_averaged_over_the_batch():
    mean_latent = torch.randn(STYLE_DIM)
    latents = mean_latent.expand(2, 3, STYLE_DIM).clone().requires_grad_()
    loss = fidelity_loss(latents, mean_latent)
    assert loss.item() == 0
    loss.backward()
    assert torch.equal(latents.grad, torch.zeros_like(latents))  # finite at the minimum
    shifted = mean_latent.expand(2, 3, STYLE_DIM).clone()
    shifted[0, 0, 0] += 3.0
    shifted[0, 1, 1] += 4.0
    assert fidelity_loss(shifted, mean_latent).item() == pytest.approx(2.5)


def test_discriminator_features_are_four_frozen_maps(backbone):
    images = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_()
    backbone.train()
    features = backbone(images)
    assert not backbone.training and not backbone.discriminator.training
    assert [tuple(f.shape[-2:]) for f in features] == [(32, 32), (16, 16), (8, 8), (4, 4)]
    sum(f.square().mean() for f in features).backward()
    assert images.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in backbone.parameters())


def test_vgg16_reads_torchvision_layout_and_gives_pool1_to_pool3(tmp_path):
    model = load_vgg16(write_torchvision_vgg16(tmp_path / VGG16_FILE))
    images = (torch.rand(2, 3, 64, 64) * 2 - 1).requires_grad_()
    features = model(images)
    assert [tuple(f.shape) for f in features] == [(2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8)]
    sum(f.mean() for f in features).backward()
    assert images.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in model.parameters())
    assert sorted(model.state_dict()) == sorted(
        f"features.{i}.{kind}" for i in (0, 2, 5, 7, 10, 12, 14) for kind in ("weight", "bias")
    )
    saved = torch.load(tmp_path / VGG16_FILE, weights_only=True)
    assert torch.equal(model.features[14].weight, saved["features.14.weight"])


def test_vgg16_is_found_in_the_torch_hub_cache(hub_dir):
    with pytest.raises(InvertFillError, match=rf"{VGG16_FILE} were not found at .*hub.*download_vgg16"):
        make_backbone("vgg16")
    (hub_dir / "checkpoints").mkdir(parents=True)
    write_torchvision_vgg16(hub_dir / "checkpoints" / VGG16_FILE)
    assert isinstance(make_backbone("vgg16"), VGG16Features)


def test_vgg16_refuses_missing_files_keys_shapes_and_pickled_objects(tmp_path):
    with pytest.raises(InvertFillError, match=f"{VGG16_FILE} were not found"):
        load_vgg16(tmp_path / VGG16_FILE)
    with pytest.raises(InvertFillError, match=r"broken\.pth .*'features\.12\.weight' is missing"):
        load_vgg16(write_torchvision_vgg16(tmp_path / "broken.pth", drop="features.12.weight"))
    with pytest.raises(
        InvertFillError, match=r"odd\.pth .*'features\.5\.bias' has shape \(7,\), expected shape \(128,\)"
    ):
        load_vgg16(write_torchvision_vgg16(tmp_path / "odd.pth", reshape="features.5.bias"))
    torch.save({"features.0.weight": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(InvertFillError, match=r"evil\.pth is not a readable weights file"):
        load_vgg16(tmp_path / "evil.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(InvertFillError, match=r"text\.pth is not a readable weights file"):
        load_vgg16(tmp_path / "text.pth")


class Payload:
    """Unpickling this would run code: weights_only must refuse it."""

    def __reduce__(self):
        return (print, ("unpickled an object",))


def serve_file(monkeypatch: pytest.MonkeyPatch, source: Path) -> list[str]:
    """Make urllib.request.urlopen serve `source`'s bytes for any URL; returns the URLs asked for."""
    asked: list[str] = []

    def urlopen(url: str, timeout: float | None = None) -> io.BufferedReader:
        asked.append(url)
        return source.open("rb")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


def test_download_keeps_a_file_only_when_its_sha256_prefix_matches(tmp_path, monkeypatch):
    source = tmp_path / "served.bin"
    source.write_bytes(b"weights" * 100_000)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    serve_file(monkeypatch, source)
    target = tmp_path / "cache" / "weights-x.pth"
    with pytest.raises(InvertFillError, match="SHA-256"):
        fetch_checked("https://example.invalid/w.pth", target, "0" if digest[0] != "0" else "1")
    assert list(target.parent.iterdir()) == []  # the partial file is gone
    assert fetch_checked("https://example.invalid/w.pth", target, digest[:8]) == target
    assert target.read_bytes() == source.read_bytes()
    assert list(target.parent.iterdir()) == [target]


def test_download_vgg16_checks_torchvisions_hash_prefix(hub_dir, tmp_path, monkeypatch):
    source = tmp_path / "served.bin"
    source.write_bytes(b"not the VGG16 weights")
    asked = serve_file(monkeypatch, source)
    with pytest.raises(InvertFillError, match="expected 397923af"):
        download_vgg16()
    assert asked == [vgg16.VGG16_URL]
    assert not (hub_dir / "checkpoints" / VGG16_FILE).exists()
    assert list((hub_dir / "checkpoints").iterdir()) == []


def test_unknown_or_unavailable_backbones_are_clear_errors():
    with pytest.raises(InvertFillError, match="unknown loss backbone 'resnet'"):
        make_backbone("resnet")
    with pytest.raises(InvertFillError, match='needs a checkpoint that holds a discriminator; use "none"'):
        make_backbone("discriminator")


def test_path_length_noise_follows_the_given_generator(tiny_generator_config):
    generator = Generator(tiny_generator_config(32))
    z = torch.randn(2, generator.config.style_dim, generator=torch.Generator().manual_seed(0))
    ws = generator.styles(z).detach().requires_grad_()
    images = generator.synthesis(ws, "const")

    def penalty(seed: int) -> torch.Tensor:
        return PathLengthRegularizer()(images, ws, generator=torch.Generator().manual_seed(seed)).detach()

    first = penalty(1)
    torch.manual_seed(99)
    torch.randn(1000)
    assert torch.equal(penalty(1), first)
    assert not torch.equal(penalty(2), first)
