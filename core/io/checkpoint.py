"""Checkpoints: one `.safetensors` file holding one or more named model parts.

Tensors are stored as `<part>.<state-dict key>`; the metadata (strings only, as safetensors
requires) holds `format`, `format_version`, `stage`, `domain`, `producer`, the model card's
`framing` and `data_terms` (see ModelCard), and `parts`, a JSON object
{part: {"kind": ..., "config": {...}}}; core.io.checkpoint_header reads them without torch.
The mean latent w̄ of an InvertFill model is the tensor `<part>.soft_mean_latent.online`, stored
bit-exactly like every other tensor; a StyleGAN2 generator imported with its published mean
latent (NVlabs' `w_avg`, rosinality's `latent_avg`) keeps it as the tensor `mean_latent`,
(style_dim,). Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from core import __version__
from core.errors import InvertFillError
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from core.nn.invertfill import InvertFill

from .atomic_write import atomic_write
from .checkpoint_header import FORMAT, FORMAT_VERSION, MEAN_LATENT, ModelCard, part_config, read_card, read_header, read_parts
from .checkpoint_migrations import StoredCheckpoint, upgrade

PART_MODELS: dict[str, type[nn.Module]] = {"invertfill": InvertFill, "generator": Generator, "discriminator": Discriminator}
"""The network of every kind of model part (core.io.checkpoint_header.PART_CONFIGS has its config)."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: its model parts (e.g. "invertfill", or "generator" + "discriminator")."""

    path: Path
    parts: dict[str, nn.Module]
    stage: str
    domain: str
    format_version: int
    """the version the file was written in (it is upgraded to FORMAT_VERSION on loading)"""
    producer: str
    card: ModelCard = ModelCard()
    mean_latent: torch.Tensor | None = None

    def part(self, name: str) -> nn.Module:
        """The part called `name`, or a one-line error naming what the file holds instead."""
        if name not in self.parts:
            held = ", ".join(sorted(self.parts))
            raise InvertFillError(f"{self.path.name} holds {held}, not {name}")
        return self.parts[name]


def _kind_of(module: nn.Module) -> str:
    for kind, model_class in PART_MODELS.items():
        if type(module) is model_class:
            return kind
    raise TypeError(f"cannot checkpoint a {type(module).__name__}")


