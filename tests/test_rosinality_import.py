"""Importing StyleGAN2 generators saved in the rosinality layout (`g_ema` in a torch.save dict)."""

import collections

import pytest
import torch

from core.config import GeneratorConfig
from core.errors import InvertFillError
from core.generator import Generator
from core.ops import setup_filter
from core.rosinality_import import import_rosinality_generator, infer_config


def _styled_conv(state: dict, prefix: str, conv, noise_name: str, noise: torch.Tensor) -> None:
    state[f"{prefix}.conv.weight"] = conv.conv.weight[None].clone()
    state[f"{prefix}.conv.modulation.weight"] = conv.conv.modulation.weight.clone()
    state[f"{prefix}.conv.modulation.bias"] = conv.conv.modulation.bias.clone()
    state[f"{prefix}.noise.weight"] = conv.noise_strength.clone()
    state[f"{prefix}.activate.bias"] = conv.bias.clone()
    state[f"noises.{noise_name}"] = noise.clone()


def _to_rgb(state: dict, prefix: str, to_rgb, upsample: bool) -> None:
    state[f"{prefix}.conv.weight"] = to_rgb.conv.weight[None].clone()
    state[f"{prefix}.conv.modulation.weight"] = to_rgb.conv.modulation.weight.clone()
    state[f"{prefix}.conv.modulation.bias"] = to_rgb.conv.modulation.bias.clone()
    state[f"{prefix}.bias"] = to_rgb.bias.reshape(1, 3, 1, 1).clone()
    if upsample:
        state[f"{prefix}.upsample.kernel"] = setup_filter([1, 3, 3, 1]) * 4


def rosinality_state(generator: Generator) -> dict:
    """A state dict laid out as rosinality's Generator saves it (written out by hand)."""
    state = collections.OrderedDict()
    for i, layer in enumerate(generator.mapping.layers):
        state[f"style.{i + 1}.weight"] = layer.weight.clone()
        state[f"style.{i + 1}.bias"] = layer.bias.clone()
    synthesis = generator.synthesis
    state["input.input"] = synthesis.const.clone()
    _styled_conv(state, "conv1", synthesis.conv, "noise_0", synthesis.conv.noise_const)
    _to_rgb(state, "to_rgb1", synthesis.to_rgb, upsample=False)
    for b, block in enumerate(synthesis.blocks):
        _styled_conv(state, f"convs.{2 * b}", block.conv0, f"noise_{2 * b + 1}", block.conv0.noise_const)
        state[f"convs.{2 * b}.conv.blur.kernel"] = setup_filter([1, 3, 3, 1]) * 4
        _styled_conv(state, f"convs.{2 * b + 1}", block.conv1, f"noise_{2 * b + 2}", block.conv1.noise_const)
        _to_rgb(state, f"to_rgbs.{b}", block.to_rgb, upsample=True)
    return state


def randomized_generator(config: GeneratorConfig) -> Generator:
    torch.manual_seed(0)
    generator = Generator(config)
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return generator


def test_imported_generator_draws_the_same_images(tmp_path):
    config = GeneratorConfig(resolution=64, style_dim=32, mapping_layers=3, channel_base=1024, channel_max=512)
    original = randomized_generator(config)
    path = tmp_path / "550000.pt"
    torch.save({"g_ema": rosinality_state(original), "latent_avg": torch.zeros(32)}, path)
    imported = import_rosinality_generator(path)
    assert imported.config == config
    z = torch.randn(3, 32)
    with torch.no_grad():
        assert torch.equal(imported(z, noise_mode="const"), original(z, noise_mode="const"))


def _shape_only_state(config: GeneratorConfig) -> dict:
    """The tensors infer_config reads, with rosinality's shapes, as zero-stride views."""
    ch, d = config.channels, config.style_dim
    shapes = {f"style.{i + 1}.weight": (d, d) for i in range(config.mapping_layers)}
    shapes["input.input"] = (1, ch[4], 4, 4)
    shapes["conv1.conv.weight"] = (1, ch[4], ch[4], 3, 3)
    for b, res in enumerate(list(ch)[1:]):
        shapes[f"convs.{2 * b}.conv.weight"] = (1, ch[res], ch[res // 2], 3, 3)
        shapes[f"convs.{2 * b + 1}.conv.weight"] = (1, ch[res], ch[res], 3, 3)
    return {key: torch.zeros(()).expand(shape) for key, shape in shapes.items()}


@pytest.mark.parametrize(
    "resolution, channel_base, expected_64",
    [(1024, 16384, 256), (256, 32768, 512), (64, 16384, 256), (32, 16384, None)],
)
def test_channel_table_is_inferred_for_both_common_multipliers(resolution, channel_base, expected_64):
    config = GeneratorConfig(resolution=resolution, style_dim=8, mapping_layers=2, channel_base=channel_base)
    inferred = infer_config(_shape_only_state(config))
    assert inferred.channels == config.channels
    assert (inferred.resolution, inferred.style_dim, inferred.mapping_layers) == (resolution, 8, 2)
    if expected_64:
        assert inferred.channels[64] == expected_64


def test_an_unsupported_channel_table_is_refused():
    state = _shape_only_state(GeneratorConfig(resolution=64, style_dim=8, mapping_layers=2))
    state["convs.0.conv.weight"] = torch.zeros(()).expand(1, 300, 512, 3, 3)
    with pytest.raises(InvertFillError, match="unsupported channel table"):
        infer_config(state)


class Payload:
    """Stands for code that a malicious pickle would run on load."""

    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_pickle_with_code_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"g_ema": Payload()}, path)
    with pytest.raises(InvertFillError, match="refused"):
        import_rosinality_generator(path)
    assert "must never run" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [({"g": {"x": torch.zeros(1)}}, "no StyleGAN2 generator"), ([1, 2, 3], "no StyleGAN2 generator")],
)
def test_files_without_a_generator_are_refused(tmp_path, content, message):
    path = tmp_path / "other.pt"
    torch.save(content, path)
    with pytest.raises(InvertFillError, match=message):
        import_rosinality_generator(path)


def test_missing_truncated_and_incomplete_files_are_refused(tmp_path):
    with pytest.raises(InvertFillError, match="does not exist"):
        import_rosinality_generator(tmp_path / "absent.pt")
    config = GeneratorConfig(resolution=32, style_dim=8, mapping_layers=2, channel_base=1024, channel_max=512)
    state = rosinality_state(Generator(config))
    path = tmp_path / "model.pt"
    torch.save({"g_ema": state}, path)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(InvertFillError, match="not a readable PyTorch weights file"):
        import_rosinality_generator(truncated)
    del state["to_rgbs.0.bias"]
    torch.save({"g_ema": state}, path)
    with pytest.raises(InvertFillError, match="lacks 1 tensors"):
        import_rosinality_generator(path)


def test_a_generator_trained_with_another_blur_kernel_is_refused(tmp_path):
    config = GeneratorConfig(resolution=32, style_dim=8, mapping_layers=2, channel_base=1024, channel_max=512)
    state = rosinality_state(Generator(config))
    state["convs.0.conv.blur.kernel"] = setup_filter([1, 2, 1]) * 4
    path = tmp_path / "model.pt"
    torch.save({"g_ema": state}, path)
    with pytest.raises(InvertFillError, match="other blur kernels are not supported"):
        import_rosinality_generator(path)
