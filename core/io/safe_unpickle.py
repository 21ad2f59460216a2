"""Reading published weight files, which are pickles, without running any code in them.

Two readers, each raising a one-line InvertFillError:
- `load_torch_file`: a `torch.save` container (zip or the older zip-less format) through
  torch.load(weights_only=True), with a short list of extra plain classes allowed.
- `load_network_pickle`: a plain pickle as NVlabs' stylegan2-ada-pytorch and stylegan3 write it.
  Its Unpickler hands out only an allow-list of globals, most of them replaced by functions of
  ours: tensors are rebuilt from their storages (whose bytes are zip-less torch.save payloads,
  read by `load_torch_file`), and NVlabs' persistent objects, which would exec the module source
  recorded in the pickle, come back as `PersistentObject` records of class name and state.
A global outside the allow-list stops the read before anything runs, naming it.
"""

from __future__ import annotations

import collections
import io
import pickle
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import Tensor

from core.errors import InvertFillError

TENSORFLOW_MODULES = ("dnnlib.tflib",)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def _one_line(error: BaseException) -> str:
    """The first sentence of an error's first line, without colour codes (torch appends advice)."""
    text = ANSI_ESCAPE.sub("", str(error)).strip()
    return text.splitlines()[0].split(". ")[0] if text else type(error).__name__


def _refusal(error: BaseException) -> str:
    """What torch's weights-only unpickler refused, without its advice to load unsafely."""
    text = ANSI_ESCAPE.sub("", str(error))
    named = re.search(r"GLOBAL ([\w.]+)", text)
    if named:
        name = named.group(1)
        return f"it would run {name if '.' in name else f'builtins.{name}'}"
    reason = re.search(r"WeightsUnpickler error: ([^\n]*)", text)
    return reason.group(1).strip() if reason else "it holds more than plain weights"


def load_torch_file(source: Path | IO[bytes], name: str, extra_classes: Sequence[type] = ()) -> Any:
    """The object a torch.save container holds, tensors on the CPU; `extra_classes` (plain
    attribute holders such as argparse.Namespace) are allowed besides torch's weights-only set.
    torch keeps that allowance process-wide while the read lasts, which lets no code run anywhere."""
    try:
        with torch.serialization.safe_globals(list(extra_classes)):
            return torch.load(source, map_location="cpu", weights_only=True)
    except Exception as error:
        if "Weights only load failed" in str(error):
            raise InvertFillError(f"{name} was refused: {_refusal(error)}") from None
        raise InvertFillError(f"{name} is not a readable PyTorch file (truncated or corrupt): {_one_line(error)}") from None


@dataclass
class PersistentObject:
    """An NVlabs network object as recorded in its pickle: class name and `__dict__` (`state`)."""

    class_name: str
    state: dict[str, Any]

    def attribute(self, name: str, default: Any = None) -> Any:
        return self.state.get(name, default)

    def named_objects(self, prefix: str = "") -> Iterator[tuple[str, PersistentObject]]:
        """This object and every sub-module, with dotted names as torch's named_modules gives them."""
        yield prefix.rstrip("."), self
        children = self.state.get("_modules")
        for name, child in children.items() if isinstance(children, dict) else ():
            if isinstance(child, PersistentObject):
                yield from child.named_objects(f"{prefix}{name}.")

    def tensors(self) -> dict[str, Tensor]:
        """Parameters and buffers of the whole tree, keyed as in torch's state_dict."""
        found = {}
        for name, record in self.named_objects():
            for group in ("_parameters", "_buffers"):
                values = record.state.get(group)
                for key, value in values.items() if isinstance(values, dict) else ():
                    if isinstance(value, Tensor):
                        found[f"{name}.{key}" if name else key] = value
        return found


class _Refused(InvertFillError):
    pass


