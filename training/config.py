"""Training run settings: frozen dataclasses, saved in every run folder as JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from core.errors import InvertFillError
from core.io.checkpoint_header import ModelCard
from core.nn.config import DiscriminatorConfig, GeneratorConfig, InvertFillConfig, Serializable


@dataclass(frozen=True)
class GanTrainConfig(Serializable):
    """Stage 1: StyleGAN2 with lazy regularization, style mixing, EMA and adaptive augmentation.

    batch is the global batch (all ranks). None for r1_gamma means 0.0002·R²/batch, for
    ema_kimg batch·10/32 (StyleGAN2-ADA's choices). ada_kimg: images (thousands) over which
    the augmentation probability can go from 0 to 1. zoom: random crops of scale up to this
    (training.data.square_crop); 1 = the whole shorter side. framing and data_terms: the model
    card of the checkpoints (core.io.checkpoint_header.ModelCard), which stage 2 and fine-tunes inherit.
    compile: run the G and D main steps through torch.compile on the CPU (training.compiled; R1
    and path length stay eager). Off by default: compiling takes minutes, which only long runs
    (the recipes) win back.
    """

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    batch: int = 16
    kimg: float = 1000
    lr: float = 0.0025
    r1_gamma: float | None = None
    r1_interval: int = 16
    pl_weight: float = 2.0
    pl_interval: int = 4
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2
    mixing_prob: float = 0.9
    ema_kimg: float | None = None
    ema_rampup: float | None = 0.05
    augment: str = "ada"
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: int = 500
    zoom: float = 1.0
    framing: str = "scene"
    data_terms: str = ""
    mixed_precision: bool = True
    compile: bool = False
    seed: int = 0
    workers: int = 2
    tick_kimg: float = 4.0
    snapshot_ticks: int = 10
    samples: int = 16

    def __post_init__(self) -> None:
        if self.generator.resolution != self.discriminator.resolution:
            raise InvertFillError("generator and discriminator resolutions differ")
        if self.augment not in ("ada", "none"):
            raise InvertFillError(f'augment must be "ada" or "none", got {self.augment!r}')
        ModelCard(self.framing, self.data_terms)
        if self.batch < 1 or self.kimg <= 0:
            raise InvertFillError("batch and kimg must be positive")

    @property
    def resolution(self) -> int:
        return self.generator.resolution

    @property
    def effective_r1_gamma(self) -> float:
        return self.r1_gamma if self.r1_gamma is not None else 0.0002 * self.resolution**2 / self.batch

    @property
    def effective_ema_kimg(self) -> float:
        return self.ema_kimg if self.ema_kimg is not None else self.batch * 10 / 32


BACKBONES = ("discriminator", "vgg16", "none")
"""The perceptual/style loss backbones (training.losses.make_backbone); "none" leaves those terms out."""
DEFAULT_MASK_MIX = {"all": 0.5, "hard": 0.15, "extreme": 0.15, "outpaint": 0.2}


@dataclass(frozen=True)
class LossWeights(Serializable):
    """Weights of Eq. 7. valid…tv are the partial-convolution weights that RFR and the paper use;
    msr and fid are our choice (the paper gives no values): msr = 1 keeps the encoder's images
    on a par with the inpainting loss, fid = 0.01 pulls w* gently towards w̄ (‖w* − w̄‖₂ is
    tens to hundreds for 14×512 codes)."""

    valid: float = 1.0
    hole: float = 6.0
    perceptual: float = 0.05
    style: float = 120.0
    tv: float = 0.1
    msr: float = 1.0
    fid: float = 0.01

    def __post_init__(self) -> None:
        for weight in fields(self):
            value = getattr(self, weight.name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise InvertFillError(f"loss weight {weight.name} must be a finite number ≥ 0, got {value!r}")


@dataclass(frozen=True)
class EncoderTrainConfig(Serializable):
    """Stage 2 (and the domain fine-tune): encoder, pre-modulation and RGB branch with a frozen generator.

    `model` is the InvertFill config whose generator part is replaced by the GAN checkpoint's.
    masks: mixture weights over the buckets of core.masks.generation ("hard", "extreme", "all"), "outpaint" and
    "folder" (masks read from `mask_folder`). backbone: "vgg16" (needs the torchvision VGG16
    file, see training/vgg16.py), "discriminator" (the stage-1 discriminator's features) or "none"
    (no perceptual or style terms, for a model without its discriminator).
    train_rgb_branch: whether the domain fine-tune also trains the RGB branch (stage 2 always does).
    zoom: as for GanTrainConfig. lr_rampdown: the share of the run (of `kimg`), at its end, over
    which the learning rate falls from `lr` to zero along a half cosine; 0 keeps it constant.
    compile: run the step's fill and loss through torch.compile on the CPU (training.compiled); off
    by default, as for GanTrainConfig.
    """

    model: InvertFillConfig = field(default_factory=InvertFillConfig)
    losses: LossWeights = field(default_factory=LossWeights)
    backbone: str = "vgg16"
    vgg_path: str | None = None
    masks: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MASK_MIX))
    mask_folder: str | None = None
    batch: int = 8
    kimg: float = 200
    lr: float = 1e-4
    lr_rampdown: float = 0.0
    train_rgb_branch: bool = False
    zoom: float = 1.0
    mixed_precision: bool = True
    compile: bool = False
    seed: int = 0
    workers: int = 2
    tick_kimg: float = 1.0
    snapshot_ticks: int = 10
    samples: int = 8

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise InvertFillError(f"backbone must be one of {', '.join(BACKBONES)}, got {self.backbone!r}")
        if self.batch < 1 or self.kimg <= 0:
            raise InvertFillError("batch and kimg must be positive")
        if not 0 <= self.lr_rampdown <= 1:
            raise InvertFillError(f"lr_rampdown is a share of the run from 0 to 1, got {self.lr_rampdown}")

    def learning_rate(self, images: int) -> float:
        """The learning rate after `images` images: `lr`, then a half cosine to zero over the last
        `lr_rampdown` share of `kimg`."""
        if self.lr_rampdown == 0:
            return self.lr
        start = 1 - self.lr_rampdown
        ramp = min(max((images / (self.kimg * 1000) - start) / self.lr_rampdown, 0.0), 1.0)
        return self.lr * 0.5 * (1 + math.cos(math.pi * ramp))

    def model_config(self, generator: GeneratorConfig) -> InvertFillConfig:
        """The InvertFill config around a given (pretrained) generator."""
        return replace(self.model, generator=generator)
