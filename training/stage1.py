"""Stage 1: StyleGAN2 pretraining on a folder of images (DESIGN §4).

Non-saturating logistic loss, lazy R1 (every `r1_interval` D steps) and path-length
regularization (every `pl_interval` G steps), style mixing, an EMA generator, adaptive
augmentation, channels-last tensors and bf16 autocast where bf16 is native (CUDA, CPUs with
AMX or AVX512-BF16). The lazy regularizers are added to the main G and D losses of their step
(weighted by their interval) instead of taking optimizer steps of their own, so Adam runs with
the configured lr and betas: StyleGAN2's interval/(interval+1) correction assumes the separate
steps and does not apply.
Randomness is drawn from a torch.Generator seeded at every step from (seed, rank, step), never
from the global RNG, and data positions follow the image count, so a resumed run continues
exactly where it stopped.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from core.engine.device import training_autocast
from core.engine.progress import ProgressCallback
from core.errors import InvertFillError
from core.io.checkpoint import load_checkpoint, save_checkpoint
from core.io.checkpoint_header import ModelCard
from core.io.gan_import import import_gan, is_foreign_gan_file
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from core.nn.random_init import seeded_initialization

from .augment import AdaptiveAugment, AugmentController, augment_probability
from .compiled import CompiledLoss
from .config import GanTrainConfig
from .data import ImageFolderDataset, make_loader
from .distributed import DistributedContext, init_distributed
from .gan_losses import PathLengthRegularizer, discriminator_loss, generator_loss, r1_penalty
from .loop import run_loop
from .run_folder import RunFolder, load_resume_state


@dataclass
class Stage1Result:
    """The trained networks and where the run stopped."""

    generator: Generator
    generator_ema: Generator
    discriminator: Discriminator
    images: int
    steps: int
    interrupted: bool
    checkpoint: Path | None


def step_seed(seed: int, rank: int, step: int) -> int:
    """The seed of one training step on one rank."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0] >> 1)


def gan_adam(parameters, lr: float) -> torch.optim.Adam:
    """StyleGAN2's Adam(β₁ = 0, β₂ = 0.99), one step per training step (see the module docstring)."""
    return torch.optim.Adam(parameters, lr=lr, betas=(0.0, 0.99), eps=1e-8, foreach=True)


def load_initial_gan(path: Path, resolution: int) -> tuple[Generator, Discriminator | None]:
    """A GAN trained elsewhere (a rosinality `.pt`, an NVlabs `.pkl`, one of our checkpoints):
    its generator and, when the file has one, its discriminator."""
    if is_foreign_gan_file(path):
        gan = import_gan(path)
        generator, discriminator = gan.generator, gan.discriminator
    else:
        checkpoint = load_checkpoint(path)
        generator, discriminator = checkpoint.part("generator"), checkpoint.parts.get("discriminator")
    if not isinstance(generator, Generator) or generator.config.resolution != resolution:
        raise InvertFillError(f"{path.name} holds no {resolution}-px StyleGAN2 generator")
    return generator, discriminator if isinstance(discriminator, Discriminator) else None


