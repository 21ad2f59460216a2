"""Import StyleGAN2 networks from NVlabs' network pickles (stylegan2-ada-pytorch, stylegan3).

Such a pickle is a dict whose `G_ema` and `D` are NVlabs persistent objects; they are read as
records (`core.io.safe_unpickle`), never run, and their tensors renamed into our networks:

    mapping.fc{i}                       -> mapping.layers.{i}
    synthesis.b4.const, .conv1, .torgb  -> synthesis.const, .conv, .to_rgb
    synthesis.b{res}.conv0/conv1/torgb  -> synthesis.blocks.{i}.conv0/conv1/to_rgb
    (affine -> conv.modulation, weight -> conv.weight)
    D: b{R}.fromrgb, b{res}.conv0/conv1/skip, b4.conv/fc/out
                                        -> from_rgb, blocks.{i}.conv1/conv2/skip, final_conv, final_linear.0/1

The two computations agree: NVlabs' modulated conv leaves the 1/√fan_in weight gain to
demodulation and its ToRGB puts it into the styles, which equals ours; its per-layer style
order (b4: conv1, torgb; b{res}: conv0, conv1, torgb, sharing ws with the next block) is ours.
`conv_clamp` is what the pickled layers say: NVlabs applies it to every synthesis layer and
ToRGB, whatever their dtype (num_fp16_res only chooses fp16), which is exactly our single
`GeneratorConfig.conv_clamp`; in the discriminator to every biased conv, not the skips, as our
`DiscriminatorConfig.conv_clamp`. The mean latent is `mapping.w_avg`.
StyleGAN3 (alias-free) generators, class-conditional networks, other synthesis architectures than
StyleGAN2's default 'skip' and TensorFlow-era pickles are refused with a message that says what
they are. A discriminator that does not import (e.g. the cifar config's 'orig' architecture) is
left out, with the reason, and the generator imports alone.
"""

from __future__ import annotations

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
from .safe_unpickle import PersistentObject, load_network_pickle

BLUR_KERNEL = (1, 3, 3, 1)
FILTER = setup_filter(BLUR_KERNEL)
PARAMETERS = ("weight", "bias")
STYLEGAN3_MARKS = (".up_filter", ".down_filter", "synthesis.input.freqs")


def _single(file: str, what: str, values: set[Any]) -> Any:
    """The one value a setting has over all layers of a network."""
    if len(values) != 1:
        shown = sorted(map(str, values))
        raise InvertFillError(f"{file}: its layers differ in {what} ({shown}), which one setting cannot express")
    return next(iter(values))


def _resolutions(tensors: dict[str, Tensor], prefix: str) -> list[int]:
    """Block resolutions under `prefix` (e.g. "synthesis.b"), ascending."""
    return sorted({int(m.group(1)) for key in tensors if (m := re.match(re.escape(prefix) + r"(\d+)\.", key))})


def _settings(records: dict[str, PersistentObject], pattern: str, attribute: str, default: Any = None) -> set[Any]:
    """The values of `attribute` over the records whose names match `pattern`."""
    return {record.attribute(attribute, default) for name, record in records.items() if re.fullmatch(pattern, name)}


def _widths(tensors: dict[str, Tensor], weights: dict[int, str]) -> dict[int, int]:
    """{resolution: output channels of the weight named for it}, over the weights present."""
    return {res: tensors[key].shape[0] for res, key in weights.items() if key in tensors}


def _check_network(file: str, network: PersistentObject, what: str) -> None:
    c_dim = network.attribute("c_dim", 0)
    if c_dim:
        raise InvertFillError(f"{file}: its {what} is class-conditional (c_dim {c_dim}); unconditional networks import")
    if network.attribute("img_channels", 3) != 3:
        raise InvertFillError(f"{file}: its {what} has {network.attribute('img_channels')} image channels, not RGB")


def _architecture(file: str, network: PersistentObject, block_class: str, expected: str, what: str) -> None:
    blocks = [record for _, record in network.named_objects() if record.class_name == block_class]
    found = {record.attribute("architecture", expected) for record in blocks}
    if found - {expected}:
        raise InvertFillError(
            f"{file}: its {what} uses the {sorted(found)} architecture; only StyleGAN2's default {expected!r} imports"
        )


