"""Speed of the fill and of the training steps, across precisions and op paths (not a test).

    python benchmarks/speed.py [--res 256 512] [--batches 1 64] [--runs 50] [--json out.json]
    python benchmarks/speed.py --tiny            # a seconds-long smoke run on any machine

For each model size and batch: the full fill (encoder + pre-modulation + generator +
composition) in fp32, fp16 (CUDA) and bf16, with the reference and the fused ops (CUDA), and
with a CUDA graph (CUDA); then one stage-1 and one stage-2 training step. Reports the median
and interquartile range over `runs` after warm-up (CUDA events on a GPU), images/s, peak device
memory, and the achieved FLOP/s as a fraction of the measured bf16 matrix-product peak (FLOPs
counted with torch's FlopCounterMode). Writes JSON and prints a markdown table last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.nn.config import DiscriminatorConfig, EncoderConfig, GeneratorConfig, InvertFillConfig, RGBBranchConfig  # noqa: E402
from core.nn.invertfill import InvertFill  # noqa: E402
from core.ops import backend  # noqa: E402
from training.config import EncoderTrainConfig, GanTrainConfig  # noqa: E402
from training.distributed import DistributedContext  # noqa: E402
from training.losses import DiscriminatorFeatures  # noqa: E402
from training.stage1 import Stage1Trainer  # noqa: E402


def timed(step: Callable[[], object], runs: int, warmup: int, device: torch.device) -> list[float]:
    """Milliseconds of `step`, one entry per timed run."""
    times = []
    for i in range(warmup + runs):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            torch.cuda.synchronize()
            elapsed = start.elapsed_time(end)
        else:
            t0 = time.perf_counter()
            step()
            elapsed = (time.perf_counter() - t0) * 1000
        if i >= warmup:
            times.append(elapsed)
    return times


def matmul_peak(device: torch.device, size: int, runs: int) -> float:
    """Measured bf16 matrix-product FLOP/s on this device."""
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    median = statistics.median(timed(lambda: a @ b, runs, 3, device))
    return 2 * size**3 / (median / 1000)


def count_flops(step: Callable[[], object]) -> int:
    """FLOPs of one call of `step`, run with autograd on (torch's counter fails in no-grad modes)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def model_config(res: int, tiny: bool) -> InvertFillConfig:
    if tiny:
        return InvertFillConfig(
            generator=GeneratorConfig(resolution=res, style_dim=32, mapping_layers=2, channel_base=1024, channel_max=32),
            encoder=EncoderConfig(channel_base=512, channel_max=16, fpn_channels=16, structure_channels=8),
            rgb_branch=RGBBranchConfig(channel_base=256, channel_max=8),
        )
    return InvertFillConfig(generator=GeneratorConfig(resolution=res))


def fill_rows(config: InvertFillConfig, batch: int, device: torch.device, args, peak: float) -> list[dict]:
    """Timings of the whole fill for every precision, op path and (on CUDA) with a CUDA graph."""
    torch.manual_seed(0)
    base = InvertFill(config).eval().to(device, memory_format=torch.channels_last)
    base.reset_mean_latent()
    r = config.resolution
    image = torch.rand(batch, 3, r, r, device=device) * 2 - 1
    mask = torch.zeros(batch, 1, r, r, device=device)
    mask[..., r // 4 : 3 * r // 4, r // 4 : 3 * r // 4] = 1
    cuda = device.type == "cuda"
    dtypes = [torch.float32, torch.bfloat16] + ([torch.float16] if cuda else [])
    paths = ["reference", "fused"] if cuda and backend.triton_available() else ["reference"]
    rows, reference_output = [], None
    for dtype in dtypes:
        model = base.to(dtype)
        x, m = image.to(dtype).contiguous(memory_format=torch.channels_last), mask.to(dtype)
        for path in paths:
            backend.force_reference = path == "reference"
            for graph in ([False, True] if cuda else [False]):
                with torch.inference_mode():
                    step = (lambda: model(x, m, "const").composite)
                    if graph:
                        step = capture_graph(step)
                    times = timed(step, args.runs, args.warmup, device)
                    output = step().float()
                flops = count_flops(lambda: model(x, m, "const")) if not graph else rows[-1]["flops"]
                if reference_output is None:
                    reference_output = output
                median = statistics.median(times)
                q = statistics.quantiles(times, n=4) if len(times) > 1 else [median] * 3
                rows.append({
                    "what": f"fill {config.resolution}px", "batch": batch, "dtype": str(dtype).removeprefix("torch."),
                    "ops": path, "cuda_graph": graph, "median_ms": median, "iqr_ms": q[2] - q[0],
                    "images_per_s": batch * 1000 / median, "flops": flops,
                    "peak_fraction": flops / (median / 1000) / peak,
                    "peak_memory_mb": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None,
                    "rel_diff_vs_fp32": float((output - reference_output).norm() / reference_output.norm()),
                })
    backend.force_reference = False
    return rows


def capture_graph(step: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    """Record `step` once in a CUDA graph; the returned function replays it (fixed shapes)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        output = step()

    def replay() -> torch.Tensor:
        graph.replay()
        return output

    return replay


def training_rows(config: InvertFillConfig, batch: int, device: torch.device, args) -> list[dict]:
    """One stage-1 and one stage-2 training step (regularizers amortized over 16 steps)."""
    from training.stage2 import Stage2Trainer

    ctx = DistributedContext(0, 1, device)
    gan = GanTrainConfig(generator=config.generator, discriminator=DiscriminatorConfig(
        resolution=config.resolution, channel_base=config.generator.channel_base, channel_max=config.generator.channel_max), batch=batch)
    stage1 = Stage1Trainer(gan, ctx)
    r = config.resolution
    real = torch.rand(batch, 3, r, r, device=device) * 2 - 1
    rows = []
    times = timed(lambda: stage1.train_step(real), max(args.runs // 4, 16), 2, device)
    rows.append({"what": f"stage-1 step {r}px", "batch": batch, "median_ms": statistics.mean(times),
                 "images_per_s": batch * 1000 / statistics.mean(times), "s_per_kimg": statistics.mean(times) / batch})
    model = InvertFill(config).to(device)
    model.reset_mean_latent()
    enc_config = EncoderTrainConfig(model=config, backbone="discriminator", batch=batch, masks={"all": 1.0})
    stage2 = Stage2Trainer(enc_config, ctx, model, stage1.discriminator, finetune=False)
    assert isinstance(stage2.backbone, DiscriminatorFeatures)
    times = timed(lambda: stage2.train_step(real), max(args.runs // 4, 4), 2, device)
    rows.append({"what": f"stage-2 step {r}px", "batch": batch, "median_ms": statistics.median(times),
                 "images_per_s": batch * 1000 / statistics.median(times), "s_per_kimg": statistics.median(times) / batch})
    return rows


def markdown(rows: list[dict], device_name: str, peak: float) -> str:
    lines = [f"Device: {device_name}; measured bf16 matrix-product peak {peak / 1e12:.2f} TFLOP/s", "",
             "| what | batch | dtype | ops | graph | median ms | IQR ms | images/s | % of bf16 peak | peak MiB | rel. diff |",
             "| --- | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        def cell(key, fmt):
            return "-" if r.get(key) is None else format(r[key], fmt)
        lines.append(f"| {r['what']} | {r['batch']} | {r.get('dtype', '-')} | {r.get('ops', '-')} | {'yes' if r.get('cuda_graph') else '-'} | "
                     f"{r['median_ms']:.2f} | {cell('iqr_ms', '.2f')} | {r['images_per_s']:.1f} | {cell('peak_fraction', '.1%')} | "
                     f"{cell('peak_memory_mb', '.0f')} | {cell('rel_diff_vs_fp32', '.1e')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--res", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--tiny", action="store_true", help="tiny model, 32 px, few runs: a smoke test")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    if args.tiny:
        args.res, args.batches, args.runs, args.warmup = [32], [1, 2], 3, 1
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else args.device.replace("auto", "cpu"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    peak = matmul_peak(device, 256 if args.tiny else 4096 if device.type == "cuda" else 1024, max(args.runs // 5, 3))
    rows = []
    for res in args.res:
        config = model_config(res, args.tiny)
        for batch in args.batches:
            rows += fill_rows(config, batch, device, args, peak)
        rows += training_rows(replace(config), 16 if not args.tiny else 2, device, args)
    if args.json:
        args.json.write_text(json.dumps({"device": name, "bf16_peak_flops": peak, "rows": rows}, indent=1))
    print(markdown(rows, name, peak))


if __name__ == "__main__":
    main()