class Stage1Trainer:
    """The state of a stage-1 run and one training step."""

    def __init__(self, config: GanTrainConfig, ctx: DistributedContext, init: Path | None = None) -> None:
        if config.batch % ctx.world_size:
            raise InvertFillError(f"batch {config.batch} does not divide over {ctx.world_size} processes")
        initial_generator, initial_discriminator = load_initial_gan(init, config.resolution) if init is not None else (None, None)
        if initial_generator is not None:
            config = replace(config, generator=initial_generator.config)
        if initial_discriminator is not None:
            config = replace(config, discriminator=initial_discriminator.config)
        self.config, self.ctx, device = config, ctx, ctx.device
        with seeded_initialization(config.seed):
            self.generator = Generator(config.generator).to(device, memory_format=torch.channels_last)
            self.discriminator = Discriminator(config.discriminator).to(device, memory_format=torch.channels_last)
        if initial_generator is not None:
            self.generator.load_state_dict(initial_generator.state_dict())
        if initial_discriminator is not None:
            self.discriminator.load_state_dict(initial_discriminator.state_dict())
        ctx.broadcast(self.generator)
        ctx.broadcast(self.discriminator)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.augment = AdaptiveAugment(p=0.0).to(device) if config.augment == "ada" else None
        self.controller = AugmentController(config.ada_target, config.ada_interval, config.ada_kimg * 1000)
        self.path_length = PathLengthRegularizer(config.pl_decay).to(device)
        self.opt_g = gan_adam(self.generator.parameters(), config.lr)
        self.opt_d = gan_adam(self.discriminator.parameters(), config.lr)
        self.generator_main = CompiledLoss(self._generator_loss, self.generator.parameters(), self._autocast, device, config.compile)
        self.discriminator_main = CompiledLoss(
            self._discriminator_loss, self.discriminator.parameters(), self._autocast, device, config.compile
        )
        self.step, self.images = 0, 0

    def state_dict(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "step": self.step,
            "images": self.images,
            "generator": self.generator.state_dict(),
            "generator_ema": self.generator_ema.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "augment": self.augment.state_dict() if self.augment is not None else {},
            "controller": self.controller.state_dict(),
            "path_length": self.path_length.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        saved = GanTrainConfig.from_dict(state["config"])
        if (saved.generator, saved.discriminator) != (self.config.generator, self.config.discriminator):
            raise InvertFillError("the resume state is for another architecture than this run's config")
        self.step, self.images = int(state["step"]), int(state["images"])
        self.generator.load_state_dict(state["generator"])
        self.generator_ema.load_state_dict(state["generator_ema"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.augment is not None:
            self.augment.load_state_dict(state["augment"])
        self.controller.load_state_dict(state["controller"])
        self.path_length.load_state_dict(state["path_length"])

    def _autocast(self):
        return training_autocast(self.ctx.device, self.config.mixed_precision)

    def _discriminate(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.augment is not None:
            images = self._augmented(images, generator)
        return self.discriminator(images)

    @torch.compiler.disable
    def _augmented(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The augmentation, eager even inside a compiled step: its probability changes as it trains."""
        return self.augment(images, generator)

    def _generator_loss(self, n: int, g: torch.Generator) -> tuple[torch.Tensor]:
        """G's main loss on n fakes, drawn from g -> (loss,); the G step's compiled part, run in its autocast region."""
        z = torch.randn(n, self.config.generator.style_dim, generator=g, device=self.ctx.device)
        fake = self.generator(z, mixing_prob=self.config.mixing_prob, generator=g)
        return (generator_loss(self._discriminate(fake, g)),)

    def _discriminator_loss(self, real: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """D's main loss on real (N, 3, R, R) and as many fakes, drawn from g -> (loss, real logits (N, 1));
        the D step's compiled part where it has no R1, run in its autocast region."""
        with torch.no_grad():
            z = torch.randn(real.shape[0], self.config.generator.style_dim, generator=g, device=real.device)
            fake = self.generator(z, mixing_prob=self.config.mixing_prob, generator=g)
        fake_logits = self._discriminate(fake, g)
        real_logits = self._discriminate(real, g)
        return discriminator_loss(real_logits, fake_logits), real_logits

    def train_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One G step and one D step (with their lazy regularizers) on real (N, 3, R, R).

        Every random draw (z, style mixing, noise, augmentation, path-length noise) comes from one
        generator seeded from (seed, rank, step).
        """
        cfg, ctx = self.config, self.ctx
        n, style_dim = real.shape[0], cfg.generator.style_dim
        g = torch.Generator(real.device).manual_seed(step_seed(cfg.seed, ctx.rank, self.step))
        losses: dict[str, torch.Tensor] = {}

        self.generator.requires_grad_(True)
        self.discriminator.requires_grad_(False)
        (losses["G"],) = self.generator_main(n, g)
        if self.step % cfg.pl_interval == 0:
            shrunk = max(n // cfg.pl_batch_shrink, 1)
            z = torch.randn(shrunk, style_dim, generator=g, device=real.device)
            ws = self.generator.styles(z, mixing_prob=cfg.mixing_prob, generator=g)
            with self._autocast():
                penalty = self.path_length(self.generator.synthesis(ws, generator=g), ws, ctx.average, g)
            losses["path_length"] = penalty.mean()
            (losses["path_length"] * cfg.pl_weight * cfg.pl_interval).backward()
        ctx.average_gradients(self.generator.parameters())
        self.opt_g.step()
        self.opt_g.zero_grad(set_to_none=True)

        self.generator.requires_grad_(False)
        self.discriminator.requires_grad_(True)
        real = real.detach().contiguous(memory_format=torch.channels_last)
        if self.step % cfg.r1_interval == 0:
            real.requires_grad_(True)
            with self._autocast():
                losses["D"], real_logits = self._discriminator_loss(real, g)
            losses["r1"] = r1_penalty(real, real_logits.float()).mean()
            (losses["D"] + losses["r1"] * (cfg.effective_r1_gamma / 2) * cfg.r1_interval).backward()
        else:
            losses["D"], real_logits = self.discriminator_main(real, g)
        self.controller.accumulate(real_logits.detach())
        ctx.average_gradients(self.discriminator.parameters())
        self.opt_d.step()
        self.opt_d.zero_grad(set_to_none=True)

        batch = n * ctx.world_size
        self._update_ema(batch)
        self.step += 1
        self.images += batch
        if self.augment is not None:
            self.controller.update(self.augment, self.step, batch, ctx.sum)
        return {name: value.detach() for name, value in losses.items()}

    @torch.no_grad()
    def _update_ema(self, batch: int) -> None:
        ema_images = self.config.effective_ema_kimg * 1000
        if self.config.ema_rampup is not None:
            ema_images = min(ema_images, self.images * self.config.ema_rampup)
        beta = 0.5 ** (batch / max(ema_images, 1e-8))
        for p_ema, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            p_ema.lerp_(p, 1 - beta)
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            b_ema.copy_(b)


def train_stylegan2(
    config: GanTrainConfig,
    data: str | Path,
    out: str | Path,
    resume: str | Path | None = None,
    init: str | Path | None = None,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Stage1Result:
    """Train until `config.kimg` thousand images (or cancel / Ctrl-C, which save first).

    Writes RUN_DIR (`out`) as `training.run_folder` describes; the network checkpoints hold the
    EMA generator and the discriminator as parts "generator" and "discriminator".
    """
    ctx = init_distributed(device)
    trainer = Stage1Trainer(config, ctx, Path(init) if init is not None else None)
    config = trainer.config
    if resume is not None:
        trainer.load_state_dict(load_resume_state(resume, ctx.device))
    dataset = ImageFolderDataset(data, config.resolution, seed=config.seed, zoom=config.zoom)
    run = RunFolder(out, ctx.is_main)
    run.save_config({"stage": "stylegan2", "data": str(data), **config.to_dict()})
    card = ModelCard(config.framing, config.data_terms)
    per_rank = config.batch // ctx.world_size
    loader = make_loader(dataset, per_rank, trainer.images, ctx.rank, ctx.world_size, config.workers, ctx.device)
    fixed_z = torch.randn(config.samples, config.generator.style_dim, generator=torch.Generator().manual_seed(config.seed)).to(ctx.device)
    total = int(config.kimg * 1000)

    def snapshot() -> Path | None:
        path = run.checkpoints / f"network-{trainer.images:09d}.safetensors"
        if ctx.is_main:
            save_checkpoint(path, {"generator": trainer.generator_ema, "discriminator": trainer.discriminator}, stage="stylegan2",
                            domain=Path(data).name, card=card)
            run.save_resume_state(trainer.state_dict())
            with torch.no_grad():
                run.save_grid(f"fakes-{trainer.images:09d}", trainer.generator_ema(fixed_z, noise_mode="const"), trainer.images)
        return path

    if ctx.is_main and trainer.images == 0:
        run.save_grid("reals", next(make_loader(dataset, min(config.samples, len(dataset)))), 0)

    interrupted, checkpoint = run_loop(
        trainer, loader, ctx.device, total, int(config.tick_kimg * 1000), config.snapshot_ticks, run, snapshot, progress, cancel,
        lambda: augment_probability(trainer.augment),
    )
    run.close()
    return Stage1Result(trainer.generator, trainer.generator_ema, trainer.discriminator, trainer.images, trainer.step, interrupted, checkpoint)
