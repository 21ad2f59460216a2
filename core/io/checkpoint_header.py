"""A checkpoint's header, read without torch.

A safetensors file starts with an 8-byte little-endian length, then a JSON object: our metadata
under "__metadata__" (strings: `format`, `format_version`, `stage`, `domain`, `producer`, the
model card's `framing` and `data_terms`, and `parts`, the JSON {part: {"kind": ..., "config": {...}}})
and, for every tensor, its dtype, shape and byte range. core.io.checkpoint reads every file through
`read_header` before its tensors; `invertfill info` needs nothing more (core.io.checkpoint_description).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InvertFillError
from core.nn.config import DiscriminatorConfig, GeneratorConfig, InvertFillConfig, Serializable

from .file_kind import FileKind, file_kind

FORMAT = "invertfill-studio"
FORMAT_VERSION = 2
PART_CONFIGS: dict[str, type[Serializable]] = {
    "invertfill": InvertFillConfig,
    "generator": GeneratorConfig,
    "discriminator": DiscriminatorConfig,
}
"""Every kind of model part, with the config it is built from (core.io.checkpoint.PART_MODELS has its network)."""
MEAN_LATENT = "mean_latent"
ALIGNED_FACE, SCENE = "aligned-face", "scene"
FRAMINGS = (ALIGNED_FACE, SCENE)
STORED_BUFFERS = ("noise_const", "soft_mean_latent.target", "soft_mean_latent.online")
"""The networks' state-dict entries that are buffers, not parameters (tests/test_checkpoint_header.py
holds this list to core.nn)."""
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
    "U32": 4, "I32": 4, "F32": 4,
    "U64": 8, "I64": 8, "F64": 8,
}
"""Bytes per value of each safetensors dtype."""


@dataclass(frozen=True)
class ModelCard:
    """What a model learned from. framing: how its training images were framed, `aligned-face` (a
    whole face fills the square) or `scene` (any square window of a photo); the fill plans its
    windows by it. data_terms: the terms of its training data, which a model inherits ("" unknown)."""

    framing: str = SCENE
    data_terms: str = ""

    def __post_init__(self) -> None:
        if self.framing not in FRAMINGS:
            raise InvertFillError(f"framing must be {' or '.join(FRAMINGS)}, got {self.framing!r}")


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header states it: its safetensors dtype (e.g. "F32") and shape."""

    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class CheckpointHeader:
    """An InvertFill Studio checkpoint's header: the format version it was written in, its metadata
    (as written, before any upgrade) and its tensors by stored name (`<part>.<state-dict key>`)."""

    version: int
    metadata: dict[str, str]
    tensors: dict[str, TensorEntry]

    def parameter_count(self, part: str) -> int:
        """How many parameters `part` has: the values of its stored tensors, less its buffers."""
        prefix = f"{part}."
        return sum(
            entry.numel
            for name, entry in self.tensors.items()
            if name.startswith(prefix) and not any(name.endswith(f".{buffer}") for buffer in STORED_BUFFERS)
        )


def check_file(path: Path) -> None:
    """A one-line InvertFillError unless `path` is a safetensors file (never unpickled to find out)."""
    if not path.exists():
        raise InvertFillError(f"checkpoint {path} does not exist")
    if not path.is_file():
        raise InvertFillError(f"checkpoint {path} is not a file")
    kind = file_kind(path)
    if kind is FileKind.EMPTY:
        raise InvertFillError(f"checkpoint {path.name} is empty")
    if kind.is_pickled:
        raise InvertFillError(
            f"{path.name} is a PyTorch pickle file, which is never loaded as a model because it can run code; "
            f"a published StyleGAN2 generator in it can be converted with `invertfill import-gan {path.name} -o gan.safetensors`"
        )
    if kind is not FileKind.SAFETENSORS:
        raise InvertFillError(
            f"{path.name} is not a readable .safetensors file (truncated or corrupt): "
            "it does not start with a safetensors header"
        )


