"""Stage-2 losses and the VGG16 backbone: zero where they must be, regions, gradients, loading."""

import collections
import hashlib
import io

import pytest
import torch

from core.config import DiscriminatorConfig
from core.discriminator import Discriminator
from core.errors import InvertFillError
from core.invertfill import InvertFillOutput
from training import vgg16
from training.losses import (
    DiscriminatorFeatures,
    LossWeights,
    fidelity_loss,
    gram,
    inpainting_loss,
    l1_hole,
    l1_valid,
    make_backbone,
    tv_loss,
)
from training.vgg16 import VGG16_FILE, download_vgg16, load_vgg16

VGG_CONVS = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256), 14: (256, 256),
             17: (512, 256), 19: (512, 512), 21: (512, 512), 24: (512, 512), 26: (512, 512), 28: (512, 512)}


def torchvision_style_vgg16_file(path, drop: str | None = None) -> None:
    state = collections.OrderedDict()
    for index, (out, inp) in VGG_CONVS.items():
        state[f"features.{index}.weight"] = torch.randn(out, inp, 3, 3) * 0.05
        state[f"features.{index}.bias"] = torch.zeros(out)
    state["classifier.0.weight"] = torch.zeros(4, 4)
    state.pop(drop, None)
    torch.save(state, path)


@pytest.fixture
def backbone():
    return DiscriminatorFeatures(Discriminator(DiscriminatorConfig(resolution=32, channel_base=4096, channel_max=16)))


def fake_output(target: torch.Tensor, mask: torch.Tensor, noise: float) -> InvertFillOutput:
    output = (target + noise * torch.randn_like(target)).requires_grad_()
    composite = torch.where(mask > 0.5, output, target)
    images = tuple((torch.nn.functional.adaptive_avg_pool2d(target, s) + noise * torch.randn(2, 3, s, s)).requires_grad_() for s in (2, 4, 8))
    latents = (torch.zeros(2, 8, 16) + noise).requires_grad_()
    return InvertFillOutput(output, composite, images, latents)


def test_every_term_is_zero_for_a_perfect_fill_and_positive_otherwise(backbone):
    torch.manual_seed(0)
    target = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = (torch.rand(2, 1, 32, 32) > 0.6).float()
    _, terms = inpainting_loss(fake_output(target, mask, 0.0), target, mask, backbone, LossWeights(), torch.zeros(16))
    assert all(v.item() == 0 for name, v in terms.items() if name != "tv"), terms
    flat = torch.full_like(target, 0.3)
    total, terms = inpainting_loss(fake_output(flat, mask, 0.0), flat, mask, backbone, LossWeights(), torch.zeros(16))
    assert total.item() == 0, terms
    out = fake_output(target, mask, 0.3)
    total, terms = inpainting_loss(out, target, mask, backbone, LossWeights(), torch.zeros(16))
    assert all(torch.isfinite(v) and v.item() > 0 for v in terms.values()), terms
    total.backward()
    assert out.output.grad.abs().sum() > 0 and out.latents.grad.abs().sum() > 0
    assert all(image.grad.abs().sum() > 0 for image in out.encoder_images)
    assert all(p.grad is None for p in backbone.parameters())


def test_l1_terms_see_only_their_region_and_tv_only_the_dilated_hole():
    target = torch.zeros(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:4, 2:4] = 1
    in_hole, outside = target.clone(), target.clone()
    in_hole[..., 3, 3] = 1
    outside[..., 7, 7] = 1
    assert l1_hole(in_hole, target, mask) > 0 and l1_valid(in_hole, target, mask) == 0
    assert l1_valid(outside, target, mask) > 0 and l1_hole(outside, target, mask) == 0
    assert tv_loss(outside, mask) == 0 and tv_loss(in_hole, mask) > 0


def test_gram_and_fidelity_by_hand():
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    assert torch.allclose(gram(features), torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4)
    latents = torch.zeros(2, 2, 3)
    latents[0, 0, 0] = 3.0
    latents[0, 1, 1] = 4.0
    assert fidelity_loss(latents, torch.zeros(3)).item() == pytest.approx(2.5)


def test_vgg16_loads_torchvision_layout_and_refuses_bad_files(tmp_path, hub_dir):
    path = tmp_path / VGG16_FILE
    torchvision_style_vgg16_file(path)
    features = load_vgg16(path)(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert [tuple(f.shape) for f in features] == [(2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8)]
    with pytest.raises(InvertFillError, match=f"{VGG16_FILE} were not found"):
        make_backbone("vgg16")
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torchvision_style_vgg16_file(tmp_path / "hub" / "checkpoints" / VGG16_FILE)
    assert isinstance(make_backbone("vgg16"), vgg16.VGG16Features)
    torchvision_style_vgg16_file(tmp_path / "broken.pth", drop="features.12.weight")
    with pytest.raises(InvertFillError, match="features.12.weight"):
        load_vgg16(tmp_path / "broken.pth")
    torch.save({"x": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(InvertFillError, match="not a readable weights file"):
        load_vgg16(tmp_path / "evil.pth")


class Payload:
    def __reduce__(self):
        return (print, ("must not run",))


def test_download_keeps_only_a_file_with_the_right_checksum(tmp_path, monkeypatch):
    good_prefix = VGG16_FILE.split("-")[1].split(".")[0]

    def serve(data: bytes):
        return lambda url: io.BytesIO(data)

    monkeypatch.setattr(vgg16.urllib.request, "urlopen", serve(b"some other bytes"))
    with pytest.raises(InvertFillError, match="wrong checksum"):
        download_vgg16(tmp_path / VGG16_FILE)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(vgg16, "VGG16_FILE", f"vgg16-{hashlib.sha256(b'right bytes').hexdigest()[:8]}.pth")
    monkeypatch.setattr(vgg16.urllib.request, "urlopen", serve(b"right bytes"))
    assert download_vgg16(tmp_path / "vgg.pth").read_bytes() == b"right bytes"
    assert good_prefix == "397923af"


def test_unknown_or_unavailable_backbones_are_clear_errors():
    with pytest.raises(InvertFillError, match="unknown loss backbone"):
        make_backbone("resnet")
    with pytest.raises(InvertFillError, match="needs a stage-1 checkpoint"):
        make_backbone("discriminator")