def _persistent_object(meta: Any) -> PersistentObject:
    """Stands in for torch_utils.persistence._reconstruct_persistent_obj: records, never execs."""
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise _Refused("a persistent object without a class record")
    state = meta.get("state")
    return PersistentObject(meta["class_name"], dict(state) if isinstance(state, dict) else {})


def _rebuild_tensor(storage: Any, storage_offset: int, size: tuple, stride: tuple, *ignored: Any) -> Tensor:
    """Stands in for torch._utils._rebuild_tensor_v2 (requires_grad and hooks are dropped)."""
    if not isinstance(storage, torch.TypedStorage):
        raise _Refused("a tensor without a storage")
    return torch.empty(0, dtype=storage.dtype).set_(storage, storage_offset, size, stride)


def _rebuild_parameter(data: Any, *ignored: Any) -> Tensor:
    """Stands in for torch._utils._rebuild_parameter(_with_state): the parameter's plain tensor."""
    if not isinstance(data, Tensor):
        raise _Refused("a parameter without a tensor")
    return data


def _numpy_scalar(dtype: Any, data: Any = None) -> float | int | bool:
    """Stands in for numpy's scalar reconstructor: numeric scalars only, as Python numbers."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise _Refused("a numpy scalar that is not a number")
    return np.frombuffer(data, dtype=dtype)[0].item()


def _numpy_array(array_class: Any, *ignored: Any) -> np.ndarray:
    """Stands in for numpy's array reconstructor: an empty ndarray, which the pickle's own state
    (dtype, shape, data) then fills through ndarray.__setstate__."""
    if array_class is not np.ndarray:
        raise _Refused("an array of another class than numpy.ndarray")
    return np.ndarray((0,), dtype=np.uint8)


class _NetworkUnpickler(pickle.Unpickler):
    """An Unpickler that hands out only the globals of its `allowed` table."""

    def __init__(self, file: IO[bytes], name: str) -> None:
        super().__init__(file)
        self.name = name
        self.allowed: dict[tuple[str, str], Callable[..., Any] | type] = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("builtins", "set"): set,
            ("builtins", "frozenset"): frozenset,
            ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
            ("torch.storage", "_load_from_bytes"): self._storage,
            ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_object,
            ("dnnlib.util", "EasyDict"): dict,
            ("numpy", "dtype"): np.dtype,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy.core.multiarray", "scalar"): _numpy_scalar,
            ("numpy._core.multiarray", "scalar"): _numpy_scalar,
            ("numpy.core.multiarray", "_reconstruct"): _numpy_array,
            ("numpy._core.multiarray", "_reconstruct"): _numpy_array,
        }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        if module.startswith(TENSORFLOW_MODULES):
            raise InvertFillError(
                f"{self.name} is a TensorFlow-era StyleGAN pickle ({module}.{name}), which is not read; "
                "convert it to a PyTorch pickle (stylegan2-ada-pytorch's legacy.py) and import that"
            )
        raise InvertFillError(f"{self.name} was refused: it would run {module}.{name}")

    def _storage(self, data: Any) -> torch.TypedStorage:
        """Stands in for torch.storage._load_from_bytes: a zip-less torch.save of one storage."""
        if not isinstance(data, bytes):
            raise _Refused("a storage without bytes")
        storage = load_torch_file(io.BytesIO(data), self.name)
        if not isinstance(storage, torch.TypedStorage):
            raise _Refused("a storage that is not one")
        return storage


def load_network_pickle(path: Path) -> Any:
    """The object a plain (NVlabs-style) pickle holds, with `PersistentObject` records for its networks."""
    try:
        with path.open("rb") as f:
            return _NetworkUnpickler(f, path.name).load()
    except _Refused as error:
        raise InvertFillError(f"{path.name} was refused: it holds {error}") from None
    except InvertFillError:
        raise
    except Exception as error:
        reason = _one_line(error)
        raise InvertFillError(f"{path.name} is not a readable network pickle (truncated or corrupt): {reason}") from None