def _generator_config(file: str, g: PersistentObject, tensors: dict[str, Tensor]) -> GeneratorConfig:
    resolutions = _resolutions(tensors, "synthesis.b")
    mapping_layers = len([k for k in tensors if re.fullmatch(r"mapping\.fc\d+\.weight", k)])
    if not resolutions or resolutions[0] != 4 or "mapping.fc0.weight" not in tensors:
        raise InvertFillError(f"{file}: its G_ema is not a StyleGAN2 generator (no synthesis.b4 or mapping.fc0)")
    channels = _widths(tensors, {res: f"synthesis.b{res}.conv1.weight" for res in resolutions})
    channel_base, channel_max = fitted_channels(file, "generator", channels)
    records = dict(g.named_objects())
    clamp = _single(file, "activation clamp", _settings(records, r"synthesis\.b\d+\.(conv0|conv1|torgb)", "conv_clamp"))
    lr_mul = _single(file, "mapping learning-rate multiplier", _settings(records, r"mapping\.fc\d+", "bias_gain", 0.01))
    return build_config(
        file, GeneratorConfig,
        resolution=resolutions[-1],
        style_dim=tensors["mapping.fc0.weight"].shape[1],
        mapping_layers=mapping_layers,
        mapping_lr_mul=float(lr_mul),
        channel_base=channel_base,
        channel_max=channel_max,
        blur_kernel=BLUR_KERNEL,
        conv_clamp=None if clamp is None else float(clamp),
    )


def _layer(theirs: str, ours: str, modulated: bool) -> dict[str, str]:
    """A SynthesisLayer / ToRGBLayer of NVlabs -> our StyledConv / ToRGB."""
    names = {
        f"{theirs}.weight": f"{ours}.conv.weight",
        f"{theirs}.affine.weight": f"{ours}.conv.modulation.weight",
        f"{theirs}.affine.bias": f"{ours}.conv.modulation.bias",
        f"{theirs}.bias": f"{ours}.bias",
    }
    if modulated:
        names.update({f"{theirs}.{key}": f"{ours}.{key}" for key in ("noise_strength", "noise_const")})
    return names


def generator_key_map(config: GeneratorConfig) -> tuple[dict[str, str], dict[str, Tensor]]:
    """(NVlabs key -> our key, NVlabs filter key -> our filter) of the generator; `mapping.w_avg` aside."""
    names = {f"mapping.fc{i}.{p}": f"mapping.layers.{i}.{p}" for i in range(config.mapping_layers) for p in PARAMETERS}
    names["synthesis.b4.const"] = "synthesis.const"
    names.update(_layer("synthesis.b4.conv1", "synthesis.conv", modulated=True))
    names.update(_layer("synthesis.b4.torgb", "synthesis.to_rgb", modulated=False))
    filters = {"synthesis.b4.resample_filter": FILTER, "synthesis.b4.conv1.resample_filter": FILTER}
    for i, res in enumerate(list(config.channels)[1:]):
        block, ours = f"synthesis.b{res}", f"synthesis.blocks.{i}"
        names.update(_layer(f"{block}.conv0", f"{ours}.conv0", modulated=True))
        names.update(_layer(f"{block}.conv1", f"{ours}.conv1", modulated=True))
        names.update(_layer(f"{block}.torgb", f"{ours}.to_rgb", modulated=False))
        filters.update({f"{block}{layer}.resample_filter": FILTER for layer in ("", ".conv0", ".conv1")})
    return names, filters


