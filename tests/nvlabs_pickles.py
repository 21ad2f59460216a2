"""NVlabs-style network pickles built from our own tiny networks, for the importer's tests: a dict
of G / D / G_ema objects that pickle as NVlabs' persistent objects do ((_reconstruct_persistent_obj,
(meta,)) with the module source, class name and __dict__ state), parameters as torch Parameters,
numpy scalars and EasyDict kwargs as NVlabs' code leaves them.
"""

from __future__ import annotations

import collections
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import torch
from test_rosinality_import import randomized_discriminator, randomized_generator

from core.nn.config import DiscriminatorConfig, GeneratorConfig
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from core.nn.layers import ConvLayer, EqualLinear, StyledConv, ToRGB
from core.ops import setup_filter

FILTER = setup_filter([1, 3, 3, 1])
TINY = dict(style_dim=16, mapping_layers=2, channel_base=512, channel_max=16)


def _reconstruct_persistent_obj(meta):  # pickled by reference as torch_utils.persistence's; never called
    raise AssertionError("the reader must not call NVlabs' reconstruction")


class EasyDict(dict):
    """Pickles as dnnlib.util.EasyDict."""


class TensorFlowNetwork:
    """Pickles as dnnlib.tflib.network.Network (a TensorFlow-era NVlabs network)."""


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
EasyDict.__module__ = "dnnlib.util"
TensorFlowNetwork.__module__, TensorFlowNetwork.__qualname__ = "dnnlib.tflib.network", "Network"


def install_nvlabs_modules(monkeypatch) -> None:
    """NVlabs' module names, present while a test writes pickles (and only then): the
    `nvlabs_modules` fixture of conftest.py."""
    for name, members in {
        "torch_utils": {}, "torch_utils.persistence": {"_reconstruct_persistent_obj": _reconstruct_persistent_obj},
        "dnnlib": {}, "dnnlib.util": {"EasyDict": EasyDict}, "dnnlib.tflib": {}, "dnnlib.tflib.network": {"Network": TensorFlowNetwork},
    }.items():
        module = types.ModuleType(name)
        module.__dict__.update(members)
        monkeypatch.setitem(sys.modules, name, module)


class Persistent:
    """An NVlabs persistent object: reduces to (_reconstruct_persistent_obj, (meta,))."""

    def __init__(self, class_name: str, module_src: str, params=None, buffers=None, modules=None, **attributes) -> None:
        self.meta = {
            "type": "class", "version": 4, "module_src": module_src, "class_name": class_name,
            "state": {
                "training": False,
                "_parameters": collections.OrderedDict((k, None if v is None else torch.nn.Parameter(v.detach().clone(), requires_grad=False)) for k, v in (params or {}).items()),
                "_buffers": collections.OrderedDict((k, v.detach().clone()) for k, v in (buffers or {}).items()),
                "_non_persistent_buffers_set": set(),
                "_modules": collections.OrderedDict(modules or {}),
                "_forward_hooks": collections.OrderedDict(),
                "_init_args": (),
                **attributes,
            },
        }

    def __reduce__(self):
        return (_reconstruct_persistent_obj, (self.meta,))


