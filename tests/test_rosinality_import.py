"""Importing StyleGAN2 networks saved by rosinality's stylegan2-pytorch (releases and training checkpoints)."""

import argparse
import collections

import pytest
import torch

from core.errors import InvertFillError
from core.io.gan_import import import_gan
from core.io.rosinality_import import infer_config
from core.nn.config import DiscriminatorConfig, GeneratorConfig
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from core.nn.random_init import seeded_initialization
from core.ops import setup_filter

BLUR = setup_filter([1, 3, 3, 1])


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
        state[f"{prefix}.upsample.kernel"] = BLUR * 4


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
        state[f"convs.{2 * b}.conv.blur.kernel"] = BLUR * 4
        _styled_conv(state, f"convs.{2 * b + 1}", block.conv1, f"noise_{2 * b + 2}", block.conv1.noise_const)
        _to_rgb(state, f"to_rgbs.{b}", block.to_rgb, upsample=True)
    return state


def rosinality_discriminator_state(discriminator: Discriminator) -> dict:
    """A state dict laid out as rosinality's Discriminator saves it: ConvLayer is a Sequential of
    (Blur,) EqualConv2d, FusedLeakyReLU (the bias)."""
    state = collections.OrderedDict()
    state["convs.0.0.weight"] = discriminator.from_rgb.weight.clone()
    state["convs.0.1.bias"] = discriminator.from_rgb.bias.clone()
    for i, block in enumerate(discriminator.blocks, start=1):
        state[f"convs.{i}.conv1.0.weight"] = block.conv1.weight.clone()
        state[f"convs.{i}.conv1.1.bias"] = block.conv1.bias.clone()
        state[f"convs.{i}.conv2.0.kernel"] = BLUR.clone()
        state[f"convs.{i}.conv2.1.weight"] = block.conv2.weight.clone()
        state[f"convs.{i}.conv2.2.bias"] = block.conv2.bias.clone()
        state[f"convs.{i}.skip.0.kernel"] = BLUR.clone()
        state[f"convs.{i}.skip.1.weight"] = block.skip.weight.clone()
    state["final_conv.0.weight"] = discriminator.final_conv.weight.clone()
    state["final_conv.1.bias"] = discriminator.final_conv.bias.clone()
    for i in (0, 1):
        state[f"final_linear.{i}.weight"] = discriminator.final_linear[i].weight.clone()
        state[f"final_linear.{i}.bias"] = discriminator.final_linear[i].bias.clone()
    return state


