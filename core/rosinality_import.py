"""Import a StyleGAN2 generator from the widely shared rosinality layout.

Such a file is a `torch.save` dict whose `g_ema` entry is the generator's state dict. It is
read with `weights_only=True`, so no code in it can run. The architecture (resolution, style
size, mapping depth, channel table) is inferred from the tensor shapes.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import torch
from torch import Tensor

from .config import GeneratorConfig
from .errors import InvertFillError
from .generator import Generator
from .ops import setup_filter

ROSINALITY_CHANNEL_MAX = 512


def _read_state(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise InvertFillError(f"{path} does not exist or is not a file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first_line = str(error).strip().splitlines()[0]
        raise InvertFillError(f"{path.name} was refused: it holds more than plain weights ({first_line})") from None
    except Exception as error:
        raise InvertFillError(f"{path.name} is not a readable PyTorch weights file: {error}") from None
    state = data.get("g_ema", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or "style.1.weight" not in state or "input.input" not in state:
        raise InvertFillError(f"{path.name} holds no StyleGAN2 generator in the rosinality layout (no 'g_ema' entry)")
    return state


def infer_config(state: dict[str, Tensor]) -> GeneratorConfig:
    """The GeneratorConfig whose architecture matches a rosinality generator state dict."""
    mapping_layers = len([k for k in state if re.fullmatch(r"style\.\d+\.weight", k)])
    style_dim = state["style.1.weight"].shape[1]
    num_blocks = len([k for k in state if re.fullmatch(r"convs\.\d+\.conv\.weight", k)]) // 2
    resolution = 4 * 2**num_blocks
    channels = {4: state["conv1.conv.weight"].shape[1]}
    channels.update({8 * 2**b: state[f"convs.{2 * b}.conv.weight"].shape[1] for b in range(num_blocks)})
    below_max = [res * ch for res, ch in channels.items() if ch < ROSINALITY_CHANNEL_MAX]
    channel_base = below_max[0] if below_max else 16384
    config = GeneratorConfig(
        resolution=resolution,
        style_dim=style_dim,
        mapping_layers=mapping_layers,
        channel_base=channel_base,
        channel_max=ROSINALITY_CHANNEL_MAX,
    )
    if config.channels != channels:
        raise InvertFillError(f"unsupported channel table {channels}: expected min(base // res, 512) per resolution")
    return config


def _check_filters(path: Path, state: dict[str, Tensor], config: GeneratorConfig) -> None:
    """The file's fixed FIR filters (upsampling convs and RGB skips) must be the ones we build."""
    expected = setup_filter(config.blur_kernel) * 4
    for key, tensor in state.items():
        if re.fullmatch(r"(convs\.\d+\.conv\.blur|to_rgbs\.\d+\.upsample)\.kernel", key):
            if tensor.shape != expected.shape or not torch.allclose(tensor.float(), expected):
                raise InvertFillError(f"{path.name}: {key!r} is not the [1, 3, 3, 1] filter; other blur kernels are not supported")


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
    """rosinality key -> our key, for every tensor of the generator."""
    names = {f"style.{i + 1}.{p}": f"mapping.layers.{i}.{p}" for i in range(config.mapping_layers) for p in ("weight", "bias")}
    names["input.input"] = "synthesis.const"
    names.update(_styled_conv("conv1", "synthesis.conv", 0))
    names.update(_to_rgb("to_rgb1", "synthesis.to_rgb"))
    for b in range(len(config.channels) - 1):
        names.update(_styled_conv(f"convs.{2 * b}", f"synthesis.blocks.{b}.conv0", 2 * b + 1))
        names.update(_styled_conv(f"convs.{2 * b + 1}", f"synthesis.blocks.{b}.conv1", 2 * b + 2))
        names.update(_to_rgb(f"to_rgbs.{b}", f"synthesis.blocks.{b}.to_rgb"))
    return names


def import_rosinality_generator(path: str | os.PathLike[str]) -> Generator:
    """Read a rosinality-layout `.pt` (its `g_ema`) into a new Generator; errors are one line."""
    path = Path(path)
    state = _read_state(path)
    config = infer_config(state)
    _check_filters(path, state, config)
    generator = Generator(config)
    names = key_map(config)
    missing = sorted(set(names) - set(state))
    if missing:
        raise InvertFillError(f"{path.name}: the generator lacks {len(missing)} tensors, e.g. {missing[0]!r}")
    ours = generator.state_dict()
    converted = {}
    for theirs, mine in names.items():
        tensor = state[theirs].float()
        if tensor.numel() != ours[mine].numel():
            raise InvertFillError(f"{path.name}: {theirs!r} has shape {tuple(tensor.shape)}, expected {tuple(ours[mine].shape)}")
        converted[mine] = tensor.reshape(ours[mine].shape)
    generator.load_state_dict(converted)
    return generator
