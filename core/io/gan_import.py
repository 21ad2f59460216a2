"""The one way to read a StyleGAN2 trained elsewhere: `import_gan(path) -> ImportedGan`.

The file's first bytes choose the reader, not its name: a `torch.save` container (zip, or the
magic number of the older zip-less format) is read as rosinality's layout
(`core.io.rosinality_import`), any other pickle as an NVlabs network pickle (`core.io.nvlabs_import`).
Neither runs code from the file. Our own `.safetensors` checkpoints are not foreign: they load
through `core.io.checkpoint`. `train-gan --init`, `train-encoder --gan` and `invertfill import-gan`
come here through `is_foreign_gan_file` and `import_gan`.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import InvertFillError

from .checkpoint import PICKLE_SIGNATURES, ZIP_SIGNATURE, save_checkpoint
from .foreign_gan import ImportedGan
from .nvlabs_import import read_nvlabs
from .rosinality_import import read_rosinality

# pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) without its STOP: the head of a zip-less torch.save
ZIPLESS_TORCH_SIGNATURE = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(len(ZIPLESS_TORCH_SIGNATURE))
    except OSError:
        return b""


def is_foreign_gan_file(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a PyTorch file or a pickle (a candidate for `import_gan`), not one of our checkpoints."""
    return _head(Path(path)).startswith(PICKLE_SIGNATURES)


def import_gan(path: str | os.PathLike[str]) -> ImportedGan:
    """Our Generator (and Discriminator, mean latent) from a rosinality `.pt` or an NVlabs `.pkl`;
    every problem is a one-line InvertFillError that names the file."""
    path = Path(path)
    if not path.is_file():
        raise InvertFillError(f"{path} does not exist or is not a file")
    head = _head(path)
    if head.startswith((ZIP_SIGNATURE, ZIPLESS_TORCH_SIGNATURE)):
        return read_rosinality(path)
    if head.startswith(PICKLE_SIGNATURES):
        return read_nvlabs(path)
    if not head:
        raise InvertFillError(f"{path.name} is empty")
    raise InvertFillError(
        f"{path.name} is neither a PyTorch file nor a network pickle: a rosinality .pt or an NVlabs .pkl imports "
        "(an InvertFill Studio .safetensors checkpoint is used as it is)"
    )


def import_gan_to_checkpoint(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> ImportedGan:
    """Import `source` and write it atomically to `target` as a stage-1 checkpoint: parts
    "generator" (and "discriminator") and the source's mean latent when it has one."""
    gan = import_gan(source)
    save_checkpoint(target, gan.parts(), stage="stylegan2", mean_latent=gan.mean_latent)
    return gan
