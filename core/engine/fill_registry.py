"""The fill methods a user can choose, in one place: the InvertFill model of a checkpoint, and
the classic fills that need no model (OpenCV's Telea and Navier–Stokes, PatchMatch when its
optional wheel is installed).

The Inpainter, `invertfill eval --baseline`, the Model menu and through it the batch dialog all
read this registry; a new classic fill is one entry in CLASSIC_FILLS and its name in
core.engine.choices.CLASSIC_NAMES (which the command line's choices read). The fills' modules
(OpenCV, the PatchMatch wheel) are imported when a fill is made or asked whether it can run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import InvertFillError

from .choices import CLASSIC_NAMES, METHOD_KEYS

if TYPE_CHECKING:
    from .fill_methods import FillMethod


@dataclass(frozen=True)
class ClassicMethod:
    """A fill that needs no model: its key (command line, preferences), the name users read,
    a factory, whether it can run here, and what to do when it cannot."""

    key: str
    name: str
    make: Callable[[], FillMethod]
    available: Callable[[], bool] = lambda: True
    install_hint: str = ""


def _opencv(key: str) -> FillMethod:
    from .classic_fill import ClassicFill

    return ClassicFill(key)


def _patchmatch() -> FillMethod:
    from .patchmatch_fill import PatchMatchFill

    return PatchMatchFill()


def _patchmatch_available() -> bool:
    from .patchmatch_fill import patchmatch_available

    return patchmatch_available()


CLASSIC_FILLS: dict[str, ClassicMethod] = {
    method.key: method
    for method in (
        ClassicMethod("telea", CLASSIC_NAMES["telea"], lambda: _opencv("telea")),
        ClassicMethod("ns", CLASSIC_NAMES["ns"], lambda: _opencv("ns")),
        ClassicMethod("patchmatch", CLASSIC_NAMES["patchmatch"], _patchmatch, _patchmatch_available, "pip install pypatchmatch"),
    )
}


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
