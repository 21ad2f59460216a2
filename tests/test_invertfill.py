"""The InvertFill model: encoder, pre-modulation, F&W+ RGB branch, SML, ablations, gradients."""

import pytest
import torch

from core.errors import InvertFillError
from core.nn.config import InvertFillConfig
from core.nn.invertfill import InvertFill
from core.nn.pre_modulation import instance_norm, style_levels
from core.nn.soft_mean_latent import SoftMeanLatent


def masked_batch(resolution: int, n: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, resolution, resolution, generator=g) * 2 - 1
    mask = torch.zeros(n, 1, resolution, resolution)
    mask[:, :, resolution // 4 : resolution // 2, resolution // 8 :] = 1
    return image, mask


@pytest.mark.parametrize("resolution", [32, 64, 128, 256])
def test_forward_shapes(resolution, tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(resolution))
    model.reset_mean_latent()
    image, mask = masked_batch(resolution)
    out = model(image * (1 - mask), mask)
    style_dim, num_styles = model.config.generator.style_dim, model.config.generator.num_styles
    assert out.output.shape == out.composite.shape == (2, 3, resolution, resolution)
    assert out.latents.shape == (2, num_styles, style_dim)
    assert [o.shape[-1] for o in out.encoder_images] == [resolution // 16, resolution // 8, resolution // 4]
    assert all(o.shape[:2] == (2, 3) for o in out.encoder_images)


def test_composite_keeps_known_pixels_exactly_and_takes_the_output_in_the_hole(tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(32))
    image, mask = masked_batch(32)
    out = model(image, mask)
    known = mask.expand_as(image) == 0
    assert torch.equal(out.composite[known], image[known])
    assert torch.equal(out.composite[~known], out.output[~known])


def test_encoder_ignores_the_hidden_pixels(tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(32))
    image, mask = masked_batch(32)
    other = torch.where(mask > 0, -image, image)
    a, b = model(image, mask, "const"), model(other, mask, "const")
    assert torch.equal(a.output, b.output)


def test_fresh_rgb_branch_leaves_the_generator_output_unchanged(tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(64))
    image, mask = masked_batch(64)
    ws = model.generator.styles(torch.randn(2, model.config.generator.style_dim))
    features = model.rgb_branch(torch.cat([image * (1 - mask), mask], 1))
    assert [f.shape[1] for f in features] == list(model.config.generator.channels.values())
    with torch.no_grad():
        plain = model.generator.synthesis(ws, "const")
        fed = model.generator.synthesis(ws, "const", features)
    assert torch.equal(plain, fed)


def test_rgb_branch_changes_the_output_after_one_optimizer_step(tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(64))
    model.freeze_generator()
    image, mask = masked_batch(64)
    ws = model.generator.styles(torch.randn(2, model.config.generator.style_dim)).detach()
    x = torch.cat([image * (1 - mask), mask], 1)
    with torch.no_grad():
        before = model.generator.synthesis(ws, "const", model.rgb_branch(x))
    optimizer = torch.optim.Adam(model.rgb_branch.parameters(), lr=1e-2)
    (model.generator.synthesis(ws, "const", model.rgb_branch(x)) - image).abs().mean().backward()
    optimizer.step()
    with torch.no_grad():
        after = model.generator.synthesis(ws, "const", model.rgb_branch(x))
    assert (after - before).abs().max() > 1e-4


def _stage2_step(model: InvertFill, image: torch.Tensor, mask: torch.Tensor) -> None:
    out = model(image * (1 - mask), mask, "const")
    loss = (out.output - image).abs().mean() + sum(o.square().mean() for o in out.encoder_images)
    (loss + (out.latents - model.soft_mean_latent.value).norm(dim=-1).mean()).backward()


def test_gradients_reach_encoder_premodulation_and_rgb_branch_but_not_a_frozen_generator(tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(64))
    model.reset_mean_latent()
    model.freeze_generator()
    image, mask = masked_batch(64)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=1e-2)
    _stage2_step(model, image, mask)
    assert all(p.grad is None for p in model.generator.parameters())
    for name, module in [("pre_modulation", model.pre_modulation), ("rgb_branch.outputs", model.rgb_branch.outputs)]:
        for param_name, param in module.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, f"{name}.{param_name}"
    optimizer.step()
    optimizer.zero_grad()
    _stage2_step(model, image, mask)
    for name, module in [("encoder", model.encoder), ("rgb_branch", model.rgb_branch)]:
        for param_name, param in module.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, f"{name}.{param_name}"


@pytest.mark.parametrize(
    "ablation, has_branch, has_premod",
    [({}, True, True), ({"latent_space": "w+"}, False, True), ({"premod": False}, True, False), ({"sml": False}, True, True)],
)
def test_ablation_configs_build_and_run(ablation, has_branch, has_premod, tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(64, **ablation))
    assert (model.rgb_branch is not None) == has_branch
    assert (model.pre_modulation is not None) == has_premod
    assert (model.encoder.map2structure is not None) == has_premod
    assert model.soft_mean_latent.tau == (0.0 if ablation.get("sml") is False else model.config.soft_mean_latent.tau)
    model.reset_mean_latent()
    image, mask = masked_batch(64)
    out = model(image * (1 - mask), mask)
    assert out.output.shape == (2, 3, 64, 64) and torch.isfinite(out.output).all()


def test_latent_space_must_be_known():
    with pytest.raises(InvertFillError, match="latent_space"):
        InvertFillConfig(latent_space="z")


def test_without_premodulation_latents_are_the_level_styles_plus_the_mean(tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(64, premod=False))
    model.reset_mean_latent()
    image, mask = masked_batch(64)
    x = torch.cat([image * (1 - mask), mask], 1)
    styles = model.encoder(x).styles
    latents = model(image, mask).latents
    for l, r in enumerate(style_levels(model.config.generator.num_styles)):
        torch.testing.assert_close(latents[:, l], styles[:, r] + model.soft_mean_latent.value)


def test_premodulation_follows_equation_1(tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(64))
    pm = model.pre_modulation
    with torch.no_grad():
        for p in pm.parameters():
            p.normal_()
    styles, structure, mean = torch.randn(2, 3, 16), torch.randn(2, 3, 16), torch.randn(16)
    out = pm(styles, structure, mean)
    levels = style_levels(out.shape[1])
    for l in (0, 5, 9):
        r = levels[l]
        gamma = structure[:, r] @ (pm.gamma_weight[l] * pm.scale).t() + pm.gamma_bias[l]
        beta = structure[:, r] @ (pm.beta_weight[l] * pm.scale).t() + pm.beta_bias[l]
        torch.testing.assert_close(out[:, l], gamma * instance_norm(styles[:, r]) + beta + mean)
    normed = instance_norm(styles)
    torch.testing.assert_close(normed.mean(-1), torch.zeros(2, 3), atol=1e-6, rtol=0)
    torch.testing.assert_close(normed.var(-1, unbiased=False), torch.ones(2, 3), atol=1e-3, rtol=0)


def test_style_levels_follow_psp_coarse_middle_fine_split():
    assert style_levels(14) == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2]
    assert style_levels(10) == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]


