"""The `invertfill` command line: fill, batch, training, evaluation, info, export, import-gan. Thin: parse, call core, print.

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

from core import __version__
from core.errors import InvertFillError
from core.fill_strategy import STRATEGIES
from core.progress import Progress, ProgressCallback

EXIT_OK, EXIT_ERROR, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 3, 130


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="CKPT", help="InvertFill checkpoint (.safetensors); default: the embedded model")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run (default: auto)")
    parser.add_argument("--strategy", default="crop", choices=STRATEGIES, help="for images larger than the model (default: crop)")
    parser.add_argument("--seed", type=int, help="seed for reproducible fills (default: random, printed)")
    parser.add_argument("--quality", type=int, default=95, metavar="Q", help="JPEG/WebP quality 1-100, lossy; WebP 101 is lossless (default: 95)")
    parser.add_argument("--overwrite", action="store_true", help="allow the output to replace an input file")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Options every training command takes."""
    parser.add_argument("--data", required=True, metavar="DIR", help="folder of training images (searched recursively)")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder: config, logs, samples, checkpoints")
    parser.add_argument("--config", metavar="FILE", help="JSON settings (e.g. a run's config.json); flags override them")
    parser.add_argument("--batch", type=int, metavar="N", help="global batch size")
    parser.add_argument("--kimg", type=float, metavar="N", help="train on N thousand images in all")
    parser.add_argument("--workers", type=int, metavar="N", help="data loading processes per rank (default 2)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--resume", metavar="RUN_DIR|FILE", help="continue a run from its resume state")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--progress", choices=["bar", "json"], default="bar",
                        help="a progress bar (one plain line per tick when stderr is not a terminal) or one JSON line per tick")
    parser.add_argument("--minutes", type=float, metavar="M", help="stop (and save) after M minutes even if --kimg is not reached")


