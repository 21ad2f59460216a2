"""Checkpoints: bit-exact round trip, and a clear one-line refusal of every bad file."""

import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from core.errors import InvertFillError
from core.io import checkpoint as checkpoint_module
from core.io.checkpoint import load_checkpoint, save_checkpoint
from core.io.checkpoint_header import FORMAT_VERSION, read_header
from core.nn.config import DiscriminatorConfig
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from core.nn.invertfill import InvertFill


@pytest.fixture
def tiny_model(tiny_invertfill_config) -> InvertFill:
    model = InvertFill(tiny_invertfill_config(32))
    model.reset_mean_latent()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return model


def assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key].dtype == sb[key].dtype and torch.equal(sa[key], sb[key]), key


def test_invertfill_round_trip_is_bit_exact(tmp_path, tiny_model):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, {"invertfill": tiny_model}, stage="encoder", domain="faces")
    loaded = load_checkpoint(path)
    model = loaded.part("invertfill")
    assert model.config == tiny_model.config
    assert_same_state(model, tiny_model)
    assert torch.equal(model.soft_mean_latent.value, tiny_model.soft_mean_latent.value)
    assert (loaded.stage, loaded.domain, loaded.format_version) == ("encoder", "faces", FORMAT_VERSION)
    image, mask = torch.rand(1, 3, 32, 32) * 2 - 1, torch.ones(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(image, mask, "const").output, tiny_model(image, mask, "const").output)


def test_stylegan2_parts_round_trip_together(tmp_path, tiny_generator_config):
    generator = Generator(tiny_generator_config(32))
    disc = Discriminator(DiscriminatorConfig(resolution=32, channel_base=4096, channel_max=16))
    path = tmp_path / "gan.safetensors"
    save_checkpoint(path, {"generator": generator, "discriminator": disc}, stage="stylegan2")
    loaded = load_checkpoint(path)
    assert_same_state(loaded.part("generator"), generator)
    assert_same_state(loaded.part("discriminator"), disc)
    with pytest.raises(InvertFillError, match="holds discriminator, generator, not invertfill"):
        loaded.part("invertfill")


def test_half_precision_weights_load_widened_to_float32_without_loss(tmp_path, tiny_generator_config):
    generator = Generator(tiny_generator_config(32)).half()
    path = tmp_path / "half.safetensors"
    save_checkpoint(path, {"generator": generator}, stage="stylegan2")
    loaded = load_checkpoint(path).part("generator")
    for key, value in generator.state_dict().items():
        assert loaded.state_dict()[key].dtype == torch.float32
        assert torch.equal(loaded.state_dict()[key], value.float()), key


def test_a_pickle_is_refused_without_being_unpickled(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    torch.save({"g_ema": {}}, path)
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load must not be called"))
    with pytest.raises(InvertFillError, match="pickle"):
        load_checkpoint(path)


def test_a_truncated_file_is_refused(tmp_path, tiny_model):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, {"invertfill": tiny_model}, stage="encoder")
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 1, 20):
        truncated = tmp_path / f"cut{cut}.safetensors"
        truncated.write_bytes(data[:cut])
        with pytest.raises(InvertFillError, match="truncated or corrupt"):
            load_checkpoint(truncated)


@pytest.mark.parametrize("content", [b"", b"hello, this is text", b"\x00" * 64])
def test_empty_or_garbage_files_are_refused(tmp_path, content):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(InvertFillError, match="empty|truncated or corrupt"):
        load_checkpoint(path)


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(InvertFillError, match="does not exist"):
        load_checkpoint(tmp_path / "absent.safetensors")
    with pytest.raises(InvertFillError, match="not a file"):
        load_checkpoint(tmp_path)


def test_a_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(3)}, str(path), metadata={"format": "pt"})
    with pytest.raises(InvertFillError, match="not an InvertFill Studio checkpoint"):
        load_checkpoint(path)


def _rewrite_metadata(path, change) -> None:
    """Rewrite a safetensors header in place (its 8-byte length, then JSON), keeping the tensors."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    change(header["__metadata__"])
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data[8 + length :])


def test_a_config_for_another_architecture_is_refused(tmp_path, tiny_model):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, {"invertfill": tiny_model}, stage="encoder")

    def claim_64_px(metadata):
        parts = json.loads(metadata["parts"])
        parts["invertfill"]["config"]["generator"]["resolution"] = 64
        metadata["parts"] = json.dumps(parts)

    _rewrite_metadata(path, claim_64_px)
    with pytest.raises(InvertFillError, match="does not match its configured architecture"):
        load_checkpoint(path)


def test_a_config_with_unknown_settings_or_kind_is_refused(tmp_path, tiny_model):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, {"invertfill": tiny_model}, stage="encoder")
    _rewrite_metadata(path, lambda m: m.update(parts=m["parts"].replace('"premod"', '"pre_mod"')))
    with pytest.raises(InvertFillError, match="unknown setting"):
        load_checkpoint(path)
    _rewrite_metadata(path, lambda m: m.update(parts=m["parts"].replace('"invertfill", "config"', '"vae", "config"')))
    with pytest.raises(InvertFillError, match="unknown kind"):
        load_checkpoint(path)


def test_a_newer_format_version_is_refused(tmp_path, tiny_model):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, {"invertfill": tiny_model}, stage="encoder")
    _rewrite_metadata(path, lambda m: m.update(format_version="99"))
    with pytest.raises(InvertFillError, match="format version 99"):
        read_header(path)


def test_a_failed_save_leaves_the_previous_file_untouched(tmp_path, tiny_model, monkeypatch):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, {"invertfill": tiny_model}, stage="encoder")
    before = path.read_bytes()

    def fail_halfway(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, "save_file", fail_halfway)
    with pytest.raises(OSError):
        save_checkpoint(path, {"invertfill": tiny_model}, stage="encoder")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
