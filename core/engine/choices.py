"""The names a user chooses among, and their defaults: fill methods, strategies, devices and the
variation strength. No torch, OpenCV or numpy here, so that the command line's parser and the
app's preferences read them at once; the modules that do the work import them from here."""

from __future__ import annotations

import os

MODEL = "invertfill"
"""The method key of the InvertFill model (a checkpoint, or the embedded default)."""
CLASSIC_NAMES = {"telea": "Telea", "ns": "Navier–Stokes", "patchmatch": "PatchMatch"}
"""The classic fills that need no model, by key, with the names users read (core.engine.fill_registry)."""
METHOD_KEYS = (MODEL, *CLASSIC_NAMES)

STRATEGIES = ("detail", "crop", "resize", "full")
"""How a fill method meets an image of another size than its own (core.engine.fill_strategy)."""
DEFAULT_STRATEGY = "detail"

DEVICE_CHOICES = ("auto", "cpu", "cuda")
"""Where a model runs (core.engine.device.resolve_device)."""

VARIATION_STRENGTH = 0.35
"""How far a variation's mean latent moves from w̄ toward one random style (SoftMeanLatent.variation).
With the faces demo on 30 held-out faces, 4 variations differ by 21 grey levels in the hole on
average at 0.35 (29 at 0.5, 62 at 1), where a mean over 256 styles gave 5.8; they differ in
colour and tone more than in shape, and from about 0.5 a variation's colours stop matching the border."""

RUNTIMES = ("auto", "torch", "openvino")
"""What runs a model (core.engine.model_runtime): auto is OpenVINO on the CPU where it is installed, else torch."""
RUNTIME_VARIABLE = "INVERTFILL_RUNTIME"
"""The environment variable that sets the default runtime (the command line's and the app's first)."""


def default_runtime() -> str:
    """$INVERTFILL_RUNTIME when it names a runtime, else "auto"."""
    value = os.environ.get(RUNTIME_VARIABLE, "auto")
    return value if value in RUNTIMES else "auto"