def _tensor_entries(header: dict[str, Any], data_bytes: int) -> dict[str, TensorEntry]:
    """The tensors of a safetensors header, checked as the safetensors library checks them: known
    dtypes, sizes that match the shapes, and byte ranges that tile the `data_bytes` after the header."""
    entries, spans = {}, []
    for name, value in header.items():
        try:
            dtype, shape, (begin, end) = value["dtype"], tuple(value["shape"]), value["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise ValueError(f"tensor {name!r} is not fully described") from None
        if not isinstance(dtype, str) or dtype not in DTYPE_BYTES or not all(isinstance(n, int) and n >= 0 for n in (*shape, begin, end)):
            raise ValueError(f"tensor {name!r} has an unknown dtype or a negative size")
        needed = math.prod(shape) * DTYPE_BYTES[dtype]
        if end - begin != needed:
            raise ValueError(f"tensor {name!r} takes {end - begin} bytes, not the {needed} its shape needs")
        entries[name] = TensorEntry(dtype, shape)
        spans.append((begin, end))
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise ValueError("the tensors' byte ranges overlap or leave gaps")
        position = end
    if position != data_bytes:
        raise ValueError(f"the tensors take {position} bytes, but {data_bytes} follow the header")
    return entries


def _parse(path: Path) -> tuple[dict[str, str], dict[str, TensorEntry]]:
    """The metadata and tensor entries of the safetensors file at `path` (check_file has passed)."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        length = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(length).decode("utf-8"))
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(value, str) for value in metadata.values()):
        raise ValueError("its metadata are not all strings")
    return metadata, _tensor_entries(header, size - 8 - length)


def _format_version(path: Path, metadata: dict[str, str]) -> int:
    """The format version a checkpoint's metadata states (0 when it states none)."""
    try:
        return int(metadata.get("format_version", "0"))
    except ValueError:
        raise InvertFillError(f"{path.name}: its format version {metadata['format_version']!r} is not a number") from None


def read_header(path: str | os.PathLike[str]) -> CheckpointHeader:
    """The header of an InvertFill Studio checkpoint, after checking that it is one of a format
    version this code reads; every problem is a one-line InvertFillError."""
    path = Path(path)
    check_file(path)
    try:
        metadata, tensors = _parse(path)
    except (OSError, ValueError) as error:
        raise InvertFillError(f"{path.name} is not a readable .safetensors file (truncated or corrupt): {error}") from None
    if metadata.get("format") != FORMAT:
        raise InvertFillError(f"{path.name} is a safetensors file but not an InvertFill Studio checkpoint")
    version = _format_version(path, metadata)
    if version > FORMAT_VERSION:
        raise InvertFillError(f"{path.name} has format version {version}; this InvertFill Studio reads up to {FORMAT_VERSION}")
    return CheckpointHeader(version, metadata, tensors)


def read_parts(path: Path, metadata: dict[str, str]) -> dict[str, Any]:
    """The part descriptions {part: {"kind": ..., "config": {...}}} of a checkpoint's metadata."""
    try:
        described = json.loads(metadata["parts"])
    except (KeyError, json.JSONDecodeError):
        raise InvertFillError(f"{path.name}: its description of model parts is missing or damaged") from None
    if not isinstance(described, dict) or not described:
        raise InvertFillError(f"{path.name}: it describes no model parts")
    return described


def part_config(path: Path, name: str, description: Any) -> Serializable:
    """The config of the part `name` from its description, checked (kind and every setting)."""
    if not isinstance(description, dict) or description.get("kind") not in PART_CONFIGS:
        raise InvertFillError(f"{path.name}: part {name!r} has an unknown kind")
    try:
        return PART_CONFIGS[description["kind"]].from_dict(description.get("config", {}))
    except (TypeError, ValueError) as error:
        raise InvertFillError(f"{path.name}: part {name!r} has a damaged config: {error}") from None


def read_card(path: Path, metadata: dict[str, str]) -> ModelCard:
    """The model card of a checkpoint's metadata (upgraded to the current format version)."""
    try:
        return ModelCard(metadata["framing"], metadata["data_terms"])
    except (KeyError, InvertFillError) as error:
        raise InvertFillError(f"{path.name}: its model card (framing, data terms) is missing or damaged: {error}") from None
