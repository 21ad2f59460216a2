"""What importing a StyleGAN2 trained elsewhere gives, and the strict renaming of its tensors.

`ImportedGan` holds our Generator (and our Discriminator when the file has one that imports)
carrying the source's weights, the source's mean latent when it has one, and where it came from.
`load_renamed` fills one of our networks from a foreign state dict through a key map: every
tensor of our network must come from the file and every tensor of the file must be used (the
fixed FIR filters are compared with ours rather than loaded), so a file of another architecture
is refused with the names of the tensors that differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from core.errors import InvertFillError
from core.nn.config import GeneratorConfig, channel_settings
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator

C = TypeVar("C")


@dataclass
class ImportedGan:
    """generator: ours with the source's weights; discriminator: likewise, or None when the file
    has none or one that was left out, `left_out` saying why; mean_latent: (style_dim,) or None;
    source_format: "rosinality" | "nvlabs"."""

    generator: Generator
    discriminator: Discriminator | None
    mean_latent: Tensor | None
    source_format: str
    description: str
    left_out: str = ""

    def parts(self) -> dict[str, nn.Module]:
        """The checkpoint parts of a stage-1 run: "generator" and, when present, "discriminator"."""
        parts: dict[str, nn.Module] = {"generator": self.generator}
        if self.discriminator is not None:
            parts["discriminator"] = self.discriminator
        return parts

    def summary(self) -> str:
        """Resolution, style size, mapping depth, channel table, clamp and source, one per line."""
        g: GeneratorConfig = self.generator.config
        table = " ".join(f"{res}:{ch}" for res, ch in g.channels.items())
        return "\n".join([
            f"source: {self.description} [{self.source_format}]",
            f"resolution: {g.resolution}",
            f"style size: {g.style_dim}",
            f"mapping depth: {g.mapping_layers} (lr multiplier {g.mapping_lr_mul:g})",
            f"channels: {table}",
            f"activation clamp: {'none' if g.conv_clamp is None else f'±{g.conv_clamp:g}'}",
            f"discriminator: {self._discriminator_line()}",
            f"mean latent: {'yes' if self.mean_latent is not None else 'no'}",
        ])

    def _discriminator_line(self) -> str:
        if self.left_out:
            return f"left out ({self.left_out}); stage 2 needs only the generator"
        return "yes" if self.discriminator is not None else "no"


def listed(keys: Iterable[str], limit: int = 4) -> str:
    """'a', 'b', 'c', 'd' and 3 more."""
    keys = sorted(keys)
    shown = ", ".join(repr(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def build_config(file: str, config_class: type[C], **settings: Any) -> C:
    """`config_class(**settings)`, with the file named in a refusal."""
    try:
        return config_class(**settings)
    except InvertFillError as error:
        raise InvertFillError(f"{file}: {error}") from None


def fitted_channels(file: str, what: str, channels: dict[int, int]) -> tuple[int, int]:
    """(channel_base, channel_max) for the channel table found in a file, or a refusal naming it."""
    settings = channel_settings(channels)
    if settings is None:
        table = " ".join(f"{res}:{ch}" for res, ch in sorted(channels.items()))
        raise InvertFillError(f"{file}: the {what}'s channels ({table}) are not min(base // res, max) at every resolution")
    return settings


def load_renamed(
    network: nn.Module,
    tensors: dict[str, Tensor],
    names: dict[str, str],
    filters: dict[str, Tensor],
    file: str,
    what: str,
) -> None:
    """Load `tensors` (their key -> tensor) into `network` through `names` (their key -> our key);
    `filters` (their key -> our filter) must match. Refuses missing, left-over or misshapen tensors;
    shapes may differ only in size-1 dimensions."""
    missing = (set(names) | set(filters)) - set(tensors)
    if missing:
        raise InvertFillError(
            f"{file}: the {what} lacks {len(missing)} tensor(s) this architecture needs: {listed(missing)}"
        )
    left_over = set(tensors) - set(names) - set(filters)
    if left_over:
        raise InvertFillError(
            f"{file}: the {what} has {len(left_over)} tensor(s) a StyleGAN2 {what} does not: {listed(left_over)}"
        )
    for key, expected in filters.items():
        found = tensors[key].float()
        if found.shape != expected.shape or not torch.allclose(found, expected):
            raise InvertFillError(
                f"{file}: {key!r} is not the [1, 3, 3, 1] filter; other resampling filters are not supported"
            )
    ours = network.state_dict()
    converted = {}
    for theirs, mine in names.items():
        tensor = tensors[theirs]
        expected = tuple(ours[mine].shape)
        if not tensor.is_floating_point() or _squeezed(tensor.shape) != _squeezed(expected):
            raise InvertFillError(f"{file}: {theirs!r} is {tuple(tensor.shape)} {tensor.dtype}, expected {expected} floats")
        converted[mine] = tensor.float().reshape(ours[mine].shape)
    network.load_state_dict(converted)


def _squeezed(shape: torch.Size) -> tuple[int, ...]:
    """A shape without its size-1 dimensions: layouts differ only in those (e.g. (1, O, I, 3, 3) and (O, I, 3, 3))."""
    return tuple(d for d in shape if d != 1)
