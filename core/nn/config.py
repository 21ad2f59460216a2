"""Model configuration as frozen dataclasses; each travels inside every checkpoint as JSON."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.errors import InvertFillError

T = TypeVar("T")


def _check_resolution(resolution: int) -> None:
    if resolution < 32 or resolution > 1024 or resolution & (resolution - 1):
        raise InvertFillError(f"resolution must be a power of two from 32 to 1024, got {resolution}")


def channel_table(channel_base: int, channel_max: int, resolution: int, lowest: int = 4) -> dict[int, int]:
    """{res: min(channel_base // res, channel_max)} for res = lowest, 2·lowest, ..., resolution."""
    if channel_base < resolution:
        raise InvertFillError(f"channel_base {channel_base} leaves no channels at {resolution}×{resolution}")
    first = int(math.log2(lowest))
    return {2**i: min(channel_base // 2**i, channel_max) for i in range(first, int(math.log2(resolution)) + 1)}


def channel_settings(channels: dict[int, int]) -> tuple[int, int] | None:
    """The (channel_base, channel_max) whose channel_table is `channels` ({4: c, 8: c, ...}), or None.

    channel_max is the widest entry; channel_base is the smallest value giving every narrower
    entry (res · channels) or, where every entry is the widest, the widest times the resolution.
    """
    widest, resolution = max(channels.values()), max(channels)
    candidates = sorted({res * ch for res, ch in channels.items() if ch < widest} | {widest * resolution})
    for base in candidates:
        if base >= resolution and channel_table(base, widest, resolution, min(channels)) == channels:
            return base, widest
    return None


class Serializable:
    """to_dict / from_dict for (nested) frozen dataclasses, rejecting unknown keys."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        if not isinstance(data, dict):
            raise InvertFillError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise InvertFillError(f"{cls.__name__}: unknown setting(s) {', '.join(unknown)}")
        kwargs = {}
        for name, value in data.items():
            nested = fields[name].default_factory
            if isinstance(nested, type) and issubclass(nested, Serializable):
                value = nested.from_dict(value)
            elif isinstance(fields[name].default, tuple):
                value = tuple(value)
            kwargs[name] = value
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as error:
            raise InvertFillError(f"{cls.__name__}: {error}") from None


@dataclass(frozen=True)
class GeneratorConfig(Serializable):
    """StyleGAN2 generator: mapping network + synthesis network (DESIGN §3.1)."""

    resolution: int = 256
    style_dim: int = 512
    mapping_layers: int = 8
    mapping_lr_mul: float = 0.01
    channel_base: int = 16384
    channel_max: int = 512
    blur_kernel: tuple[int, ...] = (1, 3, 3, 1)
    conv_clamp: float | None = 256.0

    def __post_init__(self) -> None:
        _check_resolution(self.resolution)
        if self.style_dim < 1 or self.mapping_layers < 1 or self.channel_base < 4 or self.channel_max < 1:
            raise InvertFillError(f"GeneratorConfig: sizes must be positive: {self}")

    @property
    def num_styles(self) -> int:
        """L = 2·log2(resolution) − 2 per-layer styles (w+)."""
        return 2 * int(math.log2(self.resolution)) - 2

    @property
    def channels(self) -> dict[int, int]:
        """Feature channels per synthesis resolution."""
        return channel_table(self.channel_base, self.channel_max, self.resolution)


@dataclass(frozen=True)
class DiscriminatorConfig(Serializable):
    """StyleGAN2 residual discriminator with minibatch standard deviation.

    conv_clamp: activations of the convolutions with a bias (not the residual skips) are clamped
    to ±conv_clamp, as NVlabs' discriminators do (256); None (ours, rosinality's) clamps nothing.
    """

    resolution: int = 256
    channel_base: int = 16384
    channel_max: int = 512
    mbstd_group: int = 4
    blur_kernel: tuple[int, ...] = (1, 3, 3, 1)
    conv_clamp: float | None = None

    def __post_init__(self) -> None:
        _check_resolution(self.resolution)

    @property
    def channels(self) -> dict[int, int]:
        return channel_table(self.channel_base, self.channel_max, self.resolution)


@dataclass(frozen=True)
class EncoderConfig(Serializable):
    """Feature-pyramid encoder with map2style / RGB heads / map2structure (DESIGN §3.2).

    Backbone widths are min(channel_base // res, channel_max); `fpn_channels` is the width
    of the pyramid levels and of the map2style convs; `structure_channels` the width of the
    map2structure convs; `blocks_per_stage` residual blocks run at each backbone scale.
    """

    channel_base: int = 8192
    channel_max: int = 256
    fpn_channels: int = 256
    structure_channels: int = 64
    blocks_per_stage: int = 1


@dataclass(frozen=True)
class RGBBranchConfig(Serializable):
    """The F&W+ RGB branch: widths min(channel_base // res, channel_max) (DESIGN §3.3)."""

    channel_base: int = 4096
    channel_max: int = 256


@dataclass(frozen=True)
class SoftMeanLatentConfig(Serializable):
    """Soft-update mean latent (DESIGN §3.4).

    tau: soft-update rate per training step (0 = static mean latent, the `sml = off` ablation).
    samples: z samples averaged into one sampled mean latent.
    tolerance: the target is resampled once ‖w̄_o − w̄_t‖ ≤ tolerance · ‖w̄_t‖.
    static_samples: z samples for the static mean latent used when SML is off (as pSp).
    """

    tau: float = 0.01
    samples: int = 256
    tolerance: float = 0.01
    static_samples: int = 10000


@dataclass(frozen=True)
class InvertFillConfig(Serializable):
    """The whole InvertFill model; the ablations of the paper's Table 5 are settings here.

    latent_space: "fw+" (generator fed by the RGB branch) or "w+" (pSp-like, no branch).
    premod: pre-modulation of w′ by the structure vectors (off: w* = w′ + w̄).
    sml: soft-update mean latent (off: a static mean latent, i.e. tau = 0).
    """

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    rgb_branch: RGBBranchConfig = field(default_factory=RGBBranchConfig)
    soft_mean_latent: SoftMeanLatentConfig = field(default_factory=SoftMeanLatentConfig)
    latent_space: str = "fw+"
    premod: bool = True
    sml: bool = True

    def __post_init__(self) -> None:
        if self.latent_space not in ("fw+", "w+"):
            raise InvertFillError(f'latent_space must be "fw+" or "w+", got {self.latent_space!r}')

    @property
    def resolution(self) -> int:
        return self.generator.resolution
