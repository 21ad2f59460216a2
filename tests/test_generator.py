"""StyleGAN2 generator and discriminator: shapes, styles, noise, mixing, truncation, derivatives."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from core.nn.config import DiscriminatorConfig, GeneratorConfig
from core.nn.discriminator import Discriminator, minibatch_stddev
from core.nn.generator import Generator
from core.nn.layers import ModulatedConv2d, StyledConv
from core.ops import setup_filter, upfirdn2d


@pytest.mark.parametrize("resolution", [32, 64, 128, 256])
def test_generator_and_discriminator_shapes_at_each_resolution(resolution, tiny_generator_config):
    config = tiny_generator_config(resolution)
    assert config.num_styles == 2 * int(math.log2(resolution)) - 2
    generator = Generator(config)
    ws = generator.styles(torch.randn(2, config.style_dim))
    assert ws.shape == (2, config.num_styles, config.style_dim)
    image = generator.synthesis(ws)
    assert image.shape == (2, 3, resolution, resolution)
    assert torch.isfinite(image).all()
    disc = Discriminator(DiscriminatorConfig(resolution=resolution, channel_base=config.channel_base, channel_max=16))
    assert disc(image).shape == (2, 1)


def test_channel_table_follows_channel_base_and_max():
    assert GeneratorConfig(resolution=256).channels == {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64}
    assert GeneratorConfig(resolution=256, channel_base=32768).channels[64] == 512
    assert GeneratorConfig(resolution=256, channel_base=32768).channels[256] == 128


def test_modulated_conv_equals_per_sample_demodulated_weight():
    torch.manual_seed(0)
    x, w = torch.randn(2, 6, 8, 8), torch.randn(2, 10)
    for up in (False, True):
        layer = ModulatedConv2d(6, 5, 3, 10, up=up)
        styles = layer.modulation(w)
        weight = layer.weight[None] * layer.scale * styles[:, None, :, None, None]
        weight = weight * torch.rsqrt(weight.square().sum([2, 3, 4]) + 1e-8)[:, :, None, None, None]
        if up:
            expected = torch.cat([F.conv_transpose2d(x[i : i + 1], weight[i].transpose(0, 1), stride=2) for i in range(2)])
            expected = upfirdn2d(expected, setup_filter([1, 3, 3, 1]), padding=1, gain=4)
        else:
            expected = torch.cat([F.conv2d(x[i : i + 1], weight[i], padding=1) for i in range(2)])
        torch.testing.assert_close(layer(x, w), expected, atol=1e-5, rtol=1e-5)


def test_noise_modes(tiny_generator_config):
    generator = Generator(tiny_generator_config(32))
    with torch.no_grad():
        for block in generator.synthesis.blocks:
            block.conv0.noise_strength.fill_(0.5)
        ws = generator.styles(torch.randn(1, generator.config.style_dim))
        const = [generator.synthesis(ws, "const") for _ in range(2)]
        random = [generator.synthesis(ws, "random") for _ in range(2)]
        silent = generator.synthesis(ws, "none")
    assert torch.equal(const[0], const[1])
    assert not torch.equal(random[0], random[1])
    assert not torch.equal(silent, const[0])


def test_style_mixing_switches_to_a_second_latent_after_the_crossover(tiny_generator_config):
    generator = Generator(tiny_generator_config(64))
    g = torch.Generator().manual_seed(1)
    ws = generator.styles(torch.randn(8, generator.config.style_dim, generator=g), mixing_prob=1.0, generator=g)
    for sample in ws:
        changed = [not torch.equal(sample[i], sample[0]) for i in range(generator.num_styles)]
        crossover = changed.index(True)
        assert 1 <= crossover < generator.num_styles
        assert all(changed[crossover:]) and not any(changed[:crossover])
        assert torch.equal(sample[crossover:], sample[crossover:crossover + 1].expand_as(sample[crossover:]))
    unmixed = generator.styles(torch.randn(4, generator.config.style_dim), mixing_prob=0.0)
    assert torch.equal(unmixed, unmixed[:, :1].expand_as(unmixed))


def test_truncation_interpolates_towards_the_given_latent(tiny_generator_config):
    generator = Generator(tiny_generator_config(32))
    z = torch.randn(3, generator.config.style_dim)
    mean = generator.mean_latent(64, generator=torch.Generator().manual_seed(0))
    assert mean.shape == (generator.config.style_dim,)
    assert torch.equal(mean, generator.mean_latent(64, generator=torch.Generator().manual_seed(0)))
    torch.testing.assert_close(generator.styles(z, truncation=0.0, truncation_latent=mean), mean.expand(3, generator.num_styles, -1))
    half = generator.styles(z, truncation=0.5, truncation_latent=mean)
    torch.testing.assert_close(half, (generator.styles(z) + mean) / 2)
    with pytest.raises(ValueError):
        generator.styles(z, truncation=0.5)


def test_minibatch_stddev_groups_divide_the_batch():
    x = torch.randn(6, 5, 4, 4)
    y = minibatch_stddev(x, group_size=4)
    assert y.shape == (6, 6, 4, 4)
    assert torch.equal(y[:, :5], x)
    groups = x.reshape(3, 2, 5, 4, 4)
    expected = (groups.var(0, unbiased=False) + 1e-8).sqrt().mean([1, 2, 3])
    torch.testing.assert_close(y[:2, 5, 0, 0], expected)
    torch.testing.assert_close(y[2:4, 5, 0, 0], expected)


def test_path_length_and_r1_double_backward_reach_the_weights(tiny_generator_config):
    generator = Generator(tiny_generator_config(32))
    ws = generator.styles(torch.randn(2, generator.config.style_dim)).detach().requires_grad_()
    image = generator.synthesis(ws)
    (grad_ws,) = torch.autograd.grad((image * torch.randn_like(image)).sum(), ws, create_graph=True)
    grad_ws.square().sum().backward()
    assert generator.synthesis.blocks[0].conv0.conv.weight.grad.abs().sum() > 0

    disc = Discriminator(DiscriminatorConfig(resolution=32, channel_base=4096, channel_max=16))
    real = torch.randn(4, 3, 32, 32, requires_grad=True)
    (grad_real,) = torch.autograd.grad(disc(real).sum(), real, create_graph=True)
    grad_real.square().sum().backward()
    assert disc.from_rgb.weight.grad.abs().sum() > 0
    assert disc.blocks[0].conv2.weight.grad.abs().sum() > 0


def test_generator_runs_in_bfloat16_close_to_float32(tiny_generator_config):
    generator = Generator(tiny_generator_config(32))
    ws = generator.styles(torch.randn(2, generator.config.style_dim))
    with torch.no_grad():
        full = generator.synthesis(ws, "const")
        half = generator.to(torch.bfloat16).synthesis(ws.bfloat16(), "const")
    assert half.dtype == torch.bfloat16
    assert (half.float() - full).abs().max() < 0.1 * full.abs().max()


class RecordRsqrtDtypes(TorchFunctionMode):
    """Records the dtype of every torch.rsqrt result (pixel norm and demodulation)."""

    def __init__(self) -> None:
        super().__init__()
        self.dtypes: list[torch.dtype] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is torch.rsqrt:
            self.dtypes.append(out.dtype)
        return out


def _precision_check(generator: Generator, device: str, dtype: torch.dtype) -> None:
    """Mapping, styles and demodulation stay float32 under autocast; the image stays close to float32."""
    z = torch.randn(4, generator.config.style_dim, device=device)
    styles = []
    hooks = [m.modulation.register_forward_hook(lambda m, i, o: styles.append(o.dtype)) for m in generator.modules() if isinstance(m, ModulatedConv2d)]
    with torch.no_grad():
        full = generator(z, noise_mode="const")
        styles.clear()
        with torch.autocast(device, dtype=dtype), RecordRsqrtDtypes() as record:
            w = generator.mapping(z)
            half = generator.synthesis(generator.styles(z), "const")
    for hook in hooks:
        hook.remove()
    assert w.dtype == torch.float32
    assert styles and set(styles) == {torch.float32}
    assert record.dtypes and set(record.dtypes) == {torch.float32}
    assert half.dtype == dtype
    assert ((half.float() - full).norm() / full.norm()) < 2e-2


def test_mapping_styles_and_demodulation_stay_float32_under_cpu_bfloat16_autocast(tiny_generator_config):
    _precision_check(Generator(tiny_generator_config(32)), "cpu", torch.bfloat16)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_mapping_styles_and_demodulation_stay_float32_under_cuda_autocast(dtype):
    _precision_check(Generator(GeneratorConfig(resolution=256)).cuda(), "cuda", dtype)


def test_conv_clamp_applies_in_float32_too():
    layer = StyledConv(4, 4, 8, 8, conv_clamp=0.5)
    with torch.no_grad():
        layer.bias.fill_(10.0)
        out = layer(torch.randn(2, 4, 8, 8), torch.randn(2, 8))
    assert out.dtype == torch.float32 and out.max() == 0.5


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_generator_at_256_runs_in_half_precision_on_cuda(dtype):
    generator = Generator(GeneratorConfig(resolution=256)).cuda().eval()
    ws = generator.styles(torch.randn(4, 512, device="cuda"))
    with torch.no_grad():
        full = generator.synthesis(ws, "const")
        half = generator.to(dtype).synthesis(ws.to(dtype), "const")
    assert half.dtype == dtype and torch.isfinite(half).all()
    assert ((half.float() - full).norm() / full.norm()) < 1e-2


def test_the_same_generator_seed_gives_the_same_noise_and_style_mixing(tiny_generator_config):
    generator = Generator(tiny_generator_config(32))
    with torch.no_grad():
        for module in generator.modules():
            if isinstance(module, StyledConv):
                module.noise_strength.fill_(0.5)
    z = torch.randn(4, generator.config.style_dim, generator=torch.Generator().manual_seed(0))

    def draw(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            ws = generator.styles(z, mixing_prob=0.9, generator=torch.Generator().manual_seed(seed))
            image = generator(z, mixing_prob=0.9, noise_mode="random", generator=torch.Generator().manual_seed(seed))
        return ws, image

    ws, image = draw(1)
    torch.manual_seed(99)
    torch.randn(1000)
    ws_again, image_again = draw(1)
    ws_other, image_other = draw(2)
    assert torch.equal(ws, ws_again) and torch.equal(image, image_again)
    assert not torch.equal(ws, ws_other) and not torch.equal(image, image_other)
