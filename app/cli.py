"""The `invertfill` command line: fill, batch, training, evaluation, info, export, import-gan. Thin: parse
(app.cli_parser), call core or training, print.

Errors a user can act on print one line on stderr and exit 1; set INVERTFILL_DEBUG=1 to see
the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from core.engine.progress import Progress, ProgressCallback
from core.errors import InvertFillError
from core.wording import counted, rough_duration

from .cli_parser import BATCH_FORMATS, build_parser

if TYPE_CHECKING:
    from core.engine.inpainter import Inpainter

EXIT_OK, EXIT_ERROR, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 3, 130


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def _inpainter(args: argparse.Namespace) -> Inpainter:
    """The Inpainter that fill and batch ask for; notes of its loading (a fallback) go to stderr."""
    from app.user_data import openvino_cache_dir
    from core.engine.inpainter import Inpainter

    inpainter = Inpainter(args.model, args.device, args.method, args.runtime, openvino_cache_dir())
    for note in inpainter.notes:
        _note(note)
    return inpainter


def _run_fill(args: argparse.Namespace) -> int:
    from core.engine.inpainter import output_paths

    inpainter = _inpainter(args)
    result = inpainter.fill_file(
        args.image, args.mask, args.output, args.strategy, args.seed, args.variations, args.overwrite, args.quality,
        variation_strength=args.variation_strength,
    )
    for note in result.notes:
        _note(note)
    seed = "" if inpainter.is_classic else f" (seed {result.seed})"
    for path in output_paths(Path(args.output), args.variations):
        print(f"wrote {path} with {result.method}{seed}")
    return EXIT_OK


def _run_batch(args: argparse.Namespace) -> int:
    from core.engine.batch import pair_images_with_masks, run_batch

    jobs, unpaired = pair_images_with_masks(args.image_dir, args.output, args.masks, args.mask, BATCH_FORMATS[args.format])
    inpainter = _inpainter(args)
    print(f"filling {len(jobs)} image(s) with {inpainter.description}", file=sys.stderr)
    report_progress, close = _progress_reporter(args.progress, len(jobs), "image")
    try:
        report = run_batch(inpainter, jobs, args.strategy, args.seed, args.overwrite, args.quality, report_progress, threading.Event())
    finally:
        close()
    for note in report.notes:
        _note(note)
    skipped = unpaired + report.skipped
    print(f"filled {len(report.filled)}, skipped {len(skipped)} (output in {args.output})")
    for path, reason in skipped:
        print(f"  skipped {path.name}: {reason}")
    return EXIT_OK if not skipped else EXIT_ERROR


def _duration(seconds: float) -> str:
    """Seconds as "2h03m", or "4m05s" under an hour."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _shown_figures(p: Progress) -> dict[str, str]:
    """The losses (without their "loss_" prefix) and the augmentation probability of a report, formatted."""
    return {k.removeprefix("loss_"): f"{v:.3g}" for k, v in p.values.items() if k.startswith("loss_") or k == "augment_p"}


def _progress_line(p: Progress, unit: str, scale: float) -> str:
    """A report as one plain line, e.g. "tick 12  kimg 3.84/1000  12.3 img/s  ETA 2h03m  G 1.23  D 0.98"."""
    parts = [p.message, f"{unit} {p.done * scale:g}/{p.total * scale:g}"]
    if "images_per_s" in p.values:
        parts.append(f"{p.values['images_per_s']:.1f} img/s")
    if "eta_s" in p.values:
        parts.append(f"ETA {_duration(p.values['eta_s'])}")
    parts.extend(f"{name} {value}" for name, value in _shown_figures(p).items())
    return "  ".join(part for part in parts if part)


