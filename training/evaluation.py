"""The paper's evaluation protocol (§4.1–4.2): fixed, seeded mask sets shared by every method."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from core import __version__
from core.atomic_write import atomic_write
from core.errors import InvertFillError
from core.image_io import Picture, write_image
from core.masks import BUCKETS, MAX_TRIES, coverage_of, mask_set

MASK_SET_BUCKETS = (*BUCKETS, "outpaint")
MANIFEST = "manifest.json"


def write_mask_set(bucket: str, n: int, resolution: int, seed: int, out: str | os.PathLike[str]) -> Path:
    """Write n seeded masks of a bucket as OUT/00000.png … (white = hole) and OUT/manifest.json.

    The manifest records the settings, each mask's coverage and a hash of the whole set, so a
    report can name exactly the masks it was computed on.
    """
    if bucket not in MASK_SET_BUCKETS:
        raise InvertFillError(f"unknown bucket {bucket!r}; use {', '.join(MASK_SET_BUCKETS)}")
    if n < 1 or resolution < 8:
        raise InvertFillError("--n must be at least 1 and --res at least 8")
    out = Path(out)
    digest = hashlib.sha256()
    entries = []
    for index, mask in enumerate(mask_set(bucket, n, resolution, seed)):
        name = f"{index:05d}.png"
        write_image(out / name, Picture(np.where(mask[..., None], 255, 0).astype(np.uint8)))
        digest.update(np.packbits(mask).tobytes())
        entries.append({"file": name, "coverage": round(coverage_of(mask), 6)})
    manifest = {
        "bucket": bucket,
        "coverage_range": list(BUCKETS[bucket]) if bucket in BUCKETS else None,
        "n": n,
        "resolution": resolution,
        "seed": seed,
        "generator": {"module": "core.masks", "max_tries": MAX_TRIES, "invertfill_studio": __version__},
        "set_hash": digest.hexdigest(),
        "masks": entries,
    }
    with atomic_write(out / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))
    return out / MANIFEST
