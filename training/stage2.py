"""Stage 2: the InvertFill encoder with a frozen generator, and the encoder-only domain fine-tune.

Stage 2 trains the encoder, pre-modulation and RGB branch of an InvertFill model around a
pretrained StyleGAN2 generator whose weights never change; masks are drawn on the fly from
a mixture of free-form buckets and outpainting masks; the soft-update mean latent takes one
step per training step (paper §3.2–3.3). The domain fine-tune (the paper's RQ3) starts from a
complete InvertFill checkpoint and trains only the encoder and pre-modulation (and, if asked,
the RGB branch) on a new folder. Randomness and masks follow (seed, rank, step) and the
image count, so a resumed run continues exactly.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.engine.device import training_autocast
from core.engine.progress import ProgressCallback
from core.errors import InvertFillError
from core.io.checkpoint import load_checkpoint, save_checkpoint
from core.io.checkpoint_header import ModelCard, read_header
from core.io.gan_import import import_gan, is_foreign_gan_file
from core.masks.generation import MaskSampler
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from core.nn.invertfill import InvertFill
from core.nn.random_init import seeded_initialization

from .compiled import CompiledLoss
from .config import EncoderTrainConfig
from .data import ImageFolderDataset, make_loader
from .distributed import DistributedContext, init_distributed
from .loop import run_loop
from .losses import inpainting_loss, make_backbone
from .run_folder import RunFolder, load_resume_state, opened_run_folder
from .stage1 import step_seed
from .vgg16 import default_vgg16_path


@dataclass
class Stage2Result:
    """The trained model, where the run stopped, and how many photos it trained on."""

    model: InvertFill
    images: int
    steps: int
    interrupted: bool
    checkpoint: Path | None
    photos: int


@dataclass
class Pretrained:
    """What a run starts from: a GAN's generator (with its mean latent (style_dim,) when the file
    has one) or a complete InvertFill model, the discriminator when there is one, and the model
    card that the run's checkpoints inherit."""

    generator: Generator | None
    invertfill: InvertFill | None
    discriminator: Discriminator | None
    mean_latent: torch.Tensor | None = None
    card: ModelCard = ModelCard()


def load_pretrained(path: Path) -> Pretrained:
    """The networks a stage-2 run can start from: a stage-1 checkpoint (generator and
    discriminator), a published StyleGAN2 (rosinality `.pt`, NVlabs `.pkl`; see core.io.gan_import),
    or a complete InvertFill checkpoint."""
    if is_foreign_gan_file(path):
        gan = import_gan(path)
        return Pretrained(gan.generator, None, gan.discriminator, gan.mean_latent)
    checkpoint = load_checkpoint(path)
    parts = checkpoint.parts
    if "invertfill" in parts:
        return Pretrained(None, parts["invertfill"], parts.get("discriminator"), card=checkpoint.card)
    if "generator" in parts:
        return Pretrained(parts["generator"], None, parts.get("discriminator"), checkpoint.mean_latent, checkpoint.card)
    raise InvertFillError(f"{path.name} holds neither a StyleGAN2 generator nor an InvertFill model")


