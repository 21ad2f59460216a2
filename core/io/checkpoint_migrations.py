"""Upgrades of older checkpoint files, keyed by format version (what NVlabs' `legacy.py` does for
their pickles).

A file written as format version v is brought to the current one by applying MIGRATIONS[v],
MIGRATIONS[v + 1], … in turn, each taking the file's contents one version up. A change of the
format bumps `core.io.checkpoint_header.FORMAT_VERSION` and adds the migration from the version
before it here; `tests/data/checkpoint-v1.safetensors`, written by version 1 and never regenerated,
must keep loading after every such change (`tests/test_checkpoint_migrations.py`).

`invertfill info` upgrades a file's metadata and part descriptions without reading its tensors
(core.io.checkpoint_description passes none), so a migration that changes tensors must also work
when `tensors` is empty.

Version 2 added the model card: `framing` and `data_terms`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import InvertFillError

if TYPE_CHECKING:
    from torch import Tensor


@dataclass
class StoredCheckpoint:
    """A checkpoint file's contents before any model is built: its format version, metadata
    (strings), part descriptions {part: {"kind": ..., "config": {...}}} and tensors by stored name."""

    version: int
    metadata: dict[str, str]
    parts: dict[str, Any]
    tensors: dict[str, Tensor]


Migration = Callable[[StoredCheckpoint], StoredCheckpoint]


def add_model_card(stored: StoredCheckpoint) -> StoredCheckpoint:
    """1 -> 2: a version-1 file states no framing: a model of a faces domain (the faces64 recipe's
    "faces") learned aligned faces, any other one scenes; its data terms are unknown."""
    framing = "aligned-face" if "face" in stored.metadata.get("domain", "").lower() else "scene"
    metadata = {**stored.metadata, "format_version": "2", "framing": framing, "data_terms": ""}
    return StoredCheckpoint(2, metadata, stored.parts, stored.tensors)


MIGRATIONS: dict[int, Migration] = {1: add_model_card}
"""version v -> the function that turns a version-v file's contents into version v + 1's."""


def upgrade(stored: StoredCheckpoint, current: int, name: str) -> StoredCheckpoint:
    """`stored` brought to format version `current` by the registered migrations; `name` (the
    file's) is for the error when a version has no way up."""
    while stored.version < current:
        migration = MIGRATIONS.get(stored.version)
        if migration is None:
            raise InvertFillError(f"{name} has format version {stored.version}, which this InvertFill Studio cannot upgrade")
        version = stored.version
        stored = migration(stored)
        assert stored.version == version + 1, (version, stored.version)
    return stored
