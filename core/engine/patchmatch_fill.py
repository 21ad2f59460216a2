"""PatchMatch (Barnes et al. 2009) as a classic fill, from the optional `pypatchmatch` wheel.

`pip install pypatchmatch` (or `pip install -e .[patchmatch]`) adds it; without the wheel the
fill registry leaves it out and nothing else changes.
"""

from __future__ import annotations

import threading

import numpy as np

try:
    from patchmatch import patch_match
except ImportError:
    patch_match = None

PATCH_RADIUS = 3
"""Compared patches span (2·3 + 1)² pixels, pypatchmatch's recommended size."""

_native = threading.Lock()
"""The library keeps its seed in a global: one fill at a time, seed and search together."""


def patchmatch_available() -> bool:
    """Whether the pypatchmatch wheel is installed and its native library loads."""
    return patch_match is not None and bool(patch_match.patchmatch_available)


class PatchMatchFill:
    """Copies patches from the known pixels into the hole (randomized nearest-neighbour search,
    seeded per window so that a seed gives the same fill)."""

    resolution = None
    framing = None
    windows_per_pass = 1
    full_detail = True
    description = "PatchMatch fill (pypatchmatch)"

    def fill_windows(self, patches: list[np.ndarray], holes: list[np.ndarray], seed: int, variation: int) -> list[np.ndarray]:
        """patches: each (S, S, 3) uint8, holes: each (S, S) bool -> the filled patches, one after another."""
        with _native:
            patch_match.set_random_seed(seed % 2**32)
            return [
                patch_match.inpaint(patch, hole.astype(np.uint8), patch_size=PATCH_RADIUS) for patch, hole in zip(patches, holes, strict=True)
            ]
