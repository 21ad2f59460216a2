"""Choosing the compute device from a user's `auto | cpu | cuda`.

torch is imported by each function, not by the module: the front ends import this module at
start-up, and a classic fill never needs torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import InvertFillError

from .choices import DEVICE_CHOICES

if TYPE_CHECKING:
    import torch


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without a CUDA device is a clear error."""
    import torch

    if name not in DEVICE_CHOICES:
        raise InvertFillError(f"unknown device {name!r}; use auto, cpu or cuda")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise InvertFillError("device cuda was asked for, but this machine has no usable CUDA device; use cpu or auto")
        return torch.device("cuda")
    return torch.device("cpu")


def cuda_available() -> bool:
    """Whether this machine has a usable CUDA device."""
    import torch

    return torch.cuda.is_available()


def device_summary(device: torch.device) -> str:
    """The device as a user reads it: "CUDA (<GPU name>)" or "CPU"."""
    import torch

    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return "CPU"


def inference_dtype(device: torch.device) -> torch.dtype:
    """Half precision on CUDA, fp32 on the CPU: torch's CPU reference. (Torch bf16 took 0.68× fp32's time
    on an AVX512-BF16 CPU, benchmarks/fill_cpu.py; the faster CPU path is OpenVINO, core.engine.model_runtime.)"""
    import torch

    return torch.float16 if device.type == "cuda" else torch.float32


def fast_bfloat16(device: torch.device) -> bool:
    """Whether bf16 matrix math is native on `device`: CUDA with bf16, or a CPU with AVX512-BF16 or AMX."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def training_autocast(device: torch.device, mixed_precision: bool):
    """bf16 autocast for a training step where bf16 is native on `device` and asked for; else a no-op region."""
    import torch

    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed_precision and fast_bfloat16(device))