def save_checkpoint(
    path: str | os.PathLike[str],
    parts: dict[str, nn.Module],
    stage: str,
    domain: str = "",
    half: bool = False,
    mean_latent: torch.Tensor | None = None,
    card: ModelCard = ModelCard(),
) -> None:
    """Write `parts` (each with a `.config`) atomically to `path` (.safetensors); with `half`,
    floating-point tensors are stored as float16 (half the size, for shipping a model).
    `mean_latent` (style_dim,) is a GAN's own mean latent, kept beside its parts; `card` says
    what the model learned from."""
    tensors: dict[str, torch.Tensor] = {}
    if mean_latent is not None:
        tensors[MEAN_LATENT] = mean_latent.detach().cpu().to(torch.float16 if half else torch.float32).contiguous()
    described = {}
    for name, module in parts.items():
        described[name] = {"kind": _kind_of(module), "config": module.config.to_dict()}
        for key, value in module.state_dict().items():
            value = value.detach().cpu()
            if half and value.is_floating_point():
                value = value.to(torch.float16)
            tensors[f"{name}.{key}"] = value.contiguous()
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "stage": stage,
        "domain": domain,
        "producer": f"invertfill-studio {__version__}",
        "framing": card.framing,
        "data_terms": card.data_terms,
        "parts": json.dumps(described),
    }
    with checkpoint_write(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


@contextmanager
def checkpoint_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write a checkpoint to; it replaces `path` only once it loads back
    (load_checkpoint), so a file that does not load is never left under the name `path`."""
    target = Path(path)
    with atomic_write(target) as tmp:
        yield tmp
        try:
            load_checkpoint(tmp)
        except InvertFillError as error:
            reason = str(error).replace(tmp.name, target.name)
            raise InvertFillError(f"{target.name} was not saved: what was written does not load back ({reason})") from None


def _build_part(path: Path, name: str, description: Any) -> nn.Module:
    config = part_config(path, name, description)
    return PART_MODELS[description["kind"]](config)


def _check_tensors(path: Path, name: str, expected: dict[str, torch.Tensor], found: dict[str, tuple[int, ...]]) -> None:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        example = (missing or unexpected)[0]
        raise InvertFillError(
            f"{path.name}: part {name!r} does not match its configured architecture "
            f"({len(missing)} tensors missing, {len(unexpected)} unexpected, e.g. {example!r})"
        )
    for key, tensor in expected.items():
        if tuple(tensor.shape) != found[key]:
            raise InvertFillError(
                f"{path.name}: part {name!r} does not match its configured architecture "
                f"({key!r} is {found[key]} in the file but {tuple(tensor.shape)} in the model)"
            )


def _check_mean_latent(path: Path, mean_latent: torch.Tensor | None, parts: dict[str, nn.Module]) -> None:
    if mean_latent is None:
        return
    generator = parts.get("generator")
    if not isinstance(generator, Generator):
        raise InvertFillError(f"{path.name}: it holds a mean latent but no generator part")
    if tuple(mean_latent.shape) != (generator.config.style_dim,):
        raise InvertFillError(f"{path.name}: its mean latent is {tuple(mean_latent.shape)}, not ({generator.config.style_dim},)")


def _read_stored(path: Path, device: str | torch.device) -> StoredCheckpoint:
    """The file's version, metadata, part descriptions and tensors (on `device`), unchecked."""
    header = read_header(path)
    described = read_parts(path, header.metadata)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as error:
        raise InvertFillError(f"{path.name} could not be read (truncated or corrupt): {error}") from None
    return StoredCheckpoint(header.version, header.metadata, described, tensors)


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Checkpoint:
    """Read, upgrade (core.io.checkpoint_migrations) and check a checkpoint; every problem is a
    one-line InvertFillError.

    Models are built in float32; tensors stored in half precision are widened without loss.
    """
    path = Path(path)
    stored = _read_stored(path, device)
    file_version = stored.version
    stored = upgrade(stored, FORMAT_VERSION, path.name)
    parts = {name: _build_part(path, name, description) for name, description in stored.parts.items()}
    mean_latent = stored.tensors[MEAN_LATENT].float() if MEAN_LATENT in stored.tensors else None
    for name, module in parts.items():
        prefix = f"{name}."
        state = {key[len(prefix) :]: value for key, value in stored.tensors.items() if key.startswith(prefix)}
        _check_tensors(path, name, module.state_dict(), {key: tuple(value.shape) for key, value in state.items()})
        module.load_state_dict(state)
        module.to(device)
    _check_mean_latent(path, mean_latent, parts)
    return Checkpoint(
        path=path,
        parts=parts,
        stage=stored.metadata.get("stage", ""),
        domain=stored.metadata.get("domain", ""),
        format_version=file_version,
        producer=stored.metadata.get("producer", ""),
        card=read_card(path, stored.metadata),
        mean_latent=mean_latent,
    )


def export_checkpoint(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    half: bool = False,
    domain: str | None = None,
    leave_out: frozenset[str] = frozenset(),
    framing: str | None = None,
    data_terms: str | None = None,
) -> None:
    """Copy a checkpoint with its parts (less those named in `leave_out`), in half precision with
    `half`, under another `domain`, `framing` or `data_terms` if given."""
    checkpoint = load_checkpoint(source)
    domain = checkpoint.domain if domain is None else domain
    card = ModelCard(checkpoint.card.framing if framing is None else framing,
                     checkpoint.card.data_terms if data_terms is None else data_terms)
    unknown = sorted(leave_out - set(checkpoint.parts))
    if unknown:
        raise InvertFillError(f"{Path(source).name} has no part {unknown[0]!r}; its parts: {', '.join(checkpoint.parts)}")
    parts = {name: part for name, part in checkpoint.parts.items() if name not in leave_out}
    if not parts:
        raise InvertFillError("leaving out every part would write an empty checkpoint")
    save_checkpoint(target, parts, checkpoint.stage, domain, half=half, mean_latent=checkpoint.mean_latent, card=card)
