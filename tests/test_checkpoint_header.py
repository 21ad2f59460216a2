"""A checkpoint's header, read without torch: `invertfill info` tells what loading the file would give,
from the header alone, and a damaged header is a one-line refusal as the safetensors library's own."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from conftest import make_tiny_generator_config, make_tiny_invertfill_config
from safetensors import safe_open

from app.cli import main
from core.errors import InvertFillError
from core.io.checkpoint import load_checkpoint, save_checkpoint
from core.io.checkpoint_description import describe_checkpoint
from core.io.checkpoint_header import read_header
from core.io.resources import resource_path
from core.nn.config import DiscriminatorConfig
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from core.nn.invertfill import InvertFill

DATA = Path(__file__).parent / "data"
FROZEN = [DATA / "checkpoint-v1.safetensors", DATA / "checkpoint-v1-gan.safetensors"]


def flattened(settings: dict, prefix: str = "") -> list[str]:
    rows = []
    for key, value in settings.items():
        rows += flattened(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"  {prefix}{key}: {value}"]
    return rows


def described_by_loading(path: Path) -> str:
    """What `info` printed when it loaded the whole model (before it read the header alone)."""
    checkpoint = load_checkpoint(path)
    lines = [
        f"{path.name}: InvertFill Studio checkpoint (format {checkpoint.format_version}, {path.stat().st_size / 2**20:.1f} MiB)",
        f"stage: {checkpoint.stage or '-'}",
        f"domain: {checkpoint.domain or '-'}",
        f"framing: {checkpoint.card.framing}",
        f"data terms: {checkpoint.card.data_terms or 'not stated'}",
        f"written by: {checkpoint.producer or '-'}",
    ]
    if checkpoint.mean_latent is not None:
        lines.append(f"mean latent: stored ({checkpoint.mean_latent.numel()} values)")
    for name, module in checkpoint.parts.items():
        kind = {InvertFill: "invertfill", Generator: "generator", Discriminator: "discriminator"}[type(module)]
        lines.append(f"part {name!r}: {kind}, {sum(p.numel() for p in module.parameters()) / 1e6:.2f} M parameters")
        lines += flattened(module.config.to_dict())
    return "\n".join(lines)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> list[Path]:
    """Files of every part kind and ablation, in float32 and float16, the frozen format-1 files and the demo model."""
    folder = tmp_path_factory.mktemp("headers")
    torch.manual_seed(0)
    discriminator = Discriminator(DiscriminatorConfig(resolution=32, channel_base=512, channel_max=16))
    ablation = InvertFill(make_tiny_invertfill_config(32, latent_space="w+", premod=False, sml=False))
    save_checkpoint(folder / "model.safetensors", {"invertfill": InvertFill(make_tiny_invertfill_config(32)), "discriminator": discriminator},
                    "encoder", "faces")
    save_checkpoint(folder / "ablation.safetensors", {"invertfill": ablation}, "encoder", half=True)
    save_checkpoint(folder / "gan.safetensors", {"generator": Generator(make_tiny_generator_config(32)), "discriminator": discriminator},
                    "stylegan2", mean_latent=torch.randn(16))
    demo = [resource_path("models", "faces64-demo.safetensors")]
    return sorted(folder.iterdir()) + FROZEN + [path for path in demo if path.is_file()]


def test_info_from_the_header_reads_as_loading_the_model_did(checkpoints):
    for path in checkpoints:
        assert describe_checkpoint(path) == described_by_loading(path), path.name


def test_parameter_counts_from_the_header_are_the_loaded_parts_own(checkpoints):
    for path in checkpoints:
        header = read_header(path)
        for name, part in load_checkpoint(path).parts.items():
            assert header.parameter_count(name) == sum(p.numel() for p in part.parameters()), (path.name, name)


def rewrite_header(source: Path, target: Path, change) -> Path:
    """A copy of `source` whose JSON header `change(header)` altered in place, tensors kept."""
    data = source.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    change(header)
    encoded = json.dumps(header).encode()
    target.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data[8 + length :])
    return target


def last_tensor(header: dict) -> dict:
    """The entry of the tensor stored last in the file (it does not start at byte 0)."""
    return max((entry for key, entry in header.items() if key != "__metadata__"), key=lambda entry: entry["data_offsets"][0])


def overlap(header: dict) -> None:
    begin, end = last_tensor(header)["data_offsets"]
    last_tensor(header)["data_offsets"] = [0, end - begin]


DAMAGE = {
    "unknown dtype": lambda h: last_tensor(h).update(dtype="F7"),
    "a list for a dtype": lambda h: last_tensor(h).update(dtype=["F32"]),
    "shape without its bytes": lambda h: last_tensor(h).update(shape=[*last_tensor(h)["shape"], 2]),
    "overlapping tensors": overlap,
    "no offsets": lambda h: last_tensor(h).pop("data_offsets"),
    "negative size": lambda h: last_tensor(h).update(shape=[-1]),
    "a number in the metadata": lambda h: h["__metadata__"].update(format_version=2),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_header_is_refused_in_one_line_as_the_safetensors_library_refuses_it(tiny_checkpoint, tmp_path, capsys, damage):
    path = rewrite_header(tiny_checkpoint, tmp_path / "damaged.safetensors", DAMAGE[damage])
    with pytest.raises(Exception):
        with safe_open(str(path), framework="pt") as f:
            [f.get_tensor(key) for key in f.keys()]
    with pytest.raises(InvertFillError, match=r"^damaged.safetensors is not a readable .safetensors file \(truncated or corrupt\): "):
        read_header(path)
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("invertfill: error: damaged.safetensors is not a readable") and "Traceback" not in err


def test_a_file_cut_short_or_grown_is_refused(tiny_checkpoint, tmp_path):
    data = tiny_checkpoint.read_bytes()
    for name, content in {"cut.safetensors": data[:-1], "grown.safetensors": data + b"\0"}.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InvertFillError, match=f"^{name} is not a readable .safetensors file \\(truncated or corrupt\\): the tensors take"):
            read_header(tmp_path / name)


def test_info_refuses_a_part_it_cannot_describe_in_one_line(tiny_checkpoint, tmp_path, capsys):
    def damage_config(header: dict) -> None:
        parts = json.loads(header["__metadata__"]["parts"])
        parts["invertfill"]["config"]["generator"]["blur_kernel"] = 3
        header["__metadata__"]["parts"] = json.dumps(parts)

    path = rewrite_header(tiny_checkpoint, tmp_path / "config.safetensors", damage_config)
    assert main(["info", str(path)]) == 1
    assert capsys.readouterr().err.startswith("invertfill: error: config.safetensors: part 'invertfill' has a damaged config: ")
