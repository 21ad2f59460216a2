"""Every writer of checkpoints reads back what it wrote: its output loads, whatever header length its
metadata gives, and a file that does not load is never left under the final name."""

from __future__ import annotations

import io
import json
import shutil
import struct
import sys
from pathlib import Path

import pytest
import torch
from nvlabs_pickles import nvlabs_networks, write_nvlabs_pickle
from test_rosinality_import import randomized_generator, rosinality_state

from app.cli import main
from core.errors import InvertFillError
from core.io import checkpoint as checkpoint_module
from core.io.checkpoint import checkpoint_write, load_checkpoint, save_checkpoint
from core.io.checkpoint_header import read_header
from core.io.resources import resource_path
from core.nn.config import GeneratorConfig
from core.nn.generator import Generator
from training.finetune_job import FinetuneJob, run_job

DEMO = resource_path("models", "faces64-demo.safetensors")


def first_byte(path: Path) -> int:
    return path.read_bytes()[0]


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_written_file_that_does_not_load_back_is_never_left_in_place(tmp_path, tiny_generator_config, monkeypatch):
    generator = Generator(tiny_generator_config(32))
    path = tmp_path / "gan.safetensors"
    save_checkpoint(path, {"generator": generator}, stage="stylegan2")
    before = path.read_bytes()

    def write_a_pickle(tensors, filename, metadata=None):
        torch.save(tensors, filename)

    monkeypatch.setattr(checkpoint_module, "save_file", write_a_pickle)
    with pytest.raises(InvertFillError) as refused:
        save_checkpoint(path, {"generator": generator}, stage="stylegan2")
    assert str(refused.value).startswith(
        "gan.safetensors was not saved: what was written does not load back (gan.safetensors is a PyTorch pickle file"
    )
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["gan.safetensors"]


def test_a_copy_that_does_not_load_is_refused_under_its_final_name(tmp_path, tiny_checkpoint):
    """The fine-tune job's way of writing its output: a copy of the last snapshot, read back."""
    truncated = tmp_path / "snapshot.safetensors"
    truncated.write_bytes(tiny_checkpoint.read_bytes()[:-100])
    with pytest.raises(InvertFillError, match=r"^tuned.safetensors was not saved: .*\(truncated or corrupt\)"):
        with checkpoint_write(tmp_path / "tuned.safetensors") as tmp:
            shutil.copyfile(truncated, tmp)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot.safetensors"]


def test_export_as_the_recipes_call_it_loads_whatever_header_length_the_domain_gives(tmp_path, tiny_finetune_base, capsys):
    out = tmp_path / "shipped.safetensors"
    first_bytes = set()
    for length in range(0, 256, 8):
        code, _, err = cli(capsys, "export", tiny_finetune_base, "-o", out, "--half", "--no-discriminator",
                           "--domain", "d" * length)
        assert code == 0 and err == ""
        first_bytes.add(first_byte(out))
        checkpoint = load_checkpoint(out)
        assert list(checkpoint.parts) == ["invertfill"] and checkpoint.domain == "d" * length
    assert 0x80 in first_bytes and len(first_bytes) == 32


def test_import_gan_output_loads_for_both_published_layouts(tmp_path, nvlabs_modules, capsys):
    generator, discriminator, w_avg = nvlabs_networks(32)
    write_nvlabs_pickle(tmp_path / "network.pkl", generator, discriminator, w_avg, tmp_path / "ran")
    torch.save({"g_ema": rosinality_state(randomized_generator(GeneratorConfig(resolution=32, style_dim=16, mapping_layers=2,
                                                                                channel_base=512, channel_max=16)))},
               tmp_path / "550000.pt")
    for source, parts in (("network.pkl", ["discriminator", "generator"]), ("550000.pt", ["generator"])):
        code, _, err = cli(capsys, "import-gan", tmp_path / source, "-o", tmp_path / "gan.safetensors")
        assert code == 0 and err == ""
        assert sorted(load_checkpoint(tmp_path / "gan.safetensors").parts) == parts


def test_the_finetune_job_output_loads(tiny_finetune_base, domain_folder, tmp_path, monkeypatch, capsys):
    job = FinetuneJob(model=str(tiny_finetune_base), data=str(domain_folder), output=str(tmp_path / "tuned.safetensors"),
                      run_dir=str(tmp_path / "run"), domain="my photos", device="cpu", steps=1, batch=2, workers=0, previews=0)
    job.save(tmp_path / "job.json")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setattr("training.finetune_job.watch_for_cancel", lambda cancel: None)
    assert run_job(tmp_path / "job.json") == 0
    done = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert done["type"] == "done" and load_checkpoint(done["checkpoint"]).domain == "my photos"


@pytest.mark.slow
@pytest.mark.skipif(not DEMO.is_file(), reason="the faces demo is not shipped")
def test_the_demo_re_saved_with_domain_names_of_0_to_300_characters_loads_at_every_header_length_they_give(tmp_path, capsys):
    """A name one character longer makes the header one byte longer before safetensors pads it to
    8 bytes, so names of 0..300 characters give 38 or 39 header lengths, every low byte among them;
    the demo goes through the writer (which loads what it wrote) once at each, and `invertfill info`
    reads the ones starting 0x80."""
    demo = load_checkpoint(DEMO)
    out = tmp_path / "demo.safetensors"
    save_checkpoint(out, demo.parts, demo.stage, "", half=True, mean_latent=demo.mean_latent)
    data = out.read_bytes()
    unpadded = len(data[8 : 8 + struct.unpack("<Q", data[:8])[0]].rstrip(b" "))
    lengths = {-(-(unpadded + n) // 8) * 8: n for n in reversed(range(301))}
    assert {header % 256 for header in lengths} == set(range(0, 256, 8))
    for header, n in lengths.items():
        save_checkpoint(out, demo.parts, demo.stage, "d" * n, half=True, mean_latent=demo.mean_latent)
        assert struct.unpack("<Q", out.read_bytes()[:8])[0] == header
        assert read_header(out).metadata["domain"] == "d" * n
        if first_byte(out) == 0x80:
            code, info, _ = cli(capsys, "info", out)
            assert code == 0 and f"domain: {'d' * n}" in info