class NVlabsLayout:
    """Our networks renamed into stylegan2-ada-pytorch's module tree (written out by hand)."""

    def __init__(self, module_src: str) -> None:
        self.src = module_src

    def obj(self, class_name: str, **kwargs) -> Persistent:
        return Persistent(class_name, self.src, **kwargs)

    def fc(self, layer: EqualLinear, activation: str) -> Persistent:
        return self.obj(
            "FullyConnectedLayer", params={"weight": layer.weight, "bias": layer.bias}, activation=activation,
            weight_gain=np.float64(layer.scale), bias_gain=layer.lr_mul,
        )

    def synthesis_layer(self, conv: StyledConv, resolution: int, up: int, clamp: float | None) -> Persistent:
        return self.obj(
            "SynthesisLayer",
            params={"weight": conv.conv.weight, "noise_strength": conv.noise_strength.reshape(()), "bias": conv.bias},
            buffers={"resample_filter": FILTER, "noise_const": conv.noise_const.reshape(resolution, resolution)},
            modules={"affine": self.fc(conv.conv.modulation, "linear")},
            resolution=resolution, up=up, use_noise=True, activation="lrelu", conv_clamp=clamp, padding=1, act_gain=np.float64(np.sqrt(2)),
        )

    def torgb(self, layer: ToRGB, clamp: float | None) -> Persistent:
        return self.obj(
            "ToRGBLayer", params={"weight": layer.conv.weight, "bias": layer.bias}, modules={"affine": self.fc(layer.conv.modulation, "linear")},
            conv_clamp=clamp, weight_gain=np.float64(layer.conv.scale),
        )

    def generator(self, g: Generator, w_avg: torch.Tensor) -> Persistent:
        cfg, s = g.config, g.synthesis
        mapping = self.obj(
            "MappingNetwork", buffers={"w_avg": w_avg}, modules={f"fc{i}": self.fc(layer, "lrelu") for i, layer in enumerate(g.mapping.layers)},
            z_dim=cfg.style_dim, c_dim=0, w_dim=cfg.style_dim, num_ws=cfg.num_styles, num_layers=cfg.mapping_layers, w_avg_beta=0.995,
        )
        blocks = {"b4": self.obj(
            "SynthesisBlock", params={"const": s.const[0]}, buffers={"resample_filter": FILTER},
            modules={"conv1": self.synthesis_layer(s.conv, 4, 1, cfg.conv_clamp), "torgb": self.torgb(s.to_rgb, cfg.conv_clamp)},
            in_channels=0, resolution=4, architecture="skip", use_fp16=False, num_conv=1, num_torgb=1,
        )}
        for block, res in zip(s.blocks, list(cfg.channels)[1:]):
            blocks[f"b{res}"] = self.obj(
                "SynthesisBlock", buffers={"resample_filter": FILTER},
                modules={
                    "conv0": self.synthesis_layer(block.conv0, res, 2, cfg.conv_clamp),
                    "conv1": self.synthesis_layer(block.conv1, res, 1, cfg.conv_clamp),
                    "torgb": self.torgb(block.to_rgb, cfg.conv_clamp),
                },
                in_channels=cfg.channels[res // 2], resolution=res, architecture="skip", use_fp16=res >= 16, num_conv=2, num_torgb=1,
            )
        synthesis = self.obj("SynthesisNetwork", modules=blocks, w_dim=cfg.style_dim, img_resolution=cfg.resolution, img_channels=3, num_ws=cfg.num_styles)
        kwargs = EasyDict(
            z_dim=cfg.style_dim, c_dim=0, w_dim=cfg.style_dim, img_resolution=cfg.resolution, img_channels=3,
            mapping_kwargs=EasyDict(num_layers=cfg.mapping_layers),
            synthesis_kwargs=EasyDict(channel_base=cfg.channel_base, channel_max=cfg.channel_max, num_fp16_res=2, conv_clamp=cfg.conv_clamp),
        )
        return self.obj(
            "Generator", modules={"synthesis": synthesis, "mapping": mapping}, _init_kwargs=kwargs,
            z_dim=cfg.style_dim, c_dim=0, w_dim=cfg.style_dim, img_resolution=cfg.resolution, img_channels=3, num_ws=cfg.num_styles,
        )

    def conv(self, layer: ConvLayer, clamp: float | None, down: int = 1) -> Persistent:
        return self.obj(
            "Conv2dLayer", params={"weight": layer.weight, "bias": layer.bias}, buffers={"resample_filter": FILTER},
            activation=layer.activation, up=1, down=down, conv_clamp=clamp, padding=layer.weight.shape[-1] // 2,
            weight_gain=np.float64(layer.scale), act_gain=np.float64(np.sqrt(2) if layer.activation == "lrelu" else 1.0),
        )

    def discriminator(self, d: Discriminator, architecture: str = "resnet") -> Persistent:
        """D as NVlabs writes it; "orig" (the cifar config's) drops the residual skips."""
        cfg = d.config
        resolutions = sorted(cfg.channels, reverse=True)[:-1]
        blocks = {}
        for block, res in zip(d.blocks, resolutions):
            layers = {"fromrgb": self.conv(d.from_rgb, cfg.conv_clamp)} if res == cfg.resolution else {}
            layers.update(conv0=self.conv(block.conv1, cfg.conv_clamp), conv1=self.conv(block.conv2, cfg.conv_clamp, 2))
            if architecture == "resnet":
                layers["skip"] = self.conv(block.skip, None, 2)
            blocks[f"b{res}"] = self.obj(
                "DiscriminatorBlock", buffers={"resample_filter": FILTER}, modules=layers,
                in_channels=0 if res == cfg.resolution else cfg.channels[res], resolution=res, architecture=architecture, use_fp16=res >= 16,
            )
        blocks["b4"] = self.obj("DiscriminatorEpilogue", modules={
            "mbstd": self.obj("MinibatchStdLayer", group_size=cfg.mbstd_group, num_channels=1),
            "conv": self.conv(d.final_conv, cfg.conv_clamp),
            "fc": self.fc(d.final_linear[0], "lrelu"),
            "out": self.fc(d.final_linear[1], "linear"),
        }, in_channels=cfg.channels[4], cmap_dim=0, resolution=4, architecture=architecture)
        return self.obj("Discriminator", modules=blocks, c_dim=0, img_resolution=cfg.resolution, img_channels=3,
                        _init_kwargs=EasyDict(c_dim=0, img_resolution=cfg.resolution, img_channels=3, conv_clamp=cfg.conv_clamp,
                                              epilogue_kwargs=EasyDict(mbstd_group_size=cfg.mbstd_group)))


def marker_source(marker: Path) -> str:
    """Module source that leaves `marker` behind if anything ever runs it."""
    return f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"


def nvlabs_networks(resolution: int = 32, clamp: float | None = 256.0) -> tuple[Generator, Discriminator, torch.Tensor]:
    generator = randomized_generator(GeneratorConfig(resolution=resolution, conv_clamp=clamp, **TINY))
    discriminator = randomized_discriminator(DiscriminatorConfig(resolution=resolution, channel_base=512, channel_max=16, conv_clamp=clamp))
    return generator, discriminator, torch.randn(16, generator=torch.Generator().manual_seed(5))


def write_nvlabs_pickle(path: Path, generator: Generator, discriminator: Discriminator | None, w_avg: torch.Tensor,
                        marker: Path, protocol: int = 4, d_architecture: str = "resnet", **extra) -> Path:
    """A network pickle as stylegan2-ada-pytorch's training loop writes it; protocol 3 with
    numpy 1's module name for scalars, as Python 3.7 and numpy 1 wrote the published ones;
    `d_architecture` "orig" as its cifar config writes D."""
    layout = NVlabsLayout(marker_source(marker))
    data = {"G": layout.generator(generator, w_avg), "G_ema": layout.generator(generator, w_avg)}
    if discriminator is not None:
        data["D"] = layout.discriminator(discriminator, d_architecture)
    data["augment_pipe"] = layout.obj("AugmentPipe", buffers={"p": torch.zeros([])}, xflip=np.float64(1.0))
    data["training_set_kwargs"] = EasyDict(class_name="training.dataset.ImageFolderDataset", path="ffhq.zip", resolution=generator.config.resolution)
    data.update(extra)
    written = pickle.dumps(data, protocol=protocol)
    if protocol == 3:
        written = written.replace(b"cnumpy._core.multiarray\nscalar\n", b"cnumpy.core.multiarray\nscalar\n")
    path.write_bytes(written)
    return path