def _progress_reporter(style: str, total: int, unit: str, scale: float = 1.0) -> tuple[ProgressCallback, Callable[[], None]]:
    """A progress callback and its closer: JSON lines on stdout ("json"); for "bar", a tqdm bar on
    stderr when it is a terminal, else one plain line per report there (logs, nohup, pipes).

    `scale` converts Progress units into the shown units (e.g. images into kimg).
    """
    if style == "json":

        def report_json(p: Progress) -> None:
            line = {"done": p.done, "total": p.total, "message": p.message, **p.values}
            print(json.dumps(line), flush=True)

        return report_json, lambda: None
    if not sys.stderr.isatty():

        def report_line(p: Progress) -> None:
            print(_progress_line(p, unit, scale), file=sys.stderr, flush=True)

        return report_line, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total * scale, unit=unit, file=sys.stderr)

    def report_bar(p: Progress) -> None:
        bar.set_postfix(_shown_figures(p) or {"file": p.message}, refresh=False)
        bar.update(p.done * scale - bar.n)

    return report_bar, bar.close


def _announce_training(what: str, data: str, out: str) -> None:
    """The first line of a training command, before any work: what it trains, on how many images, into which run folder."""
    from training.data import image_files

    count = len(image_files(Path(data))) if Path(data).is_dir() else 0
    print(f"{what}: {counted(count, 'image')} in {data} -> {out}", file=sys.stderr, flush=True)


RUN_ONLY_KEYS = ("stage", "data", "pretrained")


