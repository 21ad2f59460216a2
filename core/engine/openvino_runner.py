"""An InvertFill model run by OpenVINO on the CPU: converted once per checkpoint and cached on disk.

The precision is measured, not assumed. After a conversion the model fills a few probe windows
with torch fp32 and with OpenVINO; it runs in bf16 where bf16's composites stay within
PRECISION_FLOOR_DB of torch's (and bf16 is native on this CPU), else in f32. Where even f32 strays
below the floor, the conversion counts as failed. The cache folder is keyed by the checkpoint's
hash, the OpenVINO version and CONVERSION_FORMAT.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from core.errors import InvertFillError
from core.masks.generation import bucket_mask
from core.nn.invertfill import InvertFill

from .device import fast_bfloat16

CONVERSION_FORMAT = 1
"""The exported graph's layout (ExportedFill); a change makes older cached conversions unused."""
PRECISION_FLOOR_DB = 40.0
"""The lowest PSNR (8-bit composites, against torch fp32) at which a precision may run."""
PROBES = 3
"""Windows the precision is measured on: the model's mean image under seeded masks of every size."""
PRECISION_FILE = "precision.json"


class ExportedFill(nn.Module):
    """The graph OpenVINO runs: one window, with the mean latent and the noise as inputs so that
    seeds and variations give the fills torch gives.

    image (1, 3, R, R) in [-1, 1], mask (1, 1, R, R) with 1 = hole, mean_latent (style_dim,),
    noise: one (1, 1, r, r) map per styled conv (SynthesisNetwork.noise) -> composite (1, 3, R, R).
    """

    def __init__(self, model: InvertFill) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor, mask: Tensor, mean_latent: Tensor, *noise: Tensor) -> Tensor:
        return self.model(image, mask, "random", mean_latent, None, list(noise)).composite


def openvino_installed() -> bool:
    """Whether the optional `openvino` package can be imported here."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def file_hash(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Precision:
    """The precision a conversion runs at, and the PSNRs (dB) measured for it against torch fp32."""

    name: str
    psnr_db: dict[str, float]


class OpenVINORunner:
    """Calls the compiled model like ModelFill calls torch: window tensors in, composite out.

    `label` names the runtime for users, e.g. "OpenVINO bf16".
    """

    windows_per_pass = 1

    def __init__(self, compiled, precision: Precision, conversion_seconds: float = 0.0) -> None:
        self.request = compiled.create_infer_request()
        self.precision = precision
        self.label = f"OpenVINO {precision.name}"
        self.conversion_seconds = conversion_seconds
        """How long this load spent converting the model (0 where a cached conversion was read)."""

    def __call__(self, image: Tensor, mask: Tensor, mean_latent: Tensor, noise: Sequence[Tensor]) -> Tensor:
        """image (1, 3, R, R), mask (1, 1, R, R), mean_latent (style_dim,), noise maps -> composite (1, 3, R, R) float32."""
        import openvino

        inputs = [image, mask, mean_latent, *noise]
        for index, tensor in enumerate(inputs):
            self.request.set_input_tensor(index, openvino.Tensor(np.ascontiguousarray(tensor.float().cpu().numpy())))
        self.request.infer()
        return torch.from_numpy(self.request.get_output_tensor(0).data.copy())


def _probe_inputs(model: InvertFill) -> list[tuple[Tensor, Tensor, Tensor, list[Tensor]]]:
    """PROBES windows: the model's mean image (the generator at w̄ with its constant noise) under
    seeded masks of the "all" bucket, with random noise; float32 on the CPU."""
    r = model.config.resolution
    synthesis = model.generator.synthesis
    mean_latent = model.soft_mean_latent.value.float()
    with torch.no_grad():
        image = synthesis(mean_latent.expand(1, synthesis.config.num_styles, -1), "const").clamp(-1, 1)
    rng = np.random.default_rng(0)
    generator = torch.Generator().manual_seed(0)
    probes = []
    for _ in range(PROBES):
        mask = torch.from_numpy(bucket_mask("all", r, rng) > 0)[None, None].float()
        probes.append((image, mask, mean_latent, synthesis.noise(1, "random", generator)))
    return probes


def _psnr_8bit(a: Tensor, b: Tensor) -> float:
    """PSNR (dB) between two [-1, 1] images after rounding both to 8 bits, as the fill writes them."""
    def eight_bit(x: Tensor) -> Tensor:
        return ((x.float().clamp(-1, 1) + 1) * 127.5).round()

    mse = (eight_bit(a) - eight_bit(b)).square().mean().item()
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def _measure(model: InvertFill, compiled) -> float:
    """The lowest composite PSNR (dB) of `compiled` against torch fp32 over the probes."""
    runner = OpenVINORunner(compiled, Precision("probe", {}))
    scores = []
    with torch.no_grad():
        for image, mask, mean_latent, noise in _probe_inputs(model):
            expected = model(image, mask, "random", mean_latent, None, noise).composite
            scores.append(_psnr_8bit(runner(image, mask, mean_latent, noise), expected))
    return min(scores)


def _compile(core, model: object, precision: str):
    """`model` (an openvino.Model, or the path of its .xml as a str) compiled for this CPU at `precision`,
    with torch's thread count."""
    settings = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": torch.get_num_threads()}
    return core.compile_model(model, "CPU", settings)


