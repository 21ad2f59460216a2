"""Importing published StyleGAN2 networks: NVlabs pickles, the front door, and every entry point's refusal of code.

The NVlabs-style pickles are built here from our own tiny networks: a dict of G / D / G_ema objects
that pickle as NVlabs' persistent objects do ((_reconstruct_persistent_obj, (meta,)) with the
module source, class name and __dict__ state), parameters as torch Parameters, numpy scalars and
EasyDict kwargs as NVlabs' code leaves them.
"""

from __future__ import annotations

import collections
import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_invertfill_config
from test_rosinality_import import randomized_discriminator, randomized_generator, rosinality_state

from app.cli import main
from core.checkpoint import describe_checkpoint, load_checkpoint
from core.config import DiscriminatorConfig, GeneratorConfig
from core.discriminator import Discriminator
from core.errors import InvertFillError
from core.gan_import import import_gan
from core.generator import Generator
from core.layers import ConvLayer, EqualLinear, StyledConv, ToRGB
from core.ops import setup_filter
from training.config import EncoderTrainConfig
from training.distributed import DistributedContext
from training.stage1 import Stage1Trainer
from training.stage2 import build_model

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


@pytest.fixture
def nvlabs_modules(monkeypatch):
    """NVlabs' module names, present while a test writes pickles (and only then)."""
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

    def discriminator(self, d: Discriminator) -> Persistent:
        cfg = d.config
        resolutions = sorted(cfg.channels, reverse=True)[:-1]
        blocks = {}
        for block, res in zip(d.blocks, resolutions):
            layers = {"fromrgb": self.conv(d.from_rgb, cfg.conv_clamp)} if res == cfg.resolution else {}
            layers.update(conv0=self.conv(block.conv1, cfg.conv_clamp), conv1=self.conv(block.conv2, cfg.conv_clamp, 2), skip=self.conv(block.skip, None, 2))
            blocks[f"b{res}"] = self.obj(
                "DiscriminatorBlock", buffers={"resample_filter": FILTER}, modules=layers,
                in_channels=0 if res == cfg.resolution else cfg.channels[res], resolution=res, architecture="resnet", use_fp16=res >= 16,
            )
        blocks["b4"] = self.obj("DiscriminatorEpilogue", modules={
            "mbstd": self.obj("MinibatchStdLayer", group_size=cfg.mbstd_group, num_channels=1),
            "conv": self.conv(d.final_conv, cfg.conv_clamp),
            "fc": self.fc(d.final_linear[0], "lrelu"),
            "out": self.fc(d.final_linear[1], "linear"),
        }, in_channels=cfg.channels[4], cmap_dim=0, resolution=4, architecture="resnet")
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
                        marker: Path, protocol: int = 4, **extra) -> Path:
    """A network pickle as stylegan2-ada-pytorch's training loop writes it; protocol 3 with
    numpy 1's module name for scalars, as Python 3.7 and numpy 1 wrote the published ones."""
    layout = NVlabsLayout(marker_source(marker))
    data = {"G": layout.generator(generator, w_avg), "G_ema": layout.generator(generator, w_avg)}
    if discriminator is not None:
        data["D"] = layout.discriminator(discriminator)
    data["augment_pipe"] = layout.obj("AugmentPipe", buffers={"p": torch.zeros([])}, xflip=np.float64(1.0))
    data["training_set_kwargs"] = EasyDict(class_name="training.dataset.ImageFolderDataset", path="ffhq.zip", resolution=generator.config.resolution)
    data.update(extra)
    written = pickle.dumps(data, protocol=protocol)
    if protocol == 3:
        written = written.replace(b"cnumpy._core.multiarray\nscalar\n", b"cnumpy.core.multiarray\nscalar\n")
    path.write_bytes(written)
    return path


