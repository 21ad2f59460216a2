"""InvertFill Studio's engine: networks, fused ops and checkpoints. Never imports Qt."""

__version__ = "0.1.0"
