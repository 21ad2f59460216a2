"""Importing this project's modules from another checkout, for benchmarks that time code trees
side by side: modules are named as they are now, and found where they lived before `core/` was
split into sub-packages (commit b7c9546 and earlier) when a tree is that old."""

from __future__ import annotations

import importlib
from types import ModuleType

RENAMED = {"core.masks.generation": "core.masks", "core.masks.editing": "core.mask_edit"}


def import_module(name: str) -> ModuleType:
    """The module `name` (e.g. "core.engine.inpainter") of the tree on sys.path."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        old = RENAMED.get(name, "core." + name.rsplit(".", 1)[1]) if name.startswith("core.") else name
        return importlib.import_module(old)
