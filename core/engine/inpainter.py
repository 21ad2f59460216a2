"""The inpainting engine: one loaded model (or the classic fallback) that fills pictures and files.

Every picture that leaves it is the composition I ⊙ (1 − M) + O ⊙ M in the input's own layout:
known pixels (and the alpha channel) are bit-identical to the input.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import InvertFillError
from core.io.image_io import Picture, read_image, write_image
from core.io.resources import default_model_path
from core.masks.reading import fit_mask, read_mask

from .choices import DEFAULT_STRATEGY, MODEL
from .device import device_summary, resolve_device
from .fill_registry import classic_fill
from .fill_strategy import fill_rgb8
from .progress import ProgressCallback

if TYPE_CHECKING:
    import torch

    from .fill_methods import FillMethod

NO_MODEL = "no InvertFill model was found"


@dataclass
class FillResult:
    """`pictures` holds one fill per variation; `notes` are messages for the user."""

    pictures: list[Picture]
    seed: int
    method: str
    notes: list[str] = field(default_factory=list)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (also through links or another spelling)."""
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


class Inpainter:
    """Loads a checkpoint once and fills images of any size with it.

    method: a key of core.engine.fill_registry: "invertfill" (the default) loads `checkpoint`, an
    InvertFill `.safetensors` file; None takes the embedded default model, and without one the
    classic OpenCV fill (Telea), which every message then names. A classic fill's key ("telea",
    "ns", "patchmatch") runs that fill and needs no checkpoint.
    device: "auto" | "cpu" | "cuda" (half precision on CUDA, fp32 on the CPU).
    runtime: what runs the model (core.engine.model_runtime): "torch" (the default here, the
    reference), "openvino", or "auto" (what the app and the command line start with); OpenVINO
    conversions are kept under `cache_dir`. `runtime` then names the one that runs ("OpenVINO bf16"),
    and `notes` say what the user should know of the loading (a fallback to torch).
    data_terms: the terms of the loaded model's training data, which its fills inherit ("" when the
    checkpoint records none, or no model is loaded).
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] | None = None,
        device: str = "auto",
        method: str = MODEL,
        runtime: str = "torch",
        cache_dir: Path | None = None,
    ) -> None:
        self._device_choice = device
        self.method_key = method
        self.model_missing = False
        self.resolution: int | None = None
        self.domain = ""
        self.data_terms = ""
        self.runtime = ""
        self.notes: list[str] = []
        if method != MODEL:
            if checkpoint is not None:
                raise InvertFillError(f"the {classic_fill(method).name} fill uses no model; leave out the checkpoint ({Path(checkpoint).name})")
            self.checkpoint = None
            self.method: FillMethod = classic_fill(method).make()
            self.description = self.method.description
            return
        path = Path(checkpoint) if checkpoint is not None else default_model_path()
        self.checkpoint = path
        if path is None:
            self.method_key, self.model_missing = "telea", True
            self.method = classic_fill(self.method_key).make()
            self.description = f"{self.method.description}: {NO_MODEL}"
            return
        from core.io.checkpoint import load_checkpoint

        from .fill_methods import ModelFill
        from .model_runtime import model_runner

        loaded = load_checkpoint(path, self.device)
        model = loaded.part("invertfill")
        self.resolution, self.domain, self.data_terms = model.config.resolution, loaded.domain, loaded.card.data_terms
        runner = model_runner(model, self.device, runtime, path, cache_dir, self.notes)
        self.runtime = runner.label
        domain = f", {loaded.domain}" if loaded.domain else ""
        self.description = f"InvertFill {model.config.resolution} px{domain} ({path.name}) on {device_summary(self.device)} · {runner.label}"
        self.method = ModelFill(model, runner, self.description, loaded.card.framing)

    @cached_property
    def device(self) -> torch.device:
        """Where the model runs, resolved from the `device` asked for when first read (a classic fill
        that is never asked runs without importing torch)."""
        return resolve_device(self._device_choice)

    @property
    def is_classic(self) -> bool:
        """Whether a classic fill runs (asked for, or for want of a model) rather than InvertFill."""
        return self.method_key != MODEL

    def fill(
        self,
        picture: Picture,
        hole: np.ndarray,
        strategy: str = DEFAULT_STRATEGY,
        seed: int | None = None,
        variations: int = 1,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        variation_strength: float | None = None,
    ) -> FillResult | None:
        """Fill `hole` (H, W) bool of `picture` `variations` times; None if cancelled.

        The same seed gives the same fills; without one a random seed is drawn and reported.
        variation_strength: how far the model's variations stray from its first fill, 0-1 (None: the
        model's default, ModelFill.variation_strength); a classic fill has no variations.
        """
        if hole.shape != (picture.height, picture.width):
            raise InvertFillError(f"the mask is {hole.shape[1]}×{hole.shape[0]} but the image is {picture.width}×{picture.height}")
        if variations < 1:
            raise InvertFillError(f"variations must be at least 1, got {variations}")
        seed = secrets.randbits(31) if seed is None else seed
        result = FillResult([], seed, self.description)
        if not hole.any():
            result.notes.append("the mask is empty: nothing to fill, the output is the input")
            result.pictures = [Picture(picture.pixels.copy()) for _ in range(variations)]
            return result
        if hole.all():
            result.notes.append("the mask covers the whole image: with nothing known, the fill is invented")
        rgb8 = picture.rgb8()
        method = self.method
        if variation_strength is not None and not self.is_classic:
            method = method.varied(variation_strength)
        for variation in range(variations):
            notes: list[str] = []
            filled = fill_rgb8(method, rgb8, hole, strategy, seed, variation, progress, cancel, notes)
            result.notes.extend(note for note in notes if note not in result.notes)
            if filled is None:
                return None
            result.pictures.append(picture.with_fill(filled, hole))
        return result

    def fill_file(
        self,
        image_path: str | os.PathLike[str],
        mask_path: str | os.PathLike[str],
        output_path: str | os.PathLike[str],
        strategy: str = DEFAULT_STRATEGY,
        seed: int | None = None,
        variations: int = 1,
        overwrite: bool = False,
        quality: int = 95,
        cancel: threading.Event | None = None,
        variation_strength: float | None = None,
    ) -> FillResult | None:
        """Read, fill and write; K variations go to OUT_1 … OUT_K. Notes tell what was adjusted."""
        image_path, mask_path, output_path = Path(image_path), Path(mask_path), Path(output_path)
        outputs = output_paths(output_path, variations)
        for output in outputs:
            for source in (image_path, mask_path):
                if same_file(output, source) and not overwrite:
                    raise InvertFillError(f"the output {output} would replace the input {source}; pass --overwrite to allow it")
            if output.is_dir():
                raise InvertFillError(f"the output {output} is a folder; give a file name such as {output / 'filled.png'}")
        picture = read_image(image_path)
        hole, note = fit_mask(read_mask(mask_path), picture.height, picture.width, mask_path.name)
        result = self.fill(picture, hole, strategy, seed, variations, cancel=cancel, variation_strength=variation_strength)
        if result is None:
            return None
        if note:
            result.notes.insert(0, note)
        for output, filled in zip(outputs, result.pictures):
            result.notes.extend(n for n in write_image(output, filled, quality) if n not in result.notes)
        return result


def output_paths(output: Path, variations: int) -> list[Path]:
    """OUT for one fill; OUT_1, OUT_2, … (before the extension) for several."""
    if variations == 1:
        return [output]
    return [output.with_name(f"{output.stem}_{k}{output.suffix}") for k in range(1, variations + 1)]
