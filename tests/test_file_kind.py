"""File-type detection: a safetensors file is one whatever its header length (whose low byte is the
file's first byte, 0x80 as often as any other), through every reader; pickles and zips are not."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import make_tiny_generator_config, make_tiny_invertfill_config
from safetensors import safe_open

from app.cli import main
from app.gui.engine import EngineWorker
from core.errors import InvertFillError
from core.io.checkpoint import load_checkpoint, save_checkpoint
from core.io.file_kind import FileKind, file_kind
from core.io.gan_import import import_gan, is_foreign_gan_file
from core.nn.generator import Generator
from core.nn.invertfill import InvertFill
from training.run_folder import load_resume_state
from training.stage1 import load_initial_gan
from training.stage2 import load_pretrained

CPU = torch.device("cpu")


def header_length(path: Path) -> int:
    return struct.unpack("<Q", path.read_bytes()[:8])[0]


def write_empty_safetensors(path: Path, length: int) -> Path:
    """A safetensors file without tensors whose header, `{}` padded with spaces, is `length` bytes."""
    path.write_bytes(struct.pack("<Q", length) + b"{}".ljust(length))
    return path


def refusal(read, path: Path) -> str:
    with pytest.raises(InvertFillError) as refused:
        read(path)
    return str(refused.value)


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_safetensors_header_of_any_length_is_recognised_whatever_its_first_byte(tmp_path):
    """Unpadded lengths too (other writers need not pad to 8 bytes): every first byte, twice."""
    path = tmp_path / "empty.safetensors"
    first_bytes = set()
    for length in range(2, 514):
        write_empty_safetensors(path, length)
        with safe_open(str(path), framework="pt") as f:
            assert list(f.keys()) == []
        assert file_kind(path) is FileKind.SAFETENSORS, length
        first_bytes.add(path.read_bytes()[0])
    assert first_bytes == set(range(256))


def test_pickles_zips_and_other_files_are_told_apart(tmp_path):
    files = {
        "zip.pt": FileKind.TORCH_ZIP,
        "zipless.pt": FileKind.TORCH_ZIPLESS,
        "plain.zip": FileKind.TORCH_ZIP,
        "empty.bin": FileKind.EMPTY,
        "text.txt": FileKind.OTHER,
        "header-longer-than-file.safetensors": FileKind.OTHER,
        "header-not-json.safetensors": FileKind.OTHER,
        "header-a-json-list.safetensors": FileKind.OTHER,
    }
    torch.save({"w": torch.zeros(2)}, tmp_path / "zip.pt")
    torch.save({"w": torch.zeros(2)}, tmp_path / "zipless.pt", _use_new_zipfile_serialization=False)
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as archive:
        archive.writestr("a.txt", "hello")
    (tmp_path / "empty.bin").write_bytes(b"")
    (tmp_path / "text.txt").write_text("hello, this is text")
    (tmp_path / "header-longer-than-file.safetensors").write_bytes(struct.pack("<Q", 64) + b"{}".ljust(32))
    (tmp_path / "header-not-json.safetensors").write_bytes(struct.pack("<Q", 8) + b"{'a': 1}")
    (tmp_path / "header-a-json-list.safetensors").write_bytes(struct.pack("<Q", 8) + b"[]".ljust(8))
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        (tmp_path / f"protocol{protocol}.pkl").write_bytes(pickle.dumps({"G_ema": [1.0] * 40}, protocol=protocol))
        files[f"protocol{protocol}.pkl"] = FileKind.PICKLE
    assert {name: file_kind(tmp_path / name) for name in files} == files
    with pytest.raises(InvertFillError, match="absent.safetensors cannot be read"):
        file_kind(tmp_path / "absent.safetensors")


def test_every_reader_takes_a_safetensors_file_of_any_header_length_from_8_to_4096_for_one(tmp_path, capsys):
    """Files without tensors: each reader says what is missing, none calls them a pickle."""
    path = tmp_path / "weights.safetensors"
    failures: list[str] = []
    worker = EngineWorker()
    worker.model_failed.connect(failures.append)
    for length in range(8, 4097, 8):
        write_empty_safetensors(path, length)
        not_ours = "weights.safetensors is a safetensors file but not an InvertFill Studio checkpoint"
        assert refusal(load_checkpoint, path) == not_ours
        assert refusal(lambda p: load_initial_gan(p, 32), path) == not_ours
        assert refusal(load_pretrained, path) == not_ours
        code, _, err = cli(capsys, "info", path)
        assert code == 1 and err == f"invertfill: error: {not_ours}\n"
        assert not is_foreign_gan_file(path)
        assert refusal(import_gan, path).startswith("weights.safetensors is a .safetensors file, not a published GAN")
        not_a_resume_state = refusal(lambda p: load_resume_state(p, CPU), path)
        assert not_a_resume_state.startswith("weights.safetensors is a .safetensors model file, not a resume state")
        worker.load_model(path, "cpu")
        assert failures == [not_ours], length
        failures.clear()


def test_every_reader_loads_a_stage1_checkpoint_whatever_its_header_length(tmp_path, capsys):
    """Domain names of 0..248 characters (step 8) move the header through every low byte, 0x80 among them."""
    torch.manual_seed(0)
    generator = Generator(make_tiny_generator_config(32))
    path = tmp_path / "gan.safetensors"
    first_bytes = set()
    for length in range(0, 256, 8):
        save_checkpoint(path, {"generator": generator}, stage="stylegan2", domain="d" * length)
        first_bytes.add(header_length(path) % 256)
        assert load_checkpoint(path).domain == "d" * length
        code, out, _ = cli(capsys, "info", path)
        assert code == 0 and out.startswith("gan.safetensors: InvertFill Studio checkpoint")
        assert not is_foreign_gan_file(path)
        assert refusal(import_gan, path).startswith("gan.safetensors is a .safetensors file, not a published GAN")
        initial, _ = load_initial_gan(path, 32)
        pretrained = load_pretrained(path).generator
        assert torch.equal(initial.synthesis.const, generator.synthesis.const)
        assert torch.equal(pretrained.synthesis.const, generator.synthesis.const)
        assert "not a resume state" in refusal(lambda p: load_resume_state(p, CPU), path)
    assert first_bytes == set(range(0, 256, 8))


def test_the_app_loads_a_model_whatever_its_header_length(tmp_path):
    model = InvertFill(make_tiny_invertfill_config(32))
    model.reset_mean_latent()
    path = tmp_path / "model.safetensors"
    first_bytes = set()
    worker = EngineWorker()
    loaded, failures = [], []
    worker.model_loaded.connect(loaded.append)
    worker.model_failed.connect(failures.append)
    for length in range(0, 256, 8):
        save_checkpoint(path, {"invertfill": model}, stage="encoder", domain="d" * length)
        first_bytes.add(header_length(path) % 256)
        worker.load_model(path, "cpu")
    assert failures == [] and len(loaded) == 32 and loaded[-1].domain == "d" * 248
    assert 0x80 in first_bytes and len(first_bytes) == 32


def test_a_resume_state_still_loads_and_a_pickle_in_its_place_is_refused_unrun(tmp_path):
    state = {"step": 3, "model": {"w": torch.ones(2)}}
    torch.save(state, tmp_path / "resume.pt")
    assert load_resume_state(tmp_path / "resume.pt", CPU)["step"] == 3

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "ran",))

    buffer = io.BytesIO()
    torch.save({"step": Exploit()}, buffer)
    (tmp_path / "evil.pt").write_bytes(buffer.getvalue())
    with pytest.raises(InvertFillError, match="evil.pt is not a readable resume state"):
        load_resume_state(tmp_path / "evil.pt", CPU)
    assert not (tmp_path / "ran").exists()
