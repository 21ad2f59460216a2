"""A new discriminator for a finished InvertFill model: stage 1's discriminator step against the
model's frozen generator.

The fine-tune takes its perceptual and style features from the model's own discriminator
(training.losses.DiscriminatorFeatures). A model kept without it (the faces demo was exported so)
gets one here: a fresh discriminator of `config.discriminator`'s width learns to tell the
training images from the frozen generator's samples with stage 1's logistic loss, lazy R1 and
adaptive augmentation (training.stage1); the generator and the rest of the model never change.
The run folder is a training run's (training.run_folder); its checkpoints hold the model's parts
as they were, its model card and mean latent, plus the new discriminator.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from core.engine.device import training_autocast
from core.engine.progress import ProgressCallback
from core.errors import InvertFillError
from core.io.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from core.nn.random_init import seeded_initialization

from .augment import AdaptiveAugment, AugmentController, augment_probability
from .config import GanTrainConfig
from .data import ImageFolderDataset, make_loader
from .distributed import DistributedContext, init_distributed
from .gan_losses import discriminator_loss, r1_penalty
from .loop import run_loop
from .run_folder import load_resume_state, opened_run_folder
from .stage1 import gan_adam, step_seed


@dataclass
class DiscriminatorFit:
    """The trained discriminator and where the run stopped."""

    discriminator: Discriminator
    images: int
    interrupted: bool
    checkpoint: Path | None


def frozen_generator(checkpoint: Checkpoint) -> Generator:
    """The generator of an InvertFill model (or of a GAN checkpoint), for sampling only."""
    model = checkpoint.parts.get("invertfill")
    generator = model.generator if model is not None else checkpoint.parts.get("generator")
    if not isinstance(generator, Generator):
        raise InvertFillError(f"{checkpoint.path.name} holds {', '.join(checkpoint.parts)}: no generator to train a discriminator against")
    return generator.eval().requires_grad_(False)


class DiscriminatorTrainer:
    """A discriminator, its optimizer and augmentation, learning against a frozen generator."""

    def __init__(self, config: GanTrainConfig, ctx: DistributedContext, generator: Generator) -> None:
        self.config, self.ctx = config, ctx
        self.generator = generator.to(ctx.device)
        with seeded_initialization(config.seed):
            self.discriminator = Discriminator(config.discriminator).to(ctx.device, memory_format=torch.channels_last)
        self.augment = AdaptiveAugment(p=0.0).to(ctx.device) if config.augment == "ada" else None
        self.controller = AugmentController(config.ada_target, config.ada_interval, config.ada_kimg * 1000)
        self.optimizer = gan_adam(self.discriminator.parameters(), config.lr)
        self.step, self.images = 0, 0

    def state_dict(self) -> dict:
        return {
            "config": self.config.to_dict(), "step": self.step, "images": self.images,
            "discriminator": self.discriminator.state_dict(), "optimizer": self.optimizer.state_dict(),
            "augment": self.augment.state_dict() if self.augment is not None else {}, "controller": self.controller.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        if GanTrainConfig.from_dict(state["config"]).discriminator != self.config.discriminator:
            raise InvertFillError("the resume state is for another discriminator than this run's config")
        self.step, self.images = int(state["step"]), int(state["images"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.augment is not None:
            self.augment.load_state_dict(state["augment"])
        self.controller.load_state_dict(state["controller"])

    def train_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One discriminator step (with lazy R1) on real (N, 3, R, R) against N generated images."""
        cfg = self.config
        g = torch.Generator(real.device).manual_seed(step_seed(cfg.seed, 0, self.step))
        regularize = self.step % cfg.r1_interval == 0
        with torch.no_grad(), training_autocast(self.ctx.device, cfg.mixed_precision):
            z = torch.randn(real.shape[0], self.generator.config.style_dim, generator=g, device=real.device)
            fake = self.generator(z, mixing_prob=cfg.mixing_prob, generator=g)
        real = real.detach().contiguous(memory_format=torch.channels_last).requires_grad_(regularize)
        with training_autocast(self.ctx.device, cfg.mixed_precision):
            fake_logits, real_logits = (self.discriminator(self._augmented(x, g)) for x in (fake, real))
            losses = {"D": discriminator_loss(real_logits, fake_logits)}
        self.controller.accumulate(real_logits.detach())
        total = losses["D"]
        if regularize:
            losses["r1"] = r1_penalty(real, real_logits.float()).mean()
            total = total + losses["r1"] * (cfg.effective_r1_gamma / 2) * cfg.r1_interval
        total.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.images += real.shape[0]
        if self.augment is not None:
            self.controller.update(self.augment, self.step, real.shape[0])
        return {name: value.detach() for name, value in losses.items()}

    def _augmented(self, images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return self.augment(images, g) if self.augment is not None else images


def train_discriminator(
    config: GanTrainConfig,
    model: str | Path,
    data: str | Path,
    out: str | Path,
    resume: str | Path | None = None,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> DiscriminatorFit:
    """Train a discriminator for the frozen generator of `model` on the images under `data` until
    `config.kimg` thousand real images (or cancel / Ctrl-C, which save first). Single process.

    `config.discriminator` gives the width (its resolution is the model's); the checkpoints in
    RUN_DIR/checkpoints are `model` with the new discriminator, in float32.
    """
    ctx = init_distributed(device)
    if ctx.world_size > 1:
        raise InvertFillError("train-discriminator runs in one process; start it without torchrun")
    checkpoint = load_checkpoint(model)
    generator = frozen_generator(checkpoint)
    config = replace(config, generator=generator.config, discriminator=replace(config.discriminator, resolution=generator.config.resolution))
    trainer = DiscriminatorTrainer(config, ctx, generator)
    if resume is not None:
        trainer.load_state_dict(load_resume_state(resume, ctx.device))
    dataset = ImageFolderDataset(data, config.resolution, seed=config.seed, zoom=config.zoom)
    loader = make_loader(dataset, config.batch, trainer.images, workers=config.workers, device=ctx.device)
    parts = {name: part for name, part in checkpoint.parts.items() if name != "discriminator"}
    with opened_run_folder(out) as run:
        run.save_config({"stage": "discriminator", "data": str(data), "pretrained": str(model), **config.to_dict()})

        def snapshot() -> Path:
            path = run.checkpoints / f"network-{trainer.images:09d}.safetensors"
            save_checkpoint(path, {**parts, "discriminator": trainer.discriminator}, checkpoint.stage, checkpoint.domain,
                            mean_latent=checkpoint.mean_latent, card=checkpoint.card)
            run.save_resume_state(trainer.state_dict())
            return path

        interrupted, path = run_loop(
            trainer, loader, ctx.device, int(config.kimg * 1000), int(config.tick_kimg * 1000), config.snapshot_ticks,
            run, snapshot, progress, cancel, lambda: augment_probability(trainer.augment),
        )
    return DiscriminatorFit(trainer.discriminator, trainer.images, interrupted, path)
