"""Fused ops with a reference PyTorch path and a fast Triton path on CUDA.

The switch that forces the reference path is `core.ops.backend.force_reference`.
"""

from .backend import reference_ops, triton_available, use_fused
from .bias_act import ACTIVATIONS, bias_act, bias_act_reference
from .upfirdn2d import blur2d, downsample2d, setup_filter, upfirdn2d, upfirdn2d_reference, upsample2d

__all__ = [
    "ACTIVATIONS",
    "bias_act",
    "bias_act_reference",
    "blur2d",
    "downsample2d",
    "reference_ops",
    "setup_filter",
    "triton_available",
    "upfirdn2d",
    "upfirdn2d_reference",
    "upsample2d",
    "use_fused",
]
