"""Fine-tuning with nothing but the model file (issue 30): the discriminator as loss backbone, a loss
set without perceptual terms for a model without one, a discriminator trained afterwards for such
a model, and no run folder left by a run that failed."""

import json

import numpy as np
import pytest
import torch
from conftest import make_tiny_invertfill_config

from app.cli import main
from core.io.checkpoint import load_checkpoint, save_checkpoint
from core.io.checkpoint_header import ModelCard
from core.io.image_io import Picture, write_image
from core.nn.discriminator import Discriminator
from core.nn.invertfill import InvertFill
from core.nn.random_init import seeded_initialization
from training.config import GanTrainConfig, LossWeights
from training.discriminator_fit import train_discriminator
from training.losses import inpainting_loss, make_backbone, msr_loss
from training.stage2 import Stage2Trainer, finetune_config, has_discriminator, train_encoder

CARD = ModelCard("aligned-face", "made-up faces: tests only")


@pytest.fixture(scope="module")
def bare_model(tmp_path_factory):
    """A 32-px InvertFill model kept without its discriminator, with a model card."""
    torch.manual_seed(2)
    model = InvertFill(make_tiny_invertfill_config(32))
    model.reset_mean_latent()
    path = tmp_path_factory.mktemp("bare") / "bare.safetensors"
    save_checkpoint(path, {"invertfill": model}, stage="encoder", domain="faces", half=True, card=CARD)
    return path


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6):
        small = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
        write_image(tmp_path / "photos" / f"{i}.png", Picture(np.kron(small, np.ones((10, 10, 1), np.uint8))))
    return tmp_path / "photos"


def test_without_a_backbone_the_loss_has_no_perceptual_or_style_terms_and_msr_is_the_mse_alone():
    assert make_backbone("none") is None
    torch.manual_seed(0)
    model = InvertFill(make_tiny_invertfill_config(32))
    model.reset_mean_latent()
    target = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 8:24, 8:24] = 1
    out = model(target * (1 - mask), mask, "const")
    total, terms = inpainting_loss(out, target, mask, None, LossWeights(), model.soft_mean_latent.value)
    assert set(terms) == {"valid", "hole", "tv", "msr", "fid"}
    assert torch.allclose(total, torch.stack(list(terms.values())).sum())
    mse = sum(torch.nn.functional.mse_loss(image, torch.nn.functional.adaptive_avg_pool2d(target, image.shape[-2:]))
              for image in out.encoder_images)
    assert torch.allclose(msr_loss(None, out.encoder_images, target), mse)
    total.backward()
    assert any(p.grad is not None for p in model.encoder.parameters())


def test_a_model_without_a_discriminator_fine_tunes_with_the_pixel_loss_set_in_an_empty_torch_hub(
    bare_model, tiny_finetune_base, photos, tmp_path, hub_dir, capsys
):
    assert not has_discriminator(bare_model) and has_discriminator(tiny_finetune_base)
    assert finetune_config(tiny_finetune_base).backbone == "discriminator"
    assert finetune_config(bare_model).backbone == "none"
    code = main(["finetune", "--model", str(bare_model), "--data", str(photos), "--out", str(tmp_path / "run"),
                 "--kimg", "0.008", "--batch", "4", "--workers", "0", "--device", "cpu", "--progress", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "loss: no perceptual or style losses (bare.safetensors holds no discriminator)" in err and "--backbone vgg16 --vgg FILE" in err
    ticks = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert ticks and "loss_perceptual" not in ticks[-1] and "loss_hole" in ticks[-1]
    tuned = load_checkpoint(next((tmp_path / "run" / "checkpoints").glob("network-*.safetensors")))
    assert tuned.card == CARD and set(tuned.parts) == {"invertfill"}
    assert not list(hub_dir.rglob("*"))


def test_the_vgg16_backbone_stays_an_option_and_without_its_file_the_cli_refuses_before_making_a_folder(
    tiny_finetune_base, photos, tmp_path, hub_dir, capsys
):
    code = main(["finetune", "--model", str(tiny_finetune_base), "--data", str(photos), "--out", str(tmp_path / "run"),
                 "--backbone", "vgg16", "--vgg", str(tmp_path / "missing.pth"), "--kimg", "0.008", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and "missing.pth were not found" in err.splitlines()[-1]
    assert not (tmp_path / "run").exists()


def test_a_run_that_fails_before_its_first_checkpoint_removes_the_run_folder_it_made(tiny_finetune_base, photos, tmp_path, monkeypatch):
    def out_of_memory(self, images):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(Stage2Trainer, "train_step", out_of_memory)
    config = finetune_config(tiny_finetune_base, batch=2, kimg=0.004, workers=0)
    with pytest.raises(RuntimeError, match="out of memory"):
        train_encoder(config, tiny_finetune_base, photos, tmp_path / "run", finetune=True, device="cpu")
    assert not (tmp_path / "run").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the user's")
    with pytest.raises(RuntimeError, match="out of memory"):
        train_encoder(config, tiny_finetune_base, photos, tmp_path / "mine", finetune=True, device="cpu")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "the user's"


def test_a_discriminator_trained_for_a_kept_model_leaves_the_model_bit_for_bit_and_serves_as_backbone(bare_model, photos, tmp_path):
    config = GanTrainConfig.from_dict({
        "generator": {"resolution": 32}, "discriminator": {"resolution": 32, "channel_base": 4096, "channel_max": 16},
        "batch": 4, "kimg": 0.016, "tick_kimg": 0.008, "snapshot_ticks": 1, "workers": 0,
    })
    result = train_discriminator(config, bare_model, photos, tmp_path / "run", device="cpu")
    assert result.images == 16 and not result.interrupted
    written = load_checkpoint(result.checkpoint)
    before = load_checkpoint(bare_model)
    assert set(written.parts) == {"invertfill", "discriminator"}
    assert (written.stage, written.domain, written.card) == (before.stage, before.domain, before.card)
    ours, theirs = written.part("invertfill").state_dict(), before.part("invertfill").state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    with seeded_initialization(config.seed):
        fresh = Discriminator(result.discriminator.config).state_dict()
    assert any(not torch.equal(fresh[k], v) for k, v in written.part("discriminator").state_dict().items())
    assert finetune_config(result.checkpoint).backbone == "discriminator"
    shipped = tmp_path / "shipped.safetensors"
    assert main(["export", str(result.checkpoint), "-o", str(shipped), "--half"]) == 0
    exported = load_checkpoint(shipped).part("invertfill").state_dict()
    assert all(torch.equal(exported[k], theirs[k]) for k in theirs)
