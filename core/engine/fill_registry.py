"""The fill methods a user can choose, in one place: the InvertFill model of a checkpoint, and
the classic fills that need no model (OpenCV's Telea and Navier–Stokes, PatchMatch when its
optional wheel is installed).

The Inpainter, `invertfill fill --method` and `eval --baseline`, the Model menu and through it
the batch dialog all read this registry; a new classic fill is one entry in CLASSIC_FILLS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.errors import InvertFillError

from .fill_methods import CLASSIC_NAMES, ClassicFill, FillMethod
from .patchmatch_fill import PatchMatchFill, patchmatch_available

MODEL = "invertfill"
"""The method key of the InvertFill model (a checkpoint, or the embedded default)."""


@dataclass(frozen=True)
class ClassicMethod:
    """A fill that needs no model: its key (command line, preferences), the name users read,
    a factory, whether it can run here, and what to do when it cannot."""

    key: str
    name: str
    make: Callable[[], FillMethod]
    available: Callable[[], bool] = lambda: True
    install_hint: str = ""


CLASSIC_FILLS: dict[str, ClassicMethod] = {
    method.key: method
    for method in (
        ClassicMethod("telea", CLASSIC_NAMES["telea"], lambda: ClassicFill("telea")),
        ClassicMethod("ns", CLASSIC_NAMES["ns"], lambda: ClassicFill("ns")),
        ClassicMethod("patchmatch", "PatchMatch", PatchMatchFill, patchmatch_available, "pip install pypatchmatch"),
    )
}
METHOD_KEYS = (MODEL, *CLASSIC_FILLS)


def available_classic_fills() -> list[ClassicMethod]:
    """The classic fills that can run on this installation, in menu order."""
    return [method for method in CLASSIC_FILLS.values() if method.available()]


def classic_fill(key: str) -> ClassicMethod:
    """The classic fill called `key`, or a one-line error saying which exist or how to install it."""
    method = CLASSIC_FILLS.get(key)
    if method is None:
        raise InvertFillError(f"unknown fill method {key!r}; use {', '.join(METHOD_KEYS)}")
    if not method.available():
        raise InvertFillError(f"the {method.name} fill is not installed; add it with `{method.install_hint}`")
    return method