def _convert(model: InvertFill, folder: Path) -> Precision:
    """Convert `model` (float32, CPU) into folder/model.xml and measure its precision (PRECISION_FILE).

    Raises InvertFillError where OpenVINO cannot convert it, or its fills stray from torch's."""
    import openvino

    r = model.config.resolution
    example = (torch.zeros(1, 3, r, r), torch.zeros(1, 1, r, r), model.soft_mean_latent.value.float(),
               *model.generator.synthesis.noise(1, "random", torch.Generator().manual_seed(0)))
    core = openvino.Core()
    candidates = ("bf16", "f32") if fast_bfloat16(torch.device("cpu")) else ("f32",)
    scores: dict[str, float] = {}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(ExportedFill(model.eval()), example, check_trace=False)
        converted = openvino.convert_model(traced, input=[(tuple(x.shape), openvino.Type.f32) for x in example])
        folder.mkdir()
        openvino.save_model(converted, str(folder / "model.xml"), compress_to_fp16=False)
        for name in candidates:
            scores[name] = _measure(model, _compile(core, converted, name))
            if scores[name] >= PRECISION_FLOOR_DB:
                (folder / PRECISION_FILE).write_text(json.dumps({"precision": name, "psnr_db": scores}))
                return Precision(name, scores)
    except Exception as error:  # noqa: BLE001 - whatever the converter raises, the fill runs with torch
        raise InvertFillError(f"OpenVINO could not convert the model ({type(error).__name__}: {error})") from error
    raise InvertFillError(f"OpenVINO's fills stray from torch's ({', '.join(f'{k} {v:.1f} dB' for k, v in scores.items())})")


def _read_precision(folder: Path) -> Precision | None:
    try:
        stored = json.loads((folder / PRECISION_FILE).read_text())
        return Precision(stored["precision"], stored["psnr_db"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cache_folder(cache_root: Path, checkpoint: Path) -> Path:
    """Where the conversion of `checkpoint` is kept under `cache_root`."""
    import openvino

    version = openvino.__version__.split("-")[0]
    return cache_root / f"{file_hash(checkpoint)[:24]}-ov{version}-f{CONVERSION_FORMAT}"


def _runner(core, folder: Path, precision: Precision, cached: bool, conversion_seconds: float = 0.0) -> OpenVINORunner:
    core.set_property({"CACHE_DIR": str(folder / "compiled")} if cached else {"ENABLE_MMAP": False})
    return OpenVINORunner(_compile(core, str(folder / "model.xml"), precision.name), precision, conversion_seconds)


def openvino_runner(model: InvertFill, checkpoint: Path, cache_root: Path | None, precision: str | None = None) -> OpenVINORunner:
    """Run `model` (float32 on the CPU, loaded from `checkpoint`) with OpenVINO: the conversion cached
    under `cache_root` when there is one, else a new one, kept there when `cache_root` is given.

    precision: None for the measured one; "f32" or "bf16" to force it (benchmarks/fill_cpu.py).
    Raises InvertFillError where OpenVINO cannot convert the model faithfully."""
    import openvino

    core = openvino.Core()
    folder = cache_folder(cache_root, checkpoint) if cache_root is not None else None
    if folder is not None and (measured := _read_precision(folder)) is not None:
        try:
            return _runner(core, folder, _forced(measured, precision), cached=True)
        except RuntimeError:
            shutil.rmtree(folder, ignore_errors=True)
    if cache_root is not None:
        cache_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_root) as scratch:
        converted = Path(scratch) / "conversion"
        start = time.monotonic()
        measured = _convert(model, converted)
        seconds = time.monotonic() - start
        if folder is None:
            return _runner(core, converted, _forced(measured, precision), False, seconds)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(converted, folder)
    return _runner(core, folder, _forced(measured, precision), True, seconds)


def _forced(measured: Precision, name: str | None) -> Precision:
    """The measured precision, or `name` (with the measurements) where one is forced."""
    if name is None:
        return measured
    if name not in ("f32", "bf16"):
        raise InvertFillError(f"unknown OpenVINO precision {name!r}; use f32 or bf16")
    return Precision(name, measured.psnr_db)
