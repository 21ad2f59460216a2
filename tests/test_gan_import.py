"""Importing published StyleGAN2 networks: NVlabs pickles (built by tests/nvlabs_pickles.py), the
front door, and every entry point's refusal of code."""

from __future__ import annotations

import collections
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_invertfill_config
from nvlabs_pickles import (
    EasyDict,
    NVlabsLayout,
    TensorFlowNetwork,
    marker_source,
    nvlabs_networks,
    write_nvlabs_pickle,
)
from test_rosinality_import import randomized_discriminator, rosinality_state

from app.cli import main
from core.errors import InvertFillError
from core.io.checkpoint import load_checkpoint
from core.io.checkpoint_description import describe_checkpoint
from core.io.gan_import import import_gan
from core.nn.config import DiscriminatorConfig
from core.nn.layers import EqualLinear
from training.config import EncoderTrainConfig
from training.distributed import DistributedContext
from training.stage1 import Stage1Trainer
from training.stage2 import build_model, load_pretrained


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


def test_a_cifar_config_pickle_imports_its_generator_and_says_in_one_line_that_its_discriminator_was_left_out(
    tmp_path, nvlabs_modules, capsys
):
    """stylegan2-ada-pytorch's cifar config trains D with the 'orig' architecture (no residual skips)."""
    generator, _, w_avg = nvlabs_networks(32)
    discriminator = randomized_discriminator(DiscriminatorConfig(resolution=32, channel_base=512, channel_max=16, mbstd_group=32))
    source = write_nvlabs_pickle(tmp_path / "cifar10.pkl", generator, discriminator, w_avg, tmp_path / "ran", d_architecture="orig")
    code, out, err = run_cli(capsys, "import-gan", source, "-o", tmp_path / "gan.safetensors")
    assert code == 0 and err == "" and not (tmp_path / "ran").exists()
    assert [line for line in out.splitlines() if line.startswith("discriminator:")] == [
        "discriminator: left out (its D uses the ['orig'] architecture; only StyleGAN2's default 'resnet' imports); "
        "stage 2 needs only the generator"
    ]
    checkpoint = load_checkpoint(tmp_path / "gan.safetensors")
    assert list(checkpoint.parts) == ["generator"] and torch.equal(checkpoint.mean_latent, w_avg)
    for key, value in generator.state_dict().items():
        assert torch.equal(checkpoint.part("generator").state_dict()[key], value), key
    pretrained = load_pretrained(source)
    assert pretrained.discriminator is None and torch.equal(pretrained.generator.synthesis.const, generator.synthesis.const)


def test_stage2_starts_its_online_mean_latent_at_the_imported_one(tmp_path, nvlabs_modules):
    generator, discriminator, w_avg = nvlabs_networks(32)
    source = write_nvlabs_pickle(tmp_path / "network.pkl", generator, discriminator, w_avg, tmp_path / "ran")
    config = EncoderTrainConfig(model=make_tiny_invertfill_config(32))
    model, loaded_discriminator, _ = build_model(config, source, finetune=False, seed=0)
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