@pytest.mark.parametrize("premod", [True, False])
def test_a_fresh_model_starts_from_the_mean_latent_and_the_generators_mean_image(premod, tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(64, premod=premod))
    model.reset_mean_latent()
    image, mask = masked_batch(64)
    out = model(image * (1 - mask), mask, "const")
    mean = model.soft_mean_latent.value
    assert torch.equal(out.latents, mean.expand_as(out.latents))
    mean_image = model.generator.synthesis(mean.expand_as(out.latents), "const")
    torch.testing.assert_close(out.output, mean_image, rtol=0, atol=1e-6)


@pytest.mark.parametrize("premod", [True, False])
def test_a_fresh_model_moves_off_the_mean_latent_after_one_step(premod, tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(64, premod=premod))
    model.reset_mean_latent()
    model.freeze_generator()
    image, mask = masked_batch(64)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        out = model(image * (1 - mask), mask, "const")
        (out.output - image).abs().mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    latents = model(image * (1 - mask), mask, "const").latents
    assert (latents - model.soft_mean_latent.value).abs().max() > 1e-3


def _mapping(style_dim: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(style_dim, style_dim), torch.nn.LeakyReLU(0.2))


def test_sml_soft_update_moves_online_towards_target():
    sml = SoftMeanLatent(8, tau=0.1, samples=16, tolerance=1e-3)
    mapping = _mapping(8)
    sml.reset(mapping, torch.Generator().manual_seed(0))
    online, target = sml.online.clone(), sml.target.clone()
    assert not torch.equal(online, target)
    assert sml.step(mapping) is False
    torch.testing.assert_close(sml.online, 0.1 * target + 0.9 * online)
    assert torch.equal(sml.target, target)


def test_sml_resamples_the_target_once_reached():
    sml = SoftMeanLatent(8, tau=0.5, samples=16, tolerance=0.05)
    mapping = _mapping(8)
    sml.reset(mapping, torch.Generator().manual_seed(0))
    first_target = sml.target.clone()
    steps = 0
    while not sml.step(mapping, torch.Generator().manual_seed(steps + 1)):
        steps += 1
        assert steps < 100
    assert not torch.equal(sml.target, first_target)
    assert torch.linalg.vector_norm(sml.online - first_target) <= 0.05 * torch.linalg.vector_norm(first_target)


def test_sml_with_tau_zero_is_a_static_mean_latent():
    sml = SoftMeanLatent(8, tau=0.0, samples=16, tolerance=0.5)
    mapping = _mapping(8)
    sml.reset(mapping)
    online = sml.online.clone()
    for _ in range(5):
        assert sml.step(mapping) is False
    assert torch.equal(sml.online, online)


def test_the_same_generator_seed_gives_the_same_fill_with_random_noise(tiny_invertfill_config):
    model = InvertFill(tiny_invertfill_config(32)).eval()
    model.reset_mean_latent(torch.Generator().manual_seed(0))
    with torch.no_grad():
        for name, p in model.generator.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)
    image, mask = masked_batch(32)

    def fill(seed: int) -> torch.Tensor:
        with torch.no_grad():
            return model(image * (1 - mask), mask, "random", generator=torch.Generator().manual_seed(seed)).output

    first = fill(1)
    torch.manual_seed(99)
    torch.randn(1000)
    assert torch.equal(fill(1), first)
    assert not torch.equal(fill(2), first)