@pytest.mark.parametrize("protocol", [3, 4])
def test_an_nvlabs_pickle_imports_generator_discriminator_and_mean_latent(tmp_path, nvlabs_modules, protocol):
    generator, discriminator, w_avg = nvlabs_networks(64)
    marker = tmp_path / "ran"
    path = write_nvlabs_pickle(tmp_path / "network-snapshot-000100.pkl", generator, discriminator, w_avg, marker, protocol)
    imported = import_gan(path)
    assert not marker.exists()
    assert imported.source_format == "nvlabs" and torch.equal(imported.mean_latent, w_avg)
    assert imported.generator.config.channels == generator.config.channels and imported.generator.config.conv_clamp == 256.0
    assert imported.discriminator.config.conv_clamp == 256.0 and imported.discriminator.config.mbstd_group == 4
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(6))
    images = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert (imported.generator(z, noise_mode="const") - generator(z, noise_mode="const")).abs().max() <= 1e-4
        assert (imported.discriminator(images) - discriminator(images)).abs().max() <= 1e-4


def test_an_unclamped_nvlabs_generator_stays_unclamped(tmp_path, nvlabs_modules):
    generator, discriminator, w_avg = nvlabs_networks(32, clamp=None)
    path = write_nvlabs_pickle(tmp_path / "fp32.pkl", generator, discriminator, w_avg, tmp_path / "ran")
    imported = import_gan(path)
    assert imported.generator.config.conv_clamp is None and imported.discriminator.config.conv_clamp is None


def test_the_front_door_reads_by_content_not_by_name(tmp_path, nvlabs_modules):
    generator, discriminator, w_avg = nvlabs_networks(32)
    assert import_gan(write_nvlabs_pickle(tmp_path / "weights.pt", generator, None, w_avg, tmp_path / "ran")).source_format == "nvlabs"
    torch.save({"g_ema": rosinality_state(generator)}, tmp_path / "g.pkl")
    assert import_gan(tmp_path / "g.pkl").source_format == "rosinality"
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InvertFillError, match="notes.txt is neither a PyTorch file nor a network pickle"):
        import_gan(tmp_path / "notes.txt")


def test_a_stylegan3_generator_is_refused_as_what_it_is(tmp_path, nvlabs_modules):
    layout = NVlabsLayout(marker_source(tmp_path / "ran"))
    affine = EqualLinear(16, 16, bias_init=1.0)
    layer = layout.obj("SynthesisLayer", params={"weight": torch.zeros(16, 16, 3, 3), "bias": torch.zeros(16)},
                       buffers={"magnitude_ema": torch.ones([]), "up_filter": torch.ones(12), "down_filter": torch.ones(12)},
                       modules={"affine": layout.fc(affine, "linear")}, in_size=np.broadcast_to(np.asarray(36), [2]))
    synthesis = layout.obj("SynthesisNetwork", modules={
        "input": layout.obj("SynthesisInput", params={"weight": torch.zeros(16, 16)}, buffers={"freqs": torch.zeros(16, 2), "phases": torch.zeros(16)}),
        "L0_36_16": layer,
    })
    g = layout.obj("Generator", modules={"synthesis": synthesis}, c_dim=0, img_channels=3)
    (tmp_path / "stylegan3-t-ffhq-1024x1024.pkl").write_bytes(pickle.dumps({"G_ema": g}))
    with pytest.raises(InvertFillError, match=r"holds a StyleGAN3 \(alias-free\) generator"):
        import_gan(tmp_path / "stylegan3-t-ffhq-1024x1024.pkl")


def test_a_tensorflow_era_pickle_is_refused_as_what_it_is(tmp_path, nvlabs_modules):
    networks = tuple(TensorFlowNetwork() for _ in range(3))
    for network in networks:
        network.name, network.build_module_src = "G", marker_source(tmp_path / "ran")
    (tmp_path / "stylegan2-ffhq-config-f.pkl").write_bytes(pickle.dumps(networks, protocol=3))
    with pytest.raises(InvertFillError, match=r"TensorFlow-era StyleGAN pickle \(dnnlib\.tflib\.network\.Network\)"):
        import_gan(tmp_path / "stylegan2-ffhq-config-f.pkl")
    assert not (tmp_path / "ran").exists()


