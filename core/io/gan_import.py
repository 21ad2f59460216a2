"""The one way to read a StyleGAN2 trained elsewhere: `import_gan(path) -> ImportedGan`.

The file's kind (`core.io.file_kind`), not its name, chooses the reader: a `torch.save` container
(zip, or the older zip-less format) is read as rosinality's layout (`core.io.rosinality_import`),
any other pickle as an NVlabs network pickle (`core.io.nvlabs_import`). Neither runs code from
the file. A `.safetensors` file, whatever its first byte, is not foreign: our checkpoints load
through `core.io.checkpoint`. `train-gan --init`, `train-encoder --gan` and `invertfill import-gan`
come here through `is_foreign_gan_file` and `import_gan`.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import InvertFillError

from .checkpoint import save_checkpoint
from .file_kind import FileKind, file_kind
from .foreign_gan import ImportedGan
from .nvlabs_import import read_nvlabs
from .rosinality_import import read_rosinality


def is_foreign_gan_file(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a PyTorch file or a pickle (a candidate for `import_gan`), not one of our checkpoints."""
    path = Path(path)
    return path.is_file() and file_kind(path).is_pickled


def import_gan(path: str | os.PathLike[str]) -> ImportedGan:
    """Our Generator (and Discriminator, mean latent) from a rosinality `.pt` or an NVlabs `.pkl`;
    every problem is a one-line InvertFillError that names the file."""
    path = Path(path)
    if not path.is_file():
        raise InvertFillError(f"{path} does not exist or is not a file")
    kind = file_kind(path)
    if kind in (FileKind.TORCH_ZIP, FileKind.TORCH_ZIPLESS):
        return read_rosinality(path)
    if kind is FileKind.PICKLE:
        return read_nvlabs(path)
    if kind is FileKind.EMPTY:
        raise InvertFillError(f"{path.name} is empty")
    if kind is FileKind.SAFETENSORS:
        raise InvertFillError(
            f"{path.name} is a .safetensors file, not a published GAN to import: "
            "an InvertFill Studio checkpoint is used as it is (train-gan --init, train-encoder --gan)"
        )
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
