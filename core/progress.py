"""Progress reports that long functions send to their front end (tqdm, JSON lines, Qt signals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """`done` of `total` units of work; `message` says what was just finished."""

    done: int
    total: int
    message: str = ""


ProgressCallback = Callable[[Progress], None]
