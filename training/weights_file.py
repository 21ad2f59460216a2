"""Third-party weight files (VGG16, InceptionV3 for FID, LPIPS): read safely, checked, fetched with a checksum."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from core.errors import InvertFillError


def read_state_dict(path: Path, missing: str) -> Mapping[str, object]:
    """A weights file read with `weights_only=True`; `missing` is the message when it does not exist.

    A refused (code-carrying) or unreadable pickle, or anything but a mapping, is an InvertFillError.
    """
    if not path.is_file():
        raise InvertFillError(missing)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InvertFillError(
            f"{path.name} is not a readable weights file (only plain tensors are accepted): {reason}"
        ) from None
    if not isinstance(state, Mapping):
        raise InvertFillError(f"{path.name} does not hold a state dict but a {type(state).__name__}")
    return state


def checked_subset(
    state: Mapping[str, object], wanted: Mapping[str, Tensor], path: Path, what: str
) -> dict[str, Tensor]:
    """The entries of `state` that `wanted` names, each a tensor of the wanted shape, else an InvertFillError."""
    for key, reference in wanted.items():
        value = state.get(key)
        if not isinstance(value, Tensor) or value.shape != reference.shape:
            found = "is missing" if value is None else f"has shape {tuple(getattr(value, 'shape', ()))}"
            raise InvertFillError(
                f"{path.name} is not {what}: {key!r} {found}, expected shape {tuple(reference.shape)}"
            )
    return {key: state[key] for key in wanted}  # type: ignore[misc]


def fetch_checked(url: str, destination: Path, hash_prefix: str) -> Path:
    """Download `url` to `destination` if its SHA-256 starts with `hash_prefix`, atomically.

    The bytes go to a temporary file beside `destination`, renamed into place only when the
    hash matches; on a mismatch (or any failure) the partial file is deleted.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    while chunk := response.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            except OSError as error:
                raise InvertFillError(
                    f"could not download {url} ({error}); fetch it by hand to {destination}"
                ) from None
        if not digest.hexdigest().startswith(hash_prefix):
            raise InvertFillError(
                f"the download of {url} has SHA-256 {digest.hexdigest()[: len(hash_prefix)]}…, expected {hash_prefix}…; "
                "deleted it, try again"
            )
        os.replace(partial, destination)
    finally:
        Path(partial).unlink(missing_ok=True)
    return destination
