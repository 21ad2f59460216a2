"""The `invertfill` command line's arguments: every command, its options and their help (app.cli runs them).

It imports only the names a user chooses among (core.engine.choices, training.config), never torch,
so that `--help` and `info` start at once (benchmarks/startup.py)."""

from __future__ import annotations

import argparse

from core import __version__
from core.engine.choices import (
    CLASSIC_NAMES,
    DEFAULT_STRATEGY,
    DEVICE_CHOICES,
    METHOD_KEYS,
    MODEL,
    RUNTIME_VARIABLE,
    RUNTIMES,
    STRATEGIES,
    VARIATION_STRENGTH,
    default_runtime,
)
from training.config import BACKBONES


BATCH_FORMATS = {"png": ".png", "same": None}
"""batch --format: the suffix of every output, or None to keep each input's."""


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="CKPT", help="InvertFill checkpoint (.safetensors); default: the embedded model")
    parser.add_argument(
        "--method", default=MODEL, choices=METHOD_KEYS,
        help="invertfill (the model; default) or a classic fill that needs none: telea, ns (OpenCV), patchmatch (pip install pypatchmatch)",
    )
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="where to run (default: auto)")
    parser.add_argument(
        "--runtime", default=default_runtime(), choices=RUNTIMES,
        help=f"what runs the model: auto (default, or ${RUNTIME_VARIABLE}): OpenVINO on the CPU where it is installed "
        "(pip install openvino; a model is converted once, on its first load), else torch",
    )
    parser.add_argument("--strategy", default=DEFAULT_STRATEGY, choices=STRATEGIES,
                        help="detail (default): fill at the model's size, then add the photo's own fine detail; crop or resize: "
                        "fill at the model's size and scale up; full: only images at the model's size")
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
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--progress", choices=["bar", "json"], default="bar",
                        help="a progress bar (one plain line per tick when stderr is not a terminal) or one JSON line per tick")
    parser.add_argument("--minutes", type=float, metavar="M", help="stop (and save) after M minutes even if --kimg is not reached")


def _add_loss_options(parser: argparse.ArgumentParser, masks_help: str) -> None:
    """Options of the encoder training commands: masks and the loss backbone."""
    parser.add_argument("--masks", metavar="KIND", help=masks_help)
    parser.add_argument("--backbone", choices=list(BACKBONES),
                        help="features for the perceptual and style losses: the checkpoint's discriminator, VGG16 (--vgg), or none (no such losses)")
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
    fill.add_argument("--variation-strength", type=float, metavar="S",
                      help=f"how far variations 2 … K stray from the first fill, 0-1 (default {VARIATION_STRENGTH:g}; 0 changes only fine noise)")
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
    batch.add_argument("--format", choices=list(BATCH_FORMATS), default="png",
                       help="png (default, as the app writes: known pixels stay exact) or same (each input's own format)")
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

    critic = commands.add_parser(
        "train-discriminator",
        help="train a discriminator for a model that was kept without one",
        description="Train a new discriminator (width from --config's discriminator, e.g. the model's stage1.json) "
        "against the frozen generator of the InvertFill model --model on the images under --data, with stage 1's "
        "loss, R1 and augmentation. The run's checkpoints are --model with it, which fine-tuning takes as its loss backbone.",
    )
    critic.add_argument("--model", required=True, metavar="CKPT", help="an InvertFill checkpoint (its generator stays frozen)")
    _add_run_options(critic)

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
    evaluation.add_argument(
        "--baseline", action="append", default=[], choices=list(CLASSIC_NAMES),
        help="a classic fill: telea, ns (OpenCV), patchmatch (pip install pypatchmatch) (repeatable)",
    )
    evaluation.add_argument("--pred", action="append", default=[], metavar="[NAME=]DIR", help="outputs of another method, named like the images")
    evaluation.add_argument("--res", type=int, default=256, metavar="R", help="evaluation resolution (default 256)")
    evaluation.add_argument("--strategy", default=DEFAULT_STRATEGY, choices=STRATEGIES,
                            help="how a method fills images larger than its own size (default: detail, as fill)")
    evaluation.add_argument("--fid-weights", metavar="FILE", help="pt_inception-2015-12-05-6726825d.pth (default: the torch hub cache)")
    evaluation.add_argument("--lpips", choices=["alex", "vgg"], default="alex", help="LPIPS trunk; weights from the torch hub cache")
    evaluation.add_argument("--seed", type=int, default=0)
    evaluation.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
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
    export.add_argument("--framing", choices=["aligned-face", "scene"],
                        help="how the model's training images were framed (default: the source's); the fill plans its windows by it")
    export.add_argument("--data-terms", metavar="TEXT", help="the terms of the model's training data (default: the source's)")
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
