"""The `invertfill` command line: fill, batch, info. Thin: parse, call core, print.

Errors a user can act on print one line on stderr and exit 1; set INVERTFILL_DEBUG=1 to see
the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from core import __version__
from core.errors import InvertFillError
from core.fill_strategy import STRATEGIES

EXIT_OK, EXIT_ERROR, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 3, 130


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="CKPT", help="InvertFill checkpoint (.safetensors); default: the embedded model")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run (default: auto)")
    parser.add_argument("--strategy", default="crop", choices=STRATEGIES, help="for images larger than the model (default: crop)")
    parser.add_argument("--seed", type=int, help="seed for reproducible fills (default: random, printed)")
    parser.add_argument("--quality", type=int, default=95, metavar="Q", help="JPEG/WebP quality 1-100, lossy; WebP 101 is lossless (default: 95)")
    parser.add_argument("--overwrite", action="store_true", help="allow the output to replace an input file")


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

    info = commands.add_parser("info", help="describe a checkpoint", description="Print a checkpoint's configuration.")
    info.add_argument("checkpoint", metavar="CKPT")
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
    report_progress, close = _progress_reporter(args.progress, len(jobs))
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


def _progress_reporter(style: str, total: int):
    """A progress callback (tqdm bar on stderr, or JSON lines on stdout) and its closer."""
    if style == "json":

        def report_json(p) -> None:
            print(json.dumps({"done": p.done, "total": p.total, "file": p.message}), flush=True)

        return report_json, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="image", file=sys.stderr, disable=None)

    def report_bar(p) -> None:
        bar.set_postfix_str(p.message, refresh=False)
        bar.update(p.done - bar.n)

    return report_bar, bar.close


def _run_info(args: argparse.Namespace) -> int:
    from core.checkpoint import describe_checkpoint

    print(describe_checkpoint(args.checkpoint))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    handlers = {"fill": _run_fill, "batch": _run_batch, "info": _run_info}
    try:
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