def test_conditional_and_non_skip_networks_are_refused(tmp_path, nvlabs_modules):
    generator, _, w_avg = nvlabs_networks(32)
    layout = NVlabsLayout("")
    conditional = layout.generator(generator, w_avg)
    conditional.meta["state"]["c_dim"] = 10
    (tmp_path / "cond.pkl").write_bytes(pickle.dumps({"G_ema": conditional}))
    with pytest.raises(InvertFillError, match=r"class-conditional \(c_dim 10\)"):
        import_gan(tmp_path / "cond.pkl")
    resnet = layout.generator(generator, w_avg)
    resnet.meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]["b8"].meta["state"]["architecture"] = "resnet"
    (tmp_path / "resnet.pkl").write_bytes(pickle.dumps({"G_ema": resnet}))
    with pytest.raises(InvertFillError, match=r"uses the \['resnet', 'skip'\] architecture; only StyleGAN2's default 'skip'"):
        import_gan(tmp_path / "resnet.pkl")


def test_a_left_over_tensor_in_an_nvlabs_generator_is_refused_by_name(tmp_path, nvlabs_modules):
    generator, _, w_avg = nvlabs_networks(32)
    g = NVlabsLayout("").generator(generator, w_avg)
    g.meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]["b8"].meta["state"]["_parameters"]["gain"] = torch.ones(1)
    (tmp_path / "extra.pkl").write_bytes(pickle.dumps({"G_ema": g}))
    with pytest.raises(InvertFillError, match=r"extra\.pkl: the generator has 1 tensor\(s\) a StyleGAN2 generator does not: 'synthesis.b8.gain'"):
        import_gan(tmp_path / "extra.pkl")


