"""Import StyleGAN2 networks saved by rosinality's stylegan2-pytorch.

A file is a `torch.save` container (zip, or the older zip-less format) holding the generator's
state dict under `g_ema`, or being that state dict: the project's converted release files
(`g_ema`, `latent_avg`, and `d` when converted with the discriminator) and the training
checkpoints of its train.py (`g`, `d`, `g_ema`, optimizer states, `ada_aug_p` and the
`argparse.Namespace` of its arguments, the one class allowed besides torch's weights-only set).
The architecture (resolution, style size, mapping depth, channel table) comes from the tensor
shapes. rosinality's networks clamp no activation, so the imported ones get conv_clamp=None and
compute rosinality's function.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from torch import Tensor

from core.errors import InvertFillError
from core.nn.config import DiscriminatorConfig, GeneratorConfig
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from core.ops import setup_filter

from .foreign_gan import ImportedGan, build_config, fitted_channels, load_renamed
from .safe_unpickle import load_torch_file

BLUR_KERNEL = (1, 3, 3, 1)
PARAMETERS = ("weight", "bias")
GENERATOR_PREFIXES = ("style.", "input.", "conv1.", "to_rgb1.", "convs.", "to_rgbs.", "noises.")


def _count(state: dict[str, Tensor], prefix: str) -> int:
    """1 + the largest index N of the keys `PREFIX.N.…` (0 without any): a missing tensor of the last
    layer leaves the count alone, so it is reported as missing instead of shrinking the network."""
    indices = [int(match.group(1)) for key in state if (match := re.match(rf"{re.escape(prefix)}\.(\d+)\.", key))]
    return max(indices, default=-1) + 1


def _shape(state: dict[str, Tensor], key: str, file: str, what: str) -> tuple[int, ...]:
    if not isinstance(state.get(key), Tensor):
        raise InvertFillError(f"{file}: the {what} lacks {key!r}")
    return tuple(state[key].shape)


def infer_config(state: dict[str, Tensor], file: str) -> GeneratorConfig:
    """The GeneratorConfig (conv_clamp None) of a rosinality generator state dict."""
    mapping_layers = _count(state, "style") - 1
    style_dim = _shape(state, "style.1.weight", file, "generator")[1]
    num_blocks = (_count(state, "convs") + 1) // 2
    resolution = 4 * 2**num_blocks
    channels = {4: _shape(state, "conv1.conv.weight", file, "generator")[1]}
    channels.update({8 * 2**b: _shape(state, f"convs.{2 * b}.conv.weight", file, "generator")[1] for b in range(num_blocks)})
    channel_base, channel_max = fitted_channels(file, "generator", channels)
    return build_config(
        file, GeneratorConfig, resolution=resolution, style_dim=style_dim, mapping_layers=mapping_layers,
        channel_base=channel_base, channel_max=channel_max, blur_kernel=BLUR_KERNEL, conv_clamp=None,
    )


def _styled_conv(prefix: str, target: str, noise_index: int) -> dict[str, str]:
    return {
        f"{prefix}.conv.weight": f"{target}.conv.weight",
        f"{prefix}.conv.modulation.weight": f"{target}.conv.modulation.weight",
        f"{prefix}.conv.modulation.bias": f"{target}.conv.modulation.bias",
        f"{prefix}.noise.weight": f"{target}.noise_strength",
        f"{prefix}.activate.bias": f"{target}.bias",
        f"noises.noise_{noise_index}": f"{target}.noise_const",
    }


def _to_rgb(prefix: str, target: str) -> dict[str, str]:
    return {
        f"{prefix}.conv.weight": f"{target}.conv.weight",
        f"{prefix}.conv.modulation.weight": f"{target}.conv.modulation.weight",
        f"{prefix}.conv.modulation.bias": f"{target}.conv.modulation.bias",
        f"{prefix}.bias": f"{target}.bias",
    }


def key_map(config: GeneratorConfig) -> dict[str, str]:
    """rosinality key -> our key, for every loaded tensor of the generator."""
    names = {f"style.{i + 1}.{p}": f"mapping.layers.{i}.{p}" for i in range(config.mapping_layers) for p in PARAMETERS}
    names["input.input"] = "synthesis.const"
    names.update(_styled_conv("conv1", "synthesis.conv", 0))
    names.update(_to_rgb("to_rgb1", "synthesis.to_rgb"))
    for b in range(len(config.channels) - 1):
        names.update(_styled_conv(f"convs.{2 * b}", f"synthesis.blocks.{b}.conv0", 2 * b + 1))
        names.update(_styled_conv(f"convs.{2 * b + 1}", f"synthesis.blocks.{b}.conv1", 2 * b + 2))
        names.update(_to_rgb(f"to_rgbs.{b}", f"synthesis.blocks.{b}.to_rgb"))
    return names


def _generator_filters(config: GeneratorConfig) -> dict[str, Tensor]:
    """The upsampling FIR kernels rosinality stores (scaled by the upsampling gain 4)."""
    kernel = setup_filter(BLUR_KERNEL) * 4
    filters = {}
    for b in range(len(config.channels) - 1):
        filters[f"convs.{2 * b}.conv.blur.kernel"] = kernel
        filters[f"to_rgbs.{b}.upsample.kernel"] = kernel
    return filters


def discriminator_config(state: dict[str, Tensor], file: str) -> DiscriminatorConfig:
    """The DiscriminatorConfig of a rosinality discriminator state dict (`d`)."""
    num_blocks = _count(state, "convs") - 1
    resolution = 4 * 2**num_blocks
    channels = {resolution: _shape(state, "convs.0.0.weight", file, "discriminator")[0]}
    for i in range(1, num_blocks + 1):
        channels[resolution // 2**i] = _shape(state, f"convs.{i}.conv2.1.weight", file, "discriminator")[0]
    channel_base, channel_max = fitted_channels(file, "discriminator", channels)
    return build_config(
        file, DiscriminatorConfig,
        resolution=resolution, channel_base=channel_base, channel_max=channel_max, blur_kernel=BLUR_KERNEL,
    )


def discriminator_key_map(config: DiscriminatorConfig) -> tuple[dict[str, str], dict[str, Tensor]]:
    """(rosinality key -> our key, rosinality downsampling filter key -> our filter) of the discriminator."""
    names = {"convs.0.0.weight": "from_rgb.weight", "convs.0.1.bias": "from_rgb.bias"}
    filters = {}
    for i in range(1, len(config.channels)):
        ours = f"blocks.{i - 1}"
        names.update({
            f"convs.{i}.conv1.0.weight": f"{ours}.conv1.weight",
            f"convs.{i}.conv1.1.bias": f"{ours}.conv1.bias",
            f"convs.{i}.conv2.1.weight": f"{ours}.conv2.weight",
            f"convs.{i}.conv2.2.bias": f"{ours}.conv2.bias",
            f"convs.{i}.skip.1.weight": f"{ours}.skip.weight",
        })
        filters[f"convs.{i}.conv2.0.kernel"] = setup_filter(BLUR_KERNEL)
        filters[f"convs.{i}.skip.0.kernel"] = setup_filter(BLUR_KERNEL)
    names.update({"final_conv.0.weight": "final_conv.weight", "final_conv.1.bias": "final_conv.bias"})
    names.update({f"final_linear.{i}.{p}": f"final_linear.{i}.{p}" for i in (0, 1) for p in PARAMETERS})
    return names, filters


def _generator_state(data: Any, file: str) -> dict[str, Tensor]:
    """The generator's state dict: `g_ema`, or the file itself when it holds generator tensors;
    a generator that lacks some of them is refused later, naming what it lacks."""
    state = data.get("g_ema", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not any(isinstance(key, str) and key.startswith(GENERATOR_PREFIXES) for key in state):
        raise InvertFillError(f"{file} holds no StyleGAN2 generator in the rosinality layout (no 'g_ema' entry)")
    return state


def _discriminator(state: dict[str, Tensor], resolution: int, file: str) -> Discriminator:
    config = discriminator_config(state, file)
    if config.resolution != resolution:
        raise InvertFillError(f"{file}: its discriminator is for {config.resolution} px, its generator for {resolution} px")
    discriminator = Discriminator(config)
    load_renamed(discriminator, state, *discriminator_key_map(config), file, "discriminator")
    return discriminator


def _mean_latent(latent: Any, style_dim: int, file: str) -> Tensor | None:
    if latent is None:
        return None
    if not isinstance(latent, Tensor) or latent.numel() != style_dim:
        raise InvertFillError(f"{file}: 'latent_avg' is not a mean latent of {style_dim} values")
    return latent.float().reshape(style_dim)


def read_rosinality(path: Path) -> ImportedGan:
    """A rosinality `.pt` (converted release or training checkpoint) as our networks."""
    file = path.name
    data = load_torch_file(path, file, extra_classes=[argparse.Namespace])
    state = _generator_state(data, file)
    config = infer_config(state, file)
    generator = Generator(config)
    load_renamed(generator, state, key_map(config), _generator_filters(config), file, "generator")
    d_state = data.get("d")
    discriminator = _discriminator(d_state, config.resolution, file) if isinstance(d_state, dict) else None
    mean_latent = _mean_latent(data.get("latent_avg"), config.style_dim, file)
    held = ["g_ema"] + (["d"] if discriminator is not None else []) + (["latent_avg"] if mean_latent is not None else [])
    kind = "training checkpoint" if "args" in data else "file"
    description = f"rosinality stylegan2-pytorch {kind} ({', '.join(held)})"
    return ImportedGan(generator, discriminator, mean_latent, "rosinality", description)