def _add_loss_options(parser: argparse.ArgumentParser, masks_help: str) -> None:
    """Options of the encoder training commands: masks and the loss backbone."""
    parser.add_argument("--masks", metavar="KIND", help=masks_help)
    parser.add_argument("--backbone", choices=["vgg16", "discriminator"], help="features for the perceptual and style losses")
    parser.add_argument("--vgg", metavar="FILE", help="torchvision's vgg16-397923af.pth (default: the torch hub cache)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="invertfill", description="Fill masked regions of images with InvertFill.")
    parser.add_argument("--version", action="version", version=f"invertfill {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fill = commands.add_parser("fill", help="fill one image", description="Fill the white (hole) pixels of MASK in IMAGE.")
    fill.add_argument("image", metavar="IMAGE")
    fill.add_argument("mask", metavar="MASK", help="any image; pixels brighter than mid-gray are filled")
    fill.add_argument("-o", "--output", required=True, metavar="OUT", help="output image (.png .jpg .webp .bmp .tif)")
    fill.add_argument("--variations", type=int, default=1, metavar="K", help="write K different fills as OUT_1 … OUT_K")
    _add_engine_options(fill)

    batch = commands.add_parser(
        "batch",
        help="fill every image of a folder",
        description="Fill every image of IMAGE_DIR; photo.jpg takes the mask photo.* or photo_mask.* from --masks "
        "(default: photo_mask.* beside it), or the one --mask for all.",
    )
    batch.add_argument("image_dir", metavar="IMAGE_DIR")
    masks = batch.add_mutually_exclusive_group()
    masks.add_argument("--masks", metavar="DIR", help="folder of masks named like the images")
    masks.add_argument("--mask", metavar="FILE", help="one mask for every image")
    batch.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for the filled images")
    batch.add_argument("--progress", choices=["bar", "json"], default="bar", help="progress as a bar or JSON lines")
    _add_engine_options(batch)

    gan = commands.add_parser(
        "train-gan",
        help="stage 1: train a StyleGAN2 generator on a folder of images",
        description="Train StyleGAN2 (stage 1) on every image under --data. Settings come from --config "
        "(JSON of training.config.GanTrainConfig, or a run's config.json), then the flags. "
        "Ctrl-C saves a checkpoint and the resume state before exiting. Runs data-parallel under torchrun.",
    )
    _add_run_options(gan)
    gan.add_argument("--res", type=int, metavar="R", help="resolution (power of two, 32-1024; default 256)")
    gan.add_argument("--channel-base", type=int, metavar="C", help="channels min(C // res, channel max) (default 16384)")
    gan.add_argument("--channel-max", type=int, metavar="C", help="largest channel count (default 512)")
    gan.add_argument("--init", metavar="CKPT", help="start from a GAN: a rosinality .pt, an NVlabs .pkl (see import-gan) or our checkpoint")

    encoder = commands.add_parser(
        "train-encoder",
        help="stage 2: train the InvertFill encoder around a frozen generator",
        description="Train the encoder, pre-modulation and RGB branch (stage 2) around the frozen generator of --gan "
        "on every image under --data, with masks drawn on the fly. Settings: --config (JSON of "
        "training.config.EncoderTrainConfig, or a run's config.json), then the flags. Runs data-parallel under torchrun.",
    )
    encoder.add_argument("--gan", required=True, metavar="CKPT", help="stage-1 checkpoint, rosinality .pt, NVlabs .pkl, or an InvertFill model")
    encoder.add_argument("--latent-space", choices=["fw+", "w+"], help="fw+ (default) or the w+ ablation without the RGB branch")
    encoder.add_argument("--no-premod", action="store_true", help="ablation: no pre-modulation")
    encoder.add_argument("--no-sml", action="store_true", help="ablation: a static mean latent")
    encoder.add_argument("--domain", metavar="NAME", help="domain name stored in the checkpoints (default: the folder's name)")
    _add_run_options(encoder)
    _add_loss_options(encoder, "folder of mask files to mix in with the generated masks")

    tune = commands.add_parser(
        "finetune",
        help="adapt a model to a new domain by training only its encoder",
        description="Fine-tune the encoder of the InvertFill model --model on the images under --data (the generator "
        "and, by default, the RGB branch stay frozen). Prints the estimated time first.",
    )
    tune.add_argument("--model", required=True, metavar="CKPT", help="a complete InvertFill checkpoint")
    tune.add_argument("--domain", metavar="NAME", help="domain name stored in the new checkpoint (default: the folder's name)")
    tune.add_argument("--train-rgb-branch", action="store_true", help="also train the RGB branch")
    tune.add_argument("--lr", type=float, help="learning rate (default 1e-4)")
    _add_run_options(tune)
    _add_loss_options(tune, "free-form (default), outpaint, or a folder of mask files")

    masks = commands.add_parser(
        "make-masks",
        help="write a fixed, seeded evaluation mask set",
        description="Write N seeded masks of a coverage bucket (hard 50-60 %%, extreme 70-90 %%, all 10-90 %%, or "
        "outpaint) as OUT/00000.png … (white = hole) with OUT/manifest.json (settings, coverages, set hash).",
    )
    masks.add_argument("--bucket", required=True, choices=["hard", "extreme", "all", "outpaint"])
    masks.add_argument("--n", type=int, required=True, metavar="N", help="number of masks")
    masks.add_argument("--res", type=int, default=256, metavar="R", help="mask size (default 256)")
    masks.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    masks.add_argument("-o", "--output", required=True, metavar="DIR")

    evaluation = commands.add_parser(
        "eval",
        help="score methods on fixed image-mask pairs",
        description="Fill every image of --images with the masks of --masks (paired in order) by each model and "
        "baseline, or read another method's outputs with --pred, and write OUT/<method>/*.png, OUT/report.md, "
        "OUT/report.csv and OUT/examples.png. Every score is computed on composited images.",
    )
    evaluation.add_argument("--images", "--gt", required=True, metavar="DIR", help="ground-truth images")
    evaluation.add_argument("--masks", required=True, action="append", metavar="[BUCKET=]DIR", help="a mask set from make-masks (repeatable: one column group each)")
    evaluation.add_argument("--model", action="append", default=[], metavar="[NAME=]CKPT", help="an InvertFill checkpoint (repeatable)")
    evaluation.add_argument("--baseline", action="append", default=[], choices=["telea", "ns"], help="OpenCV baseline (repeatable)")
    evaluation.add_argument("--pred", action="append", default=[], metavar="[NAME=]DIR", help="outputs of another method, named like the images")
    evaluation.add_argument("--res", type=int, default=256, metavar="R", help="evaluation resolution (default 256)")
    evaluation.add_argument("--fid-weights", metavar="FILE", help="pt_inception-2015-12-05-6726825d.pth (default: the torch hub cache)")
    evaluation.add_argument("--lpips", choices=["alex", "vgg"], default="alex", help="LPIPS trunk; weights from the torch hub cache")
    evaluation.add_argument("--seed", type=int, default=0)
    evaluation.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    evaluation.add_argument("-o", "--output", required=True, metavar="REPORT_DIR")

    info = commands.add_parser("info", help="describe a checkpoint", description="Print a checkpoint's configuration.")
    info.add_argument("checkpoint", metavar="CKPT")

    export = commands.add_parser(
        "export", help="copy a checkpoint for shipping",
        description="Write a copy of CKPT with all its parts (without its discriminator with --no-discriminator): in "
        "half precision with --half (half the size; the engine widens it to float32 on load), under another domain "
        "name with --domain.",
    )
    export.add_argument("checkpoint", metavar="CKPT")
    export.add_argument("-o", "--output", required=True, metavar="OUT", help="the new .safetensors file")
    export.add_argument("--half", action="store_true", help="store floating-point tensors as float16")
    export.add_argument("--domain", metavar="NAME", help="domain name stored in the copy (default: the source's)")
    export.add_argument("--no-discriminator", action="store_true",
                        help="leave out the discriminator (the fill needs only the model; fine-tuning uses it as loss backbone)")

    import_gan = commands.add_parser(
        "import-gan", help="convert a published StyleGAN2 into a stage-1 checkpoint",
        description="Read a StyleGAN2 trained elsewhere without running code from it: a rosinality stylegan2-pytorch "
        ".pt (converted release or training checkpoint) or an NVlabs stylegan2-ada-pytorch / stylegan3 (StyleGAN2 "
        "config) .pkl. Writes OUT with its generator, its discriminator when the file has one, and its mean latent, "
        "ready for train-encoder --gan or train-gan --init.",
    )
    import_gan.add_argument("source", metavar="FILE")
    import_gan.add_argument("-o", "--output", required=True, metavar="OUT", help="the new .safetensors file")
    return parser


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def _run_fill(args: argparse.Namespace) -> int:
    from core.inpainter import Inpainter, output_paths

    inpainter = Inpainter(args.model, args.device)
    result = inpainter.fill_file(
        args.image, args.mask, args.output, args.strategy, args.seed, args.variations, args.overwrite, args.quality
    )
    for note in result.notes:
        _note(note)
    for path in output_paths(Path(args.output), args.variations):
        print(f"wrote {path} with {result.method} (seed {result.seed})")
    return EXIT_OK


def _run_batch(args: argparse.Namespace) -> int:
    from core.batch import pair_images_with_masks, run_batch
    from core.inpainter import Inpainter

    jobs, unpaired = pair_images_with_masks(args.image_dir, args.output, args.masks, args.mask)
    inpainter = Inpainter(args.model, args.device)
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
    print(f"{what}: {count} image{'s' if count != 1 else ''} in {data} -> {out}", file=sys.stderr, flush=True)


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


def _run_finetune(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from training.config import EncoderTrainConfig
    from training.finetune_timing import time_finetune
    from training.stage2 import finetune_config, train_encoder

    defaults = finetune_config(args.model, args.masks or "free-form").to_dict()
    config = replace(EncoderTrainConfig.from_dict({**defaults, **_settings(args)}), **_encoder_settings(args))
    _announce_training(f"fine-tune (encoder of {Path(args.model).name})", args.data, args.out)
    images = int(config.kimg * 1000)
    snapshots = math.ceil(images / (config.tick_kimg * 1000 * config.snapshot_ticks))
    seconds = time_finetune(config, args.model, args.device).training_seconds(images, snapshots, config.samples)
    print(f"fine-tuning on {config.kimg:g} thousand images; estimated time here: {seconds / 60:.0f} min", file=sys.stderr)
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
    from core.device import resolve_device
    from core.fill_methods import CLASSIC_NAMES, ClassicFill
    from core.inpainter import Inpainter
    from training.evaluation import evaluate, mask_set_name

    methods = {CLASSIC_NAMES[b]: ClassicFill(b) for b in args.baseline}
    methods.update({name: Inpainter(path, args.device).method for name, path in map(_named, args.model)})
    predictions = dict(map(_named, args.pred))
    mask_sets = {name if "=" in value else mask_set_name(path): path for value in args.masks for name, path in [_named(value)]}
    device = str(resolve_device(args.device))
    scores = evaluate(args.images, mask_sets, args.output, methods, predictions, args.res, args.seed, args.fid_weights, args.lpips, device)
    print((Path(args.output) / "report.md").read_text(), end="")
    methods_scored = {m for rows in scores.values() for m in rows}
    print(f"wrote {len(methods_scored)} method(s) on {len(scores)} mask set(s) to {args.output}")
    return EXIT_OK


def _run_info(args: argparse.Namespace) -> int:
    from core.checkpoint import describe_checkpoint

    print(describe_checkpoint(args.checkpoint))
    return EXIT_OK


def _run_export(args: argparse.Namespace) -> int:
    from core.checkpoint import export_checkpoint

    source, target = Path(args.checkpoint), Path(args.output)
    if target.exists() and target.resolve() == source.resolve():
        raise InvertFillError(f"{target} is the checkpoint being exported; choose another output")
    export_checkpoint(source, target, args.half, args.domain, frozenset({"discriminator"} if args.no_discriminator else ()))
    print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB, {'float16' if args.half else 'as stored'})")
    return EXIT_OK


def _run_import_gan(args: argparse.Namespace) -> int:
    from core.gan_import import import_gan_to_checkpoint

    source, target = Path(args.source), Path(args.output)
    if target.exists() and target.resolve() == source.resolve():
        raise InvertFillError(f"{target} is the file being imported; choose another output")
    gan = import_gan_to_checkpoint(source, target)
    print(gan.summary())
    print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB)")
    return EXIT_OK


TRAINING_COMMANDS = ("train-gan", "train-encoder", "finetune")


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