class Exploit:
    """A pickle that would create `marker` when loaded by an ordinary unpickler."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class NestedExploit:
    """A tensor storage whose torch.save bytes hold the exploit (NVlabs' storage route)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import io

        buffer = io.BytesIO()
        torch.save(Exploit(self.marker), buffer, _use_new_zipfile_serialization=False)
        return (torch.storage._load_from_bytes, (buffer.getvalue(),))


def evil_files(tmp_path: Path, marker: Path, nvlabs_modules_present: bool = True) -> dict[str, Path]:
    """The same exploit as an NVlabs-style pickle, inside a network's kwargs, as a nested storage, and as a torch.save file."""
    generator, _, w_avg = nvlabs_networks(32)
    files = {
        "plain": tmp_path / "network.pkl",
        "inside": tmp_path / "network-kwargs.pkl",
        "storage": tmp_path / "network-storage.pkl",
        "torch": tmp_path / "550000.pt",
    }
    files["plain"].write_bytes(pickle.dumps({"G_ema": Exploit(marker)}))
    write_nvlabs_pickle(files["inside"], generator, None, w_avg, marker, training_set_kwargs=EasyDict(path=Exploit(marker)))
    files["storage"].write_bytes(pickle.dumps({"G_ema": NestedExploit(marker)}))
    torch.save({"g_ema": Exploit(marker)}, files["torch"])
    return files


def test_no_reader_runs_code_from_a_file(tmp_path, nvlabs_modules):
    marker = tmp_path / "ran"
    for kind, path in evil_files(tmp_path, marker).items():
        with pytest.raises(InvertFillError) as refused:
            import_gan(path)
        assert str(refused.value) == f"{path.name} was refused: it would run posix.system", kind
    assert not marker.exists()


def test_an_unknown_global_is_refused_by_name(tmp_path):
    (tmp_path / "odd.pkl").write_bytes(pickle.dumps({"G_ema": collections.Counter(a=1)}))
    with pytest.raises(InvertFillError, match=r"^odd\.pkl was refused: it would run collections\.Counter$"):
        import_gan(tmp_path / "odd.pkl")


def test_a_truncated_network_pickle_is_one_line(tmp_path, nvlabs_modules):
    generator, discriminator, w_avg = nvlabs_networks(32)
    path = write_nvlabs_pickle(tmp_path / "network.pkl", generator, discriminator, w_avg, tmp_path / "ran")
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(InvertFillError, match=r"^truncated\.pkl is not a readable network pickle \(truncated or corrupt\): [^\n]*$"):
        import_gan(truncated)


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_import_gan_writes_a_stage1_checkpoint_with_the_mean_latent(tmp_path, nvlabs_modules, capsys):
    generator, discriminator, w_avg = nvlabs_networks(32)
    source = write_nvlabs_pickle(tmp_path / "network.pkl", generator, discriminator, w_avg, tmp_path / "ran")
    code, out, err = run_cli(capsys, "import-gan", source, "-o", tmp_path / "gan.safetensors")
    assert code == 0 and err == ""
    for line in ("resolution: 32", "style size: 16", "mapping depth: 2", "channels: 4:16 8:16 16:16 32:16", "[nvlabs]", "activation clamp: ±256"):
        assert line in out, out
    checkpoint = load_checkpoint(tmp_path / "gan.safetensors")
    assert checkpoint.stage == "stylegan2" and sorted(checkpoint.parts) == ["discriminator", "generator"]
    assert torch.equal(checkpoint.mean_latent, w_avg)
    for key, value in generator.state_dict().items():
        assert torch.equal(checkpoint.part("generator").state_dict()[key], value), key
    assert "mean latent: stored (16 values)" in describe_checkpoint(tmp_path / "gan.safetensors")


def test_stage2_starts_its_online_mean_latent_at_the_imported_one(tmp_path, nvlabs_modules):
    generator, discriminator, w_avg = nvlabs_networks(32)
    source = write_nvlabs_pickle(tmp_path / "network.pkl", generator, discriminator, w_avg, tmp_path / "ran")
    config = EncoderTrainConfig(model=make_tiny_invertfill_config(32))
    model, loaded_discriminator = build_model(config, source, finetune=False, seed=0)
    assert torch.equal(model.soft_mean_latent.online, w_avg) and loaded_discriminator is not None
    assert not torch.equal(model.soft_mean_latent.target, w_avg)


def test_train_gan_init_starts_from_both_imported_networks(tmp_path, nvlabs_modules):
    from test_stage1 import tiny_gan_config

    generator, discriminator, w_avg = nvlabs_networks(32)
    source = write_nvlabs_pickle(tmp_path / "network.pkl", generator, discriminator, w_avg, tmp_path / "ran")
    trainer = Stage1Trainer(tiny_gan_config(), DistributedContext(0, 1, torch.device("cpu")), init=source)
    assert trainer.config.generator == import_gan(source).generator.config
    assert trainer.config.discriminator.conv_clamp == 256.0
    for ours, theirs in ((trainer.generator, generator), (trainer.generator_ema, generator), (trainer.discriminator, discriminator)):
        for key, value in theirs.state_dict().items():
            assert torch.equal(ours.state_dict()[key], value), key


def _one_line_refusal(code: int, err: str, name: str) -> None:
    lines = err.strip().splitlines()
    assert code == 1 and lines[-1].startswith("invertfill: error: ") and "Traceback" not in err
    assert name in lines[-1] and ("refused" in lines[-1] or "pickle" in lines[-1]), lines[-1]


def test_every_entry_point_refuses_a_malicious_file_and_runs_nothing(tmp_path, nvlabs_modules, capsys, photo_and_mask):
    from app.gui.engine import EngineWorker

    marker = tmp_path / "ran"
    image, mask = photo_and_mask
    data = tmp_path / "data"
    data.mkdir()
    for path in evil_files(tmp_path, marker).values():
        code, _, err = run_cli(capsys, "fill", image, mask, "-o", tmp_path / "out.png", "--model", path, "--device", "cpu")
        _one_line_refusal(code, err, path.name)
        code, _, err = run_cli(capsys, "train-gan", "--data", data, "--out", tmp_path / "run1", "--init", path, "--device", "cpu")
        _one_line_refusal(code, err, path.name)
        code, _, err = run_cli(capsys, "train-encoder", "--gan", path, "--data", data, "--out", tmp_path / "run2", "--device", "cpu")
        _one_line_refusal(code, err, path.name)
        code, _, err = run_cli(capsys, "import-gan", path, "-o", tmp_path / "gan.safetensors")
        _one_line_refusal(code, err, path.name)
        assert "it would run posix.system" in err
        failures: list[str] = []
        worker = EngineWorker()
        worker.model_failed.connect(failures.append)
        worker.load_model(path, "cpu")
        assert len(failures) == 1 and path.name in failures[0] and "pickle" in failures[0]
    assert not marker.exists()
    assert not (tmp_path / "run1").exists() and not (tmp_path / "run2").exists() and not (tmp_path / "gan.safetensors").exists()
    assert not (tmp_path / "out.png").exists()