def _settings(args: argparse.Namespace) -> dict:
    """Settings from --config, or the resumed run's config.json; {} without either."""
    source = Path(args.config) if args.config else None
    if source is None and args.resume and Path(args.resume, "config.json").is_file():
        source = Path(args.resume, "config.json")
    if source is None:
        return {}
    try:
        settings = json.loads(source.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InvertFillError(f"cannot read the settings in {source}: {error}") from None
    return {k: v for k, v in settings.items() if k not in RUN_ONLY_KEYS}


def _flags(args: argparse.Namespace, *names: str) -> dict:
    """The given flags that were set, by their dataclass field names."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _gan_config(args: argparse.Namespace):
    """GanTrainConfig from --config (or the resumed run's config.json), then the flags."""
    from dataclasses import replace

    from training.config import GanTrainConfig

    config = GanTrainConfig.from_dict(_settings(args))
    network = {k: v for k, v in {"resolution": args.res, "channel_base": args.channel_base, "channel_max": args.channel_max}.items() if v is not None}
    generator = replace(config.generator, **network)
    discriminator = replace(config.discriminator, **network)
    return replace(config, generator=generator, discriminator=discriminator, **_flags(args, "batch", "kimg", "workers", "seed"))


def _run_train_gan(args: argparse.Namespace) -> int:
    from training.stage1 import train_stylegan2

    config = _gan_config(args)
    time_limit = _time_limit(args.minutes)
    _announce_training(f"stage 1 (StyleGAN2 {config.resolution} px)", args.data, args.out)
    report, close = _progress_reporter(args.progress, int(config.kimg * 1000), "kimg", scale=1e-3)
    try:
        result = train_stylegan2(config, args.data, args.out, args.resume, args.init, args.device, report, time_limit)
    finally:
        close()
    return _report_training(result, args.out, time_limit)


def _encoder_settings(args: argparse.Namespace) -> dict:
    """Flags shared by train-encoder and finetune, as EncoderTrainConfig fields."""
    settings = _flags(args, "backbone", "batch", "kimg", "workers", "seed", "lr")
    if args.vgg:
        settings["vgg_path"] = args.vgg
    if getattr(args, "train_rgb_branch", False):
        settings["train_rgb_branch"] = True
    return settings


def _time_limit(minutes: float | None) -> threading.Event:
    """An event that is set after `minutes` (never without): the training commands' --minutes."""
    reached = threading.Event()
    if minutes is not None:
        if minutes <= 0:
            raise InvertFillError(f"--minutes must be positive, got {minutes:g}")
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise InvertFillError("--minutes works in a single process; under torchrun limit the run with --kimg")
        timer = threading.Timer(minutes * 60, reached.set)
        timer.daemon = True
        timer.start()
    return reached


def _report_training(result, out: str, time_limit: threading.Event) -> int:
    """The last line of a training command; Ctrl-C exits 130, the --minutes limit is a normal end."""
    state = "stopped at the time limit" if time_limit.is_set() else "interrupted" if result.interrupted else "finished"
    print(f"{state} at {result.images / 1000:.1f} kimg; checkpoint {result.checkpoint}, resume state in {Path(out) / 'checkpoints'}")
    return EXIT_INTERRUPTED if result.interrupted and not time_limit.is_set() else EXIT_OK


def _run_train_encoder(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from training.config import EncoderTrainConfig
    from training.stage2 import train_encoder

    config = EncoderTrainConfig.from_dict(_settings(args))
    model = replace(
        config.model,
        **_flags(args, "latent_space"),
        **({"premod": False} if args.no_premod else {}),
        **({"sml": False} if args.no_sml else {}),
    )
    config = replace(config, model=model, **_encoder_settings(args))
    if args.masks:
        config = replace(config, masks={**config.masks, "folder": 0.5}, mask_folder=args.masks)
    time_limit = _time_limit(args.minutes)
    _announce_training(f"stage 2 ({config.model.latent_space} encoder around {Path(args.gan).name})", args.data, args.out)
    report, close = _progress_reporter(args.progress, int(config.kimg * 1000), "kimg", scale=1e-3)
    try:
        result = train_encoder(config, args.gan, args.data, args.out, args.resume, domain=args.domain, device=args.device,
                               progress=report, cancel=time_limit)
    finally:
        close()
    return _report_training(result, args.out, time_limit)


def _run_train_discriminator(args: argparse.Namespace) -> int:
    from training.config import GanTrainConfig
    from training.discriminator_fit import train_discriminator

    config = GanTrainConfig.from_dict({**_settings(args), **_flags(args, "batch", "kimg", "workers", "seed")})
    time_limit = _time_limit(args.minutes)
    _announce_training(f"discriminator for the frozen generator of {Path(args.model).name}", args.data, args.out)
    report, close = _progress_reporter(args.progress, int(config.kimg * 1000), "kimg", scale=1e-3)
    try:
        result = train_discriminator(config, args.model, args.data, args.out, args.resume, args.device, report, time_limit)
    finally:
        close()
    return _report_training(result, args.out, time_limit)


def _run_finetune(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from training.config import EncoderTrainConfig
    from training.finetune_timing import time_finetune
    from training.stage2 import finetune_config, loss_summary, train_encoder

    defaults = finetune_config(args.model, args.masks or "free-form").to_dict()
    config = replace(EncoderTrainConfig.from_dict({**defaults, **_settings(args)}), **_encoder_settings(args))
    _announce_training(f"fine-tune (encoder of {Path(args.model).name})", args.data, args.out)
    hint = "; with torchvision's VGG16 file, --backbone vgg16 --vgg FILE adds them" if config.backbone == "none" else ""
    print(f"loss: {loss_summary(config, args.model)}{hint}", file=sys.stderr)
    images = int(config.kimg * 1000)
    snapshots = math.ceil(images / (config.tick_kimg * 1000 * config.snapshot_ticks))
    timing = time_finetune(config, args.model, args.device)
    seconds = timing.training_seconds(math.ceil(images / config.batch), config.batch, snapshots, config.samples)
    print(f"fine-tuning on {config.kimg:g} thousand images; estimated time here: {rough_duration(seconds)}", file=sys.stderr)
    time_limit = _time_limit(args.minutes)
    report, close = _progress_reporter(args.progress, int(config.kimg * 1000), "kimg", scale=1e-3)
    try:
        result = train_encoder(
            config, args.model, args.data, args.out, args.resume, finetune=True, domain=args.domain, device=args.device,
            progress=report, cancel=time_limit,
        )
    finally:
        close()
    return _report_training(result, args.out, time_limit)


def _run_make_masks(args: argparse.Namespace) -> int:
    from training.evaluation import write_mask_set

    manifest = write_mask_set(args.bucket, args.n, args.res, args.seed, args.output)
    print(f"wrote {args.n} {args.bucket} masks and {manifest}")
    return EXIT_OK


def _named(value: str) -> tuple[str, str]:
    """'NAME=PATH' -> (NAME, PATH); 'PATH' -> (its stem, PATH)."""
    name, _, path = value.rpartition("=")
    return (name or Path(path).stem, path)


def _run_eval(args: argparse.Namespace) -> int:
    from core.engine.device import resolve_device
    from core.engine.fill_registry import classic_fill
    from core.engine.inpainter import Inpainter
    from training.evaluation import evaluate, mask_set_name

    baselines = [classic_fill(key) for key in args.baseline]
    methods = {baseline.name: baseline.make() for baseline in baselines}
    methods.update({name: Inpainter(path, args.device).method for name, path in map(_named, args.model)})
    predictions = dict(map(_named, args.pred))
    mask_sets = {name if "=" in value else mask_set_name(path): path for value in args.masks for name, path in [_named(value)]}
    device = str(resolve_device(args.device))
    scores = evaluate(args.images, mask_sets, args.output, methods, predictions, args.res, args.seed, args.fid_weights, args.lpips, device,
                      args.strategy)
    print((Path(args.output) / "report.md").read_text(), end="")
    methods_scored = {m for rows in scores.values() for m in rows}
    print(f"wrote {len(methods_scored)} method(s) on {len(scores)} mask set(s) to {args.output}")
    return EXIT_OK


def _run_info(args: argparse.Namespace) -> int:
    from core.io.checkpoint_description import describe_checkpoint

    print(describe_checkpoint(args.checkpoint))
    return EXIT_OK


def _run_export(args: argparse.Namespace) -> int:
    from core.io.checkpoint import export_checkpoint

    source, target = Path(args.checkpoint), Path(args.output)
    if target.exists() and target.resolve() == source.resolve():
        raise InvertFillError(f"{target} is the checkpoint being exported; choose another output")
    export_checkpoint(source, target, args.half, args.domain, frozenset({"discriminator"} if args.no_discriminator else ()),
                      args.framing, args.data_terms)
    print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB, {'float16' if args.half else 'as stored'})")
    return EXIT_OK


def _run_import_gan(args: argparse.Namespace) -> int:
    from core.io.gan_import import import_gan_to_checkpoint

    source, target = Path(args.source), Path(args.output)
    if target.exists() and target.resolve() == source.resolve():
        raise InvertFillError(f"{target} is the file being imported; choose another output")
    gan = import_gan_to_checkpoint(source, target)
    print(gan.summary())
    print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB)")
    return EXIT_OK


TRAINING_COMMANDS = ("train-gan", "train-encoder", "train-discriminator", "finetune")


@contextmanager
def _signals_stop_training() -> Iterator[None]:
    """SIGTERM (a plain `kill`, the end of a session) and SIGINT stop a training run as Ctrl-C does,
    so it saves a checkpoint and its resume state first; SIGINT too when the run was started in the
    background, where the shell starts it with SIGINT ignored."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    handlers = {
        "fill": _run_fill,
        "batch": _run_batch,
        "train-gan": _run_train_gan,
        "train-encoder": _run_train_encoder,
        "train-discriminator": _run_train_discriminator,
        "finetune": _run_finetune,
        "make-masks": _run_make_masks,
        "eval": _run_eval,
        "info": _run_info,
        "export": _run_export,
        "import-gan": _run_import_gan,
    }
    try:
        if args.command not in TRAINING_COMMANDS:
            return handlers[args.command](args)
        with _signals_stop_training():
            return handlers[args.command](args)
    except InvertFillError as error:
        print(f"invertfill: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("invertfill: interrupted; no partial file was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`invertfill info CKPT | head`): stop quietly, and let nothing flush into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as error:
        if os.environ.get("INVERTFILL_DEBUG"):
            raise
        print(f"invertfill: internal error: {type(error).__name__}: {error} (set INVERTFILL_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_BUG


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