def randomized(network: torch.nn.Module, seed: int) -> torch.nn.Module:
    """`network` with every parameter moved off its initial value (biases off zero), seeded."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in network.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.1)
    return network


def randomized_generator(config: GeneratorConfig) -> Generator:
    with seeded_initialization(0):
        return randomized(Generator(config), 0)


def randomized_discriminator(config: DiscriminatorConfig) -> Discriminator:
    with seeded_initialization(1):
        return randomized(Discriminator(config), 1)


TINY = dict(style_dim=16, mapping_layers=2, channel_base=512, channel_max=16, conv_clamp=None)


def training_checkpoint(generator: Generator, discriminator: Discriminator) -> dict:
    """What rosinality's train.py saves: networks, optimizer states, its arguments, ADA's p."""
    g_optim, d_optim = (torch.optim.Adam(net.parameters(), lr=0.0, betas=(0.0, 0.99)) for net in (generator, discriminator))
    for optimizer in (g_optim, d_optim):
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.grad = torch.zeros_like(p)
        optimizer.step()
    args = argparse.Namespace(path="lmdb", iter=800000, batch=16, size=generator.config.resolution, channel_multiplier=2, r1=10.0)
    return {
        "g": rosinality_state(generator), "d": rosinality_discriminator_state(discriminator), "g_ema": rosinality_state(generator),
        "g_optim": g_optim.state_dict(), "d_optim": d_optim.state_dict(), "args": args, "ada_aug_p": 0.0,
    }


def test_imported_generator_draws_the_same_images(tmp_path):
    config = GeneratorConfig(resolution=64, **TINY)
    original = randomized_generator(config)
    path = tmp_path / "550000.pt"
    latent_avg = torch.randn(16)
    torch.save({"g_ema": rosinality_state(original), "latent_avg": latent_avg}, path)
    imported = import_gan(path)
    assert imported.generator.config.channels == config.channels and imported.generator.config.conv_clamp is None
    assert imported.source_format == "rosinality" and torch.equal(imported.mean_latent, latent_avg)
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, found = original(z, noise_mode="const"), imported.generator(z, noise_mode="const")
    assert (expected - found).abs().max() <= 1e-4


def test_a_training_checkpoint_with_its_arguments_imports_generator_and_discriminator(tmp_path):
    generator = randomized_generator(GeneratorConfig(resolution=32, **TINY))
    discriminator = randomized_discriminator(DiscriminatorConfig(resolution=32, channel_base=512, channel_max=16))
    path = tmp_path / "010000.pt"
    torch.save(training_checkpoint(generator, discriminator), path)
    imported = import_gan(path)
    assert "training checkpoint" in imported.description and imported.mean_latent is None
    images = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert (imported.discriminator(images) - discriminator(images)).abs().max() <= 1e-4
        z = torch.randn(2, 16, generator=torch.Generator().manual_seed(3))
        assert (imported.generator(z, noise_mode="const") - generator(z, noise_mode="const")).abs().max() <= 1e-4


def test_the_older_zipless_torch_format_imports(tmp_path):
    generator = randomized_generator(GeneratorConfig(resolution=32, **TINY))
    path = tmp_path / "stylegan2-ffhq-config-f.pt"
    torch.save({"g_ema": rosinality_state(generator)}, path, _use_new_zipfile_serialization=False)
    imported = import_gan(path)
    for key, value in generator.state_dict().items():
        assert torch.equal(imported.generator.state_dict()[key], value), key


def test_the_generator_clamps_no_activation_as_rosinality_does(tmp_path):
    config = GeneratorConfig(resolution=32, **TINY)
    original = randomized_generator(config)
    with torch.no_grad():
        original.synthesis.to_rgb.bias.fill_(300.0)
    path = tmp_path / "bright.pt"
    torch.save({"g_ema": rosinality_state(original)}, path)
    imported = import_gan(path).generator
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected, found = original(z, noise_mode="const"), imported(z, noise_mode="const")
    assert expected.max() > 256 and (expected - found).abs().max() <= 1e-4


def rosinality_channels(resolution: int, multiplier: int) -> dict[int, int]:
    """rosinality's channel table: 512 up to 32 px, then 256·m at 64, 128·m at 128, ..."""
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * multiplier, 128: 128 * multiplier,
             256: 64 * multiplier, 512: 32 * multiplier, 1024: 16 * multiplier}
    return {res: ch for res, ch in table.items() if res <= resolution}


