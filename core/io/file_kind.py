"""What a model file is, from its bytes, not its name: the one detection every reader uses.

A safetensors file is recognised positively, first: its first 8 bytes are its header's length
(little-endian), the header fits inside the file, and it parses as a JSON object. The first
byte is that length's low byte, so 0x80 (a pickle's PROTO opcode) is as likely as any other;
only a file that is not safetensors is looked at for the signatures of a zip (torch.save's
container), a zip-less torch.save, or a pickle (protocol 2 or later).
"""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path
from typing import IO

from core.errors import InvertFillError

SAFETENSORS_MAX_HEADER = 100_000_000
"""The largest header the safetensors library reads (its MAX_HEADER_SIZE)."""
ZIP_SIGNATURE = b"PK\x03\x04"
# pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) without its STOP: the head of a zip-less torch.save
ZIPLESS_TORCH_SIGNATURE = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
PICKLE_PROTOCOL_OPCODE = b"\x80"


class FileKind(Enum):
    """The kinds `file_kind` tells apart."""

    SAFETENSORS = "safetensors"
    TORCH_ZIP = "torch.save zip container"
    TORCH_ZIPLESS = "zip-less torch.save file"
    PICKLE = "pickle"
    EMPTY = "empty"
    OTHER = "unrecognised"

    @property
    def is_pickled(self) -> bool:
        """Whether reading it means unpickling (torch.save files are pickles too)."""
        return self in (FileKind.TORCH_ZIP, FileKind.TORCH_ZIPLESS, FileKind.PICKLE)


def _is_safetensors(f: IO[bytes], size: int) -> bool:
    """Whether the open file `f` of `size` bytes starts with a safetensors header."""
    head = f.read(8)
    if len(head) < 8:
        return False
    length = int.from_bytes(head, "little")
    if not 2 <= length <= min(size - 8, SAFETENSORS_MAX_HEADER):
        return False
    try:
        header = json.loads(f.read(length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(header, dict)


def file_kind(path: str | os.PathLike[str]) -> FileKind:
    """The kind of the file at `path`: safetensors if its header says so, else by signature;
    an unreadable path is a one-line InvertFillError."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if _is_safetensors(f, size):
                return FileKind.SAFETENSORS
            f.seek(0)
            head = f.read(len(ZIPLESS_TORCH_SIGNATURE))
    except OSError as error:
        raise InvertFillError(f"{path} cannot be read: {error.strerror or error}") from None
    if not head:
        return FileKind.EMPTY
    if head.startswith(ZIP_SIGNATURE):
        return FileKind.TORCH_ZIP
    if head.startswith(ZIPLESS_TORCH_SIGNATURE):
        return FileKind.TORCH_ZIPLESS
    if head.startswith(PICKLE_PROTOCOL_OPCODE):
        return FileKind.PICKLE
    return FileKind.OTHER
