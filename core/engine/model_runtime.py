"""Which runtime runs a loaded InvertFill model: torch on the model's device, or OpenVINO on the CPU
(core.engine.openvino_runner) where the optional package is installed.

A runner takes one pass of windows with their mean latent and noise, and returns the composites,
so that both runtimes give the same fill for the same seed (up to their precision).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from core.errors import InvertFillError
from core.nn.invertfill import InvertFill

from .choices import RUNTIMES
from .device import inference_dtype
from .openvino_runner import OpenVINORunner, openvino_installed, openvino_runner

CUDA_WINDOWS_PER_PASS = 16
"""Windows a model fills in one forward pass on CUDA (memory grows with it)."""
DTYPE_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}
OPENVINO_INSTALL = "pip install openvino"


class ModelRunner(Protocol):
    """Runs an InvertFill model. `label` names the runtime for users ("torch fp32", "OpenVINO bf16");
    `windows_per_pass` is the most windows one call takes."""

    label: str
    windows_per_pass: int

    def __call__(self, image: Tensor, mask: Tensor, mean_latent: Tensor, noise: Sequence[Tensor]) -> Tensor:
        """image (B, 3, R, R) float32 in [-1, 1] and mask (B, 1, R, R) float32 on the CPU, mean_latent
        (style_dim,) and noise (SynthesisNetwork.noise) on the model's device -> composites (B, 3, R, R)."""


class TorchRunner:
    """The model in torch on its device and dtype, channels-last (about 28 % faster convolutions on the
    CPU: benchmarks/fill_cpu.py). On CUDA up to CUDA_WINDOWS_PER_PASS windows go through in one batch;
    on the CPU one at a time, because there a batch costs more per window than it saves (a 4-window fill
    of a 4000×3000 photo took 1.3–1.45× as long batched: benchmarks/crop_fill.py)."""

    def __init__(self, model: InvertFill, device: torch.device, dtype: torch.dtype) -> None:
        self.model = model.eval().to(device=device, dtype=dtype, memory_format=torch.channels_last)
        self.device, self.dtype = device, dtype
        self.label = f"torch {DTYPE_NAMES[dtype]}"
        self.windows_per_pass = CUDA_WINDOWS_PER_PASS if device.type == "cuda" else 1

    @torch.no_grad()
    def __call__(self, image: Tensor, mask: Tensor, mean_latent: Tensor, noise: Sequence[Tensor]) -> Tensor:
        def prepare(x: Tensor) -> Tensor:
            return x.to(self.device, self.dtype).contiguous(memory_format=torch.channels_last)

        return self.model(prepare(image), prepare(mask), "random", mean_latent, None, noise).composite


def model_runner(model: InvertFill, device: torch.device, runtime: str, checkpoint: Path, cache_root: Path | None,
                 notes: list[str]) -> ModelRunner:
    """The runner for `model` (loaded from `checkpoint` in float32 onto `device`).

    runtime: "torch"; "openvino" (on the CPU; an error where it is not installed or cannot convert the
    model); or "auto": OpenVINO where the model runs on the CPU and the package is installed, torch
    otherwise and where the conversion fails (which `notes` then says). Conversions are cached under
    `cache_root` (None: none kept).
    """
    if runtime not in RUNTIMES:
        raise InvertFillError(f"unknown runtime {runtime!r}; use {', '.join(RUNTIMES)}")
    if runtime == "openvino":
        if device.type != "cpu":
            raise InvertFillError(f"OpenVINO runs on the CPU, not {device.type}; use the cpu device, or the torch runtime")
        if not openvino_installed():
            raise InvertFillError(f"the OpenVINO runtime is not installed; add it with `{OPENVINO_INSTALL}`, or use the torch runtime")
        return _announced(openvino_runner(model, checkpoint, cache_root), cache_root, notes)
    if runtime == "auto" and device.type == "cpu" and openvino_installed():
        try:
            return _announced(openvino_runner(model, checkpoint, cache_root), cache_root, notes)
        except InvertFillError as error:
            notes.append(f"{error}; running it with torch instead")
    return TorchRunner(model, device, inference_dtype(device))


def _announced(runner: OpenVINORunner, cache_root: Path | None, notes: list[str]) -> OpenVINORunner:
    """`runner`, with a note where this load converted the model."""
    if runner.conversion_seconds:
        later = "later loads reuse it" if cache_root is not None else "it is not kept"
        notes.append(f"converted the model for OpenVINO in {runner.conversion_seconds:.0f} s ({runner.label}); {later}")
    return runner
