"""Training run settings: frozen dataclasses, saved in every run folder as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.config import DiscriminatorConfig, GeneratorConfig, Serializable
from core.errors import InvertFillError


@dataclass(frozen=True)
class GanTrainConfig(Serializable):
    """Stage 1: StyleGAN2 with lazy regularization, style mixing, EMA and adaptive augmentation.

    batch is the global batch (all ranks). None for r1_gamma means 0.0002·R²/batch, for
    ema_kimg batch·10/32 (StyleGAN2-ADA's choices). ada_kimg: images (thousands) over which
    the augmentation probability can go from 0 to 1.
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
    mixed_precision: bool = True
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