def _shape_only_state(channels: dict[int, int], style_dim: int = 8, mapping_layers: int = 2) -> dict:
    """The tensors infer_config reads, with rosinality's shapes, as zero-stride views."""
    shapes = {f"style.{i + 1}.weight": (style_dim, style_dim) for i in range(mapping_layers)}
    shapes["input.input"] = (1, channels[4], 4, 4)
    shapes["conv1.conv.weight"] = (1, channels[4], channels[4], 3, 3)
    for b, res in enumerate(list(channels)[1:]):
        shapes[f"convs.{2 * b}.conv.weight"] = (1, channels[res], channels[res // 2], 3, 3)
        shapes[f"convs.{2 * b + 1}.conv.weight"] = (1, channels[res], channels[res], 3, 3)
    return {key: torch.zeros(()).expand(shape) for key, shape in shapes.items()}


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("resolution", [32, 64, 128, 256, 512, 1024])
def test_the_channel_table_is_inferred_at_every_resolution_for_both_multipliers(resolution, multiplier):
    channels = rosinality_channels(resolution, multiplier)
    inferred = infer_config(_shape_only_state(channels), "g.pt")
    assert inferred.channels == channels
    assert (inferred.resolution, inferred.style_dim, inferred.mapping_layers) == (resolution, 8, 2)


def test_an_unsupported_channel_table_is_refused_naming_it():
    with pytest.raises(InvertFillError, match=r"g\.pt: the generator's channels \(4:512 .* 64:1024\) are not min"):
        infer_config(_shape_only_state(rosinality_channels(64, 4)), "g.pt")


def test_missing_and_left_over_tensors_are_refused_by_name(tmp_path):
    generator = randomized_generator(GeneratorConfig(resolution=32, **TINY))
    path = tmp_path / "model.pt"
    state = rosinality_state(generator)
    state["convs.0.conv.extra"] = torch.zeros(3)
    torch.save({"g_ema": state}, path)
    with pytest.raises(InvertFillError, match=r"model\.pt: the generator has 1 tensor\(s\) a StyleGAN2 generator does not: 'convs.0.conv.extra'"):
        import_gan(path)
    del state["convs.0.conv.extra"], state["to_rgbs.0.bias"], state["noises.noise_3"]
    torch.save({"g_ema": state}, path)
    with pytest.raises(InvertFillError, match=r"lacks 2 tensor\(s\) this architecture needs: 'noises.noise_3', 'to_rgbs.0.bias'"):
        import_gan(path)


@pytest.mark.parametrize(
    "removed", ["style.2.weight", "convs.5.conv.weight", "input.input"],
)
def test_a_generator_missing_one_tensor_is_refused_not_imported_as_a_smaller_network(removed, tmp_path):
    """Without its last mapping weight, its last conv weight or its constant input, a file must not
    pass for a shallower mapping, a half-resolution generator, or a file without 'g_ema'."""
    state = rosinality_state(randomized_generator(GeneratorConfig(resolution=32, **TINY)))
    del state[removed]
    torch.save({"g_ema": state}, tmp_path / "broken.pt")
    with pytest.raises(InvertFillError) as refused:
        import_gan(tmp_path / "broken.pt")
    assert f"lacks 1 tensor(s) this architecture needs: {removed!r}" in str(refused.value)


def test_a_discriminator_with_a_left_over_tensor_is_refused(tmp_path):
    generator = randomized_generator(GeneratorConfig(resolution=32, **TINY))
    discriminator = randomized_discriminator(DiscriminatorConfig(resolution=32, channel_base=512, channel_max=16))
    content = training_checkpoint(generator, discriminator)
    content["d"]["convs.1.conv3.0.weight"] = torch.zeros(1)
    torch.save(content, tmp_path / "d.pt")
    with pytest.raises(InvertFillError, match="the discriminator has 1 tensor.*'convs.1.conv3.0.weight'"):
        import_gan(tmp_path / "d.pt")


class Payload:
    """Stands for code that a malicious pickle would run on load."""

    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_refusal_names_the_class_in_one_plain_line(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"g_ema": Payload()}, path)
    with pytest.raises(InvertFillError) as refused:
        import_gan(path)
    message = str(refused.value)
    assert message == "evil.pt was refused: it would run builtins.print"
    assert "\x1b" not in message and "weights_only" not in message and "\n" not in message
    assert "must never run" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [({"g": {"x": torch.zeros(1)}}, "no StyleGAN2 generator"), ([1, 2, 3], "no StyleGAN2 generator")],
)
def test_files_without_a_generator_are_refused(tmp_path, content, message):
    path = tmp_path / "other.pt"
    torch.save(content, path)
    with pytest.raises(InvertFillError, match=message):
        import_gan(path)


@pytest.mark.parametrize("zipless", [False, True])
def test_missing_and_truncated_files_are_refused_in_one_line(tmp_path, zipless):
    with pytest.raises(InvertFillError, match="does not exist"):
        import_gan(tmp_path / "absent.pt")
    path = tmp_path / "model.pt"
    torch.save({"g_ema": rosinality_state(Generator(GeneratorConfig(resolution=32, **TINY)))}, path, _use_new_zipfile_serialization=not zipless)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InvertFillError, match=r"truncated\.pt is not a readable PyTorch file \(truncated or corrupt\)") as refused:
        import_gan(truncated)
    assert "\n" not in str(refused.value)


def test_a_generator_trained_with_another_blur_kernel_is_refused(tmp_path):
    state = rosinality_state(Generator(GeneratorConfig(resolution=32, **TINY)))
    state["convs.0.conv.blur.kernel"] = setup_filter([1, 2, 1]) * 4
    path = tmp_path / "model.pt"
    torch.save({"g_ema": state}, path)
    with pytest.raises(InvertFillError, match="other resampling filters are not supported"):
        import_gan(path)