class Stage2Trainer:
    """An InvertFill model, its optimizer over the trainable parts, masks and the loss backbone."""

    def __init__(
        self,
        config: EncoderTrainConfig,
        ctx: DistributedContext,
        model: InvertFill,
        discriminator: Discriminator | None,
        finetune: bool,
    ) -> None:
        if config.batch % ctx.world_size:
            raise InvertFillError(f"batch {config.batch} does not divide over {ctx.world_size} processes")
        self.config, self.ctx, self.finetune = config, ctx, finetune
        self.model = model.to(ctx.device, memory_format=torch.channels_last)
        self.model.freeze_generator()
        if finetune and self.model.rgb_branch is not None:
            self.model.rgb_branch.requires_grad_(config.train_rgb_branch)
        ctx.broadcast(self.model)
        self.parameters = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(self.parameters, lr=config.lr, betas=(0.9, 0.99), foreach=True)
        if discriminator is not None:
            discriminator = discriminator.to(ctx.device, memory_format=torch.channels_last)
        self.backbone = make_backbone(config.backbone, discriminator, config.vgg_path)
        if isinstance(self.backbone, torch.nn.Module):
            self.backbone.to(ctx.device)
        self.discriminator = discriminator
        resolution = model.config.resolution
        self.masks = MaskSampler(resolution, config.masks, config.mask_folder, seed=config.seed)
        self.loss = CompiledLoss(
            self._loss, self.parameters, lambda: training_autocast(ctx.device, config.mixed_precision), ctx.device, config.compile
        )
        self.step, self.images = 0, 0

    def state_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "finetune": self.finetune,
            "step": self.step,
            "images": self.images,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        if self.model.state_dict().keys() != state["model"].keys() or bool(state["finetune"]) != self.finetune:
            raise InvertFillError("the resume state is for another model or stage than this run")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.images = int(state["step"]), int(state["images"])

    def batch_masks(self, n: int) -> torch.Tensor:
        """(n, 1, R, R) float masks for this rank's part of the current step, keyed by image count."""
        first = self.images + self.ctx.rank * n
        masks = np.stack([self.masks.sample(first + j) for j in range(n)])
        return torch.from_numpy(masks).to(self.ctx.device, torch.float32)[:, None]

    def train_step(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """One step on images (N, 3, R, R) in [-1, 1]: mask, fill, loss, update, SML step.

        The model's noise is drawn from a generator seeded from (seed, rank, step); the SML target
        from one seeded from (seed, step), the same on every rank.
        """
        cfg, ctx = self.config, self.ctx
        generator = torch.Generator(images.device).manual_seed(step_seed(cfg.seed, ctx.rank, self.step))
        mask = self.batch_masks(images.shape[0])
        images = images.contiguous(memory_format=torch.channels_last)
        total, terms = self.loss(images, mask, generator)
        ctx.average_gradients(self.parameters)
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.learning_rate(self.images)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        shared = torch.Generator(ctx.device).manual_seed(step_seed(cfg.seed, 0, self.step))
        self.model.soft_mean_latent.step(self.model.generator.mapping, shared)
        self.step += 1
        self.images += images.shape[0] * ctx.world_size
        return {"total": total.detach(), **{name: value.detach() for name, value in terms.items()}}

    def _loss(self, images: torch.Tensor, mask: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The fill of images (N, 3, R, R) under mask (N, 1, R, R) and its loss -> (total, weighted terms); the step's
        compiled part, run in its autocast region."""
        out = self.model(images * (1 - mask), mask, "random", generator=generator)
        return inpainting_loss(out, images, mask, self.backbone, self.config.losses, self.model.soft_mean_latent.value)


def build_model(
    config: EncoderTrainConfig, pretrained: Path, finetune: bool, seed: int
) -> tuple[InvertFill, Discriminator | None, ModelCard]:
    """The model a run starts from: a new InvertFill around a pretrained generator (stage 2), or a
    complete InvertFill checkpoint (fine-tune); its discriminator and model card come along."""
    loaded = load_pretrained(pretrained)
    if finetune:
        if loaded.invertfill is None:
            raise InvertFillError(f"{pretrained.name} is not a complete InvertFill model; fine-tuning starts from one")
        return loaded.invertfill, loaded.discriminator, loaded.card
    generator = loaded.generator if loaded.generator is not None else loaded.invertfill.generator
    with seeded_initialization(seed):
        model = InvertFill(config.model_config(generator.config))
    model.generator.load_state_dict(generator.state_dict())
    model.reset_mean_latent(torch.Generator().manual_seed(seed), loaded.mean_latent)
    return model, loaded.discriminator, loaded.card


def train_encoder(
    config: EncoderTrainConfig,
    pretrained: str | Path,
    data: str | Path,
    out: str | Path,
    resume: str | Path | None = None,
    finetune: bool = False,
    domain: str | None = None,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    exclude: frozenset[Path] = frozenset(),
) -> Stage2Result:
    """Stage 2 (`finetune=False`, `pretrained` = a GAN) or the domain fine-tune (`finetune=True`,
    `pretrained` = an InvertFill checkpoint). Writes RUN_DIR like stage 1; its network
    checkpoints are complete InvertFill models (part "invertfill", with the discriminator when
    it serves as the loss backbone) that the engine and the app load. Images of `data` listed
    in `exclude` are not trained on.
    """
    ctx = init_distributed(device)
    model, discriminator, card = build_model(config, Path(pretrained), finetune, config.seed)
    trainer = Stage2Trainer(config, ctx, model, discriminator, finetune)
    if resume is not None:
        trainer.load_state_dict(load_resume_state(resume, ctx.device))
    stage = "finetune" if finetune else "encoder"
    domain = domain or Path(data).name
    dataset = ImageFolderDataset(data, model.config.resolution, seed=config.seed, exclude=exclude, zoom=config.zoom)
    with opened_run_folder(out, ctx.is_main) as run:
        run.save_config({"stage": stage, "data": str(data), "pretrained": str(pretrained), **config.to_dict()})
        interrupted, checkpoint = _train_in(run, trainer, dataset, stage, domain, card, progress, cancel)
    return Stage2Result(trainer.model, trainer.images, trainer.step, interrupted, checkpoint, len(dataset))


def _train_in(
    run: RunFolder, trainer: Stage2Trainer, dataset: ImageFolderDataset, stage: str, domain: str, card: ModelCard,
    progress: ProgressCallback | None, cancel: threading.Event | None,
) -> tuple[bool, Path | None]:
    """train_encoder's loop in `run`, with its snapshots (model, resume state, a grid of fills) -> (interrupted, last checkpoint)."""
    config, ctx, discriminator = trainer.config, trainer.ctx, trainer.discriminator
    loader = make_loader(dataset, config.batch // ctx.world_size, trainer.images, ctx.rank, ctx.world_size, config.workers, ctx.device)
    preview = next(make_loader(dataset, min(config.samples, len(dataset)), seed_offset(dataset))).to(ctx.device)
    preview_masks = torch.from_numpy(np.stack([trainer.masks.sample(-1 - i) for i in range(preview.shape[0])])).float()[:, None].to(ctx.device)

    def snapshot() -> Path | None:
        path = run.checkpoints / f"network-{trainer.images:09d}.safetensors"
        if ctx.is_main:
            parts = {"invertfill": trainer.model}
            if discriminator is not None:
                parts["discriminator"] = discriminator
            save_checkpoint(path, parts, stage=stage, domain=domain, card=card)
            run.save_resume_state(trainer.state_dict())
            with torch.no_grad():
                out_images = trainer.model(preview * (1 - preview_masks), preview_masks, "const")
            masked = preview * (1 - preview_masks)
            rows = torch.cat([masked, out_images.output, out_images.composite, preview])
            run.save_grid(f"fills-{trainer.images:09d}", rows, trainer.images, columns=preview.shape[0])
        return path

    return run_loop(
        trainer, loader, ctx.device, int(config.kimg * 1000), int(config.tick_kimg * 1000), config.snapshot_ticks,
        run, snapshot, progress, cancel,
    )


def seed_offset(dataset: ImageFolderDataset) -> int:
    """A stream position past the first epoch, for preview images that do not repeat the first batch."""
    return len(dataset) * 1_000_003


FINETUNE_MASKS = {"free-form": {"all": 0.6, "hard": 0.2, "extreme": 0.2}, "outpaint": {"outpaint": 1.0}}


def finetune_config(model_path: str | Path, masks: str = "free-form", **settings) -> EncoderTrainConfig:
    """Settings for a fine-tune on a small folder: masks "free-form", "outpaint" or a folder of
    mask files; the discriminator stored with the model as loss backbone, or for a model without
    one no perceptual and style terms (backbone "none"): nothing outside the model is needed."""
    if masks in FINETUNE_MASKS:
        mix, folder = FINETUNE_MASKS[masks], None
    else:
        mix, folder = {"folder": 1.0}, str(masks)
    defaults = dict(
        masks=mix, mask_folder=folder, batch=8, kimg=10, tick_kimg=0.2, snapshot_ticks=10,
        backbone="discriminator" if has_discriminator(model_path) else "none",
    )
    return EncoderTrainConfig(**{**defaults, **settings})


def has_discriminator(model_path: str | Path) -> bool:
    """Whether the checkpoint holds a discriminator (read from its header alone)."""
    return "discriminator" in json.loads(read_header(model_path).metadata.get("parts", "{}"))


def loss_summary(config: EncoderTrainConfig, model_path: str | Path) -> str:
    """What the perceptual and style terms of a run of `config` from `model_path` are computed on, in one line."""
    name = Path(model_path).name
    if config.backbone == "discriminator":
        return f"perceptual and style losses on the discriminator stored in {name}"
    if config.backbone == "vgg16":
        return f"perceptual and style losses on VGG16 ({config.vgg_path or default_vgg16_path()})"
    why = "backbone none" if has_discriminator(model_path) else f"{name} holds no discriminator"
    return f"no perceptual or style losses ({why}): pixel, smoothness and encoder losses only"
