"""What `invertfill info` prints of a checkpoint, told from its header alone: no torch, no tensor
read. Parameter counts come from the stored tensors' shapes; a file whose tensors do not fit its
configs is still described, and refused when a model is loaded from it (core.io.checkpoint)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .checkpoint_header import FORMAT_VERSION, MEAN_LATENT, part_config, read_card, read_header, read_parts
from .checkpoint_migrations import StoredCheckpoint, upgrade


def _flatten(settings: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows = []
    for key, value in settings.items():
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def describe_checkpoint(path: str | os.PathLike[str]) -> str:
    """A human-readable summary: format, stage, domain, model card, and every part's settings and
    size; a file of an older format is described as it loads, upgraded (core.io.checkpoint_migrations)."""
    path = Path(path)
    header = read_header(path)
    described = read_parts(path, header.metadata)
    stored = upgrade(StoredCheckpoint(header.version, header.metadata, described, {}), FORMAT_VERSION, path.name)
    metadata, card = stored.metadata, read_card(path, stored.metadata)
    configs = {name: part_config(path, name, description) for name, description in stored.parts.items()}
    lines = [
        f"{path.name}: InvertFill Studio checkpoint (format {header.version}, {path.stat().st_size / 2**20:.1f} MiB)",
        f"stage: {metadata.get('stage') or '-'}",
        f"domain: {metadata.get('domain') or '-'}",
        f"framing: {card.framing}",
        f"data terms: {card.data_terms or 'not stated'}",
        f"written by: {metadata.get('producer') or '-'}",
    ]
    if MEAN_LATENT in header.tensors:
        lines.append(f"mean latent: stored ({header.tensors[MEAN_LATENT].numel} values)")
    for name, config in configs.items():
        lines.append(f"part {name!r}: {stored.parts[name]['kind']}, {header.parameter_count(name) / 1e6:.2f} M parameters")
        lines.extend(f"  {key}: {value}" for key, value in _flatten(config.to_dict()))
    return "\n".join(lines)
