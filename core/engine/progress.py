"""Progress reports that long functions send to their front end (tqdm, JSON lines, Qt signals)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    """`done` of `total` units of work; `message` says what was just finished; `values` are
    named figures such as losses or images per second."""

    done: int
    total: int
    message: str = ""
    values: Mapping[str, float] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]
