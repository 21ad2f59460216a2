"""Checkpoint format versions: the frozen format-1 files keep loading and computing what they did,
and an older file is upgraded by its migrations in order (core.io.checkpoint_migrations)."""

import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from core.errors import InvertFillError
from core.io import checkpoint as checkpoint_module
from core.io import checkpoint_migrations
from core.io.checkpoint import load_checkpoint, save_checkpoint
from core.io.checkpoint_header import ALIGNED_FACE, SCENE, ModelCard
from core.io.checkpoint_migrations import StoredCheckpoint, add_model_card

DATA = Path(__file__).parent / "data"
V1_MODEL, V1_GAN = DATA / "checkpoint-v1.safetensors", DATA / "checkpoint-v1-gan.safetensors"


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    """Inputs and the outputs the format-1 networks gave for them when the files were written."""
    return load_file(DATA / "checkpoint-v1-expected.safetensors")


def test_the_frozen_format_1_model_loads_and_fills_as_it_did(expected):
    loaded = load_checkpoint(V1_MODEL)
    assert (loaded.format_version, loaded.stage, loaded.domain) == (1, "encoder", "tests")
    model = loaded.part("invertfill").eval()
    image, mask = expected["image"], expected["mask"]
    with torch.no_grad():
        out = model(image * (1 - mask), mask, "const")
        logits = loaded.part("discriminator")(image)
    torch.testing.assert_close(out.output, expected["output"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.composite, expected["composite"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits, expected["discriminator_logits"], atol=1e-4, rtol=1e-4)


def test_the_frozen_format_1_gan_loads_with_its_mean_latent_and_draws_as_it_did(expected):
    loaded = load_checkpoint(V1_GAN)
    assert (loaded.format_version, loaded.stage, sorted(loaded.parts)) == (1, "gan", ["discriminator", "generator"])
    assert loaded.mean_latent is not None and loaded.mean_latent.shape == (16,)
    with torch.no_grad():
        image = loaded.part("generator")(expected["z"], noise_mode="const")
    torch.testing.assert_close(image, expected["gan_image"], atol=1e-4, rtol=1e-4)


def test_an_older_file_is_upgraded_by_each_migration_in_turn(monkeypatch, expected):
    applied = []

    def rename_domain(stored: StoredCheckpoint) -> StoredCheckpoint:
        applied.append(stored.version)
        stored = add_model_card(stored)
        return StoredCheckpoint(2, {**stored.metadata, "domain": "tests, renamed by 1 -> 2"}, stored.parts, stored.tensors)

    def rescale_output_layer(stored: StoredCheckpoint) -> StoredCheckpoint:
        applied.append(stored.version)
        tensors = dict(stored.tensors)
        key = "discriminator.final_linear.1.bias"
        tensors[key] = tensors[key] + 1
        return StoredCheckpoint(3, stored.metadata, stored.parts, tensors)

    monkeypatch.setattr(checkpoint_module, "FORMAT_VERSION", 3)
    monkeypatch.setattr(checkpoint_migrations, "MIGRATIONS", {1: rename_domain, 2: rescale_output_layer})
    loaded = load_checkpoint(V1_MODEL)
    assert applied == [1, 2]
    assert (loaded.format_version, loaded.domain) == (1, "tests, renamed by 1 -> 2")
    with torch.no_grad():
        logits = loaded.part("discriminator")(expected["image"])
    torch.testing.assert_close(logits, expected["discriminator_logits"] + 1, atol=1e-4, rtol=1e-4)


def test_a_version_without_a_migration_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setattr(checkpoint_migrations, "MIGRATIONS", {})
    path = tmp_path / "old.safetensors"
    shutil.copy(V1_MODEL, path)
    with pytest.raises(InvertFillError, match="old.safetensors has format version 1, which this InvertFill Studio cannot upgrade"):
        load_checkpoint(path)


def test_a_format_1_file_gains_a_model_card_framed_by_its_domain(tmp_path):
    """Version 1 stated no framing: the faces recipe's models (domain "faces") learned aligned faces."""
    assert load_checkpoint(V1_MODEL).card == ModelCard(SCENE, "")
    stored = load_file(V1_MODEL)
    with safe_open(str(V1_MODEL), framework="pt") as f:
        metadata = f.metadata()
    faces = tmp_path / "faces-v1.safetensors"
    save_file(stored, str(faces), metadata={**metadata, "domain": "faces"})
    assert load_checkpoint(faces).card == ModelCard(ALIGNED_FACE, "")


def test_the_model_card_round_trips_and_a_wrong_framing_is_refused(tmp_path):
    model = load_checkpoint(V1_MODEL).part("invertfill")
    card = ModelCard(ALIGNED_FACE, "CelebA-HQ: non-commercial research use")
    save_checkpoint(tmp_path / "m.safetensors", {"invertfill": model}, "encoder", "faces", card=card)
    loaded = load_checkpoint(tmp_path / "m.safetensors")
    assert (loaded.card, loaded.format_version) == (card, 2)
    with pytest.raises(InvertFillError, match="framing must be aligned-face or scene, got 'portrait'"):
        ModelCard("portrait")