def _discriminator_config(file: str, d: PersistentObject, tensors: dict[str, Tensor]) -> DiscriminatorConfig:
    resolutions = _resolutions(tensors, "b")
    if not resolutions or resolutions[0] != 4 or f"b{resolutions[-1]}.fromrgb.weight" not in tensors:
        raise InvertFillError(f"{file}: its D is not a StyleGAN2 discriminator (no fromrgb or b4)")
    resolution = resolutions[-1]
    channels = _widths(tensors, {resolution: f"b{resolution}.fromrgb.weight"})
    channels.update(_widths(tensors, {res // 2: f"b{res}.conv1.weight" for res in resolutions[1:]}))
    channel_base, channel_max = fitted_channels(file, "discriminator", channels)
    records = dict(d.named_objects())
    mbstd = records.get("b4.mbstd")
    if mbstd is None or mbstd.attribute("num_channels", 1) != 1 or not isinstance(mbstd.attribute("group_size"), int):
        raise InvertFillError(f"{file}: its D's minibatch-stddev layer is not StyleGAN2's (one feature, fixed groups)")
    clamp = _single(file, "activation clamp", _settings(records, r"b\d+\.(fromrgb|conv0|conv1|conv)", "conv_clamp"))
    return build_config(
        file, DiscriminatorConfig,
        resolution=resolution,
        channel_base=channel_base,
        channel_max=channel_max,
        mbstd_group=mbstd.attribute("group_size"),
        blur_kernel=BLUR_KERNEL,
        conv_clamp=None if clamp is None else float(clamp),
    )


def discriminator_key_map(config: DiscriminatorConfig) -> tuple[dict[str, str], dict[str, Tensor]]:
    """(NVlabs key -> our key, NVlabs filter key -> our filter) of the residual discriminator."""
    top = config.resolution
    names = {f"b{top}.fromrgb.weight": "from_rgb.weight", f"b{top}.fromrgb.bias": "from_rgb.bias"}
    filters = {f"b{top}.fromrgb.resample_filter": FILTER}
    for i, res in enumerate(sorted(config.channels, reverse=True)[:-1]):
        block, ours = f"b{res}", f"blocks.{i}"
        names.update({
            f"{block}.conv0.weight": f"{ours}.conv1.weight",
            f"{block}.conv0.bias": f"{ours}.conv1.bias",
            f"{block}.conv1.weight": f"{ours}.conv2.weight",
            f"{block}.conv1.bias": f"{ours}.conv2.bias",
            f"{block}.skip.weight": f"{ours}.skip.weight",
        })
        filters.update({f"{block}{layer}.resample_filter": FILTER for layer in ("", ".conv0", ".conv1", ".skip")})
    names.update({"b4.conv.weight": "final_conv.weight", "b4.conv.bias": "final_conv.bias"})
    for i, theirs in enumerate(("fc", "out")):
        names.update({f"b4.{theirs}.{p}": f"final_linear.{i}.{p}" for p in PARAMETERS})
    filters["b4.conv.resample_filter"] = FILTER
    return names, filters


def _read_generator(file: str, g: PersistentObject) -> tuple[Generator, Tensor | None]:
    _check_network(file, g, "G_ema")
    tensors = g.tensors()
    if any(mark in key for key in tensors for mark in STYLEGAN3_MARKS):
        raise InvertFillError(
            f"{file} holds a StyleGAN3 (alias-free) generator, which is another network than StyleGAN2; "
            "StyleGAN2 pickles (stylegan2-ada-pytorch, or stylegan3's --cfg=stylegan2) import"
        )
    _architecture(file, g, "SynthesisBlock", "skip", "G_ema")
    config = _generator_config(file, g, tensors)
    generator = Generator(config)
    mean_latent = tensors.pop("mapping.w_avg", None)
    load_renamed(generator, tensors, *generator_key_map(config), file, "generator")
    if mean_latent is not None and mean_latent.numel() != config.style_dim:
        raise InvertFillError(f"{file}: 'mapping.w_avg' is not a mean latent of {config.style_dim} values")
    return generator, None if mean_latent is None else mean_latent.float().reshape(config.style_dim)


def _read_discriminator(file: str, d: PersistentObject, resolution: int) -> Discriminator:
    _check_network(file, d, "D")
    _architecture(file, d, "DiscriminatorBlock", "resnet", "D")
    tensors = d.tensors()
    config = _discriminator_config(file, d, tensors)
    if config.resolution != resolution:
        raise InvertFillError(f"{file}: its D is for {config.resolution} px, its G_ema for {resolution} px")
    discriminator = Discriminator(config)
    load_renamed(discriminator, tensors, *discriminator_key_map(config), file, "discriminator")
    return discriminator


def read_nvlabs(path: Path) -> ImportedGan:
    """An NVlabs network pickle (`G_ema`, optionally `D`) as our networks."""
    file = path.name
    data = load_network_pickle(path)
    g = data.get("G_ema") if isinstance(data, dict) else None
    if not isinstance(g, PersistentObject):
        raise InvertFillError(f"{file} holds no NVlabs network (a dict with 'G_ema')")
    generator, mean_latent = _read_generator(file, g)
    d = data.get("D")
    discriminator, left_out = None, ""
    if isinstance(d, PersistentObject):
        try:
            discriminator = _read_discriminator(file, d, generator.config.resolution)
        except InvertFillError as error:
            left_out = str(error).removeprefix(f"{file}: ")
    held = ["G_ema"] + (["D"] if discriminator is not None else []) + (["w_avg"] if mean_latent is not None else [])
    description = f"NVlabs StyleGAN2 network pickle ({', '.join(held)})"
    return ImportedGan(generator, discriminator, mean_latent, "nvlabs", description, left_out)
