"""torch.compile (inductor) for the main training steps, with eager training where it cannot run.

Only steps without a double backward are compiled (stage 2's loss; stage 1's G and D main
steps): a compiled graph has no second derivative, so R1 and path length stay eager. A function
is compiled, never a module, so state_dict keys and checkpoints do not change. Where inductor
has no C++ compiler, or compiling or running the compiled step raises, training says so in one
line on stderr and runs uncompiled from there on.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import torch
from torch import Tensor


RECOMPILE_LIMIT = 64
"""Compiled variants allowed per function: the noise draws split the generator into one frame per
styled conv, each compiled for its own shapes (2 per resolution, against torch's default of 8)."""


def compile_problem(device: torch.device) -> str | None:
    """Why training on `device` cannot be compiled here, or None when it can."""
    if device.type != "cpu":
        return f"compiled training is for the CPU, this run is on {device.type}"
    from torch._inductor.cpp_builder import get_cpp_compiler

    try:
        get_cpp_compiler()
    except Exception:
        return "no C++ compiler for torch.compile (set CXX or install g++)"
    return None


@functools.cache
def say_uncompiled(reason: str) -> None:
    """One line on stderr, once per reason and process."""
    print(f"note: training runs uncompiled: {reason}", file=sys.stderr, flush=True)


def first_line(error: Exception) -> str:
    """The error's type and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


class CompiledLoss:
    """fn(*args) -> (loss, *extras), run compiled when asked and possible, then backpropagated.

    Calling runs fn inside `autocast()` (compiled on the first call; the region is entered out
    here, as creating it breaks a graph), calls loss.backward() and returns what fn returned.
    If compiling is off, impossible, or the compiled forward or backward raises, the step runs
    eagerly, and so does every later one; after a failure the gradients of
    `parameters` are cleared and any torch.Generator among the arguments is rewound first, so
    the eager retry draws the same numbers. The compiled step must be the first to accumulate
    gradients into `parameters` after the optimizer zeroed them.
    """

    def __init__(
        self,
        fn: Callable[..., tuple],
        parameters: Iterable[Tensor],
        autocast: Callable[[], AbstractContextManager],
        device: torch.device,
        enabled: bool,
    ) -> None:
        self.fn, self.autocast = fn, autocast
        self.parameters = list(parameters)
        problem = compile_problem(device) if enabled else None
        if problem is not None:
            say_uncompiled(problem)
        self.compiled = torch.compile(fn, dynamic=False) if enabled and problem is None else None

    def __call__(self, *args) -> tuple:
        if self.compiled is not None:
            generators = [(g, g.get_state()) for g in args if isinstance(g, torch.Generator)]
            try:
                with torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT):
                    return self._backward(self._forward(self.compiled, args))
            except Exception as error:
                say_uncompiled(first_line(error))
                self.compiled = None
                for parameter in self.parameters:
                    parameter.grad = None
                for generator, state in generators:
                    generator.set_state(state)
        return self._backward(self._forward(self.fn, args))

    def _forward(self, fn: Callable[..., tuple], args: tuple) -> tuple:
        with self.autocast():
            return fn(*args)

    @staticmethod
    def _backward(result: tuple) -> tuple:
        result[0].backward()
        return result
