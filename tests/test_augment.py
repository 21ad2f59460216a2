"""Adaptive discriminator augmentation: the pipeline's exactness where nothing is drawn, its
coordinate conventions, randomness and gradients, and the controller's adjustments of p."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from training.augment import AdaptiveAugment, AugmentController, apply_color, sample_color_matrices, warp

GROUPS = {"both": {}, "geometric": {"color": False}, "color": {"geometric": False}}


def _images(n: int = 4, size: int = 32, seed: int = 0) -> Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _matrix(*rows: list[float]) -> Tensor:
    return torch.tensor(rows)[None]


def test_zero_probability_is_exact_identity() -> None:
    x = _images()
    assert torch.equal(AdaptiveAugment(p=0.0)(x), x)
    augment = AdaptiveAugment(p=0.5)
    augment.p.fill_(0.0)
    assert torch.equal(augment(x), x)


@pytest.mark.parametrize("group", GROUPS)
def test_full_probability_changes_every_image(group: str) -> None:
    torch.manual_seed(1)
    x = _images()
    y = AdaptiveAugment(p=1.0, **GROUPS[group])(x)
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()
    assert all(not torch.equal(a, b) for a, b in zip(y, x))


@pytest.mark.parametrize("group", ["geometric", "color"])
def test_images_with_every_transform_skipped_pass_through_unchanged(group: str) -> None:
    torch.manual_seed(2)
    x = _images(n=64, size=8)
    y = AdaptiveAugment(p=0.05, **GROUPS[group])(x)
    unchanged = sum(torch.equal(a, b) for a, b in zip(y, x))
    assert 0 < unchanged < len(x)


def test_output_follows_the_given_generator_and_ignores_the_global_rng() -> None:
    x, augment = _images(), AdaptiveAugment(p=0.7)
    first = augment(x, torch.Generator().manual_seed(3))
    torch.manual_seed(99)
    torch.randn(1000)
    assert torch.equal(augment(x, torch.Generator().manual_seed(3)), first)
    assert not torch.equal(augment(x, torch.Generator().manual_seed(4)), first)


def test_gradients_reach_the_input_and_support_r1() -> None:
    torch.manual_seed(5)
    x = _images().requires_grad_()
    y = AdaptiveAugment(p=1.0)(x)
    weight = torch.randn_like(y, requires_grad=True)
    (grad,) = torch.autograd.grad((y * weight).sum(), x, create_graph=True)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    grad.square().sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0


def test_autocast_keeps_the_input_dtype_and_gradients() -> None:
    torch.manual_seed(6)
    x = _images().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = AdaptiveAugment(p=1.0)(x)
    assert y.dtype == torch.float32 and torch.isfinite(y).all()
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_warp_conventions_flip_rotate_and_shift_whole_pixels() -> None:
    x = _images(n=1, size=8)
    x_flip = _matrix([-1.0, 0, 0], [0, 1, 0], [0, 0, 1])
    torch.testing.assert_close(warp(x, x_flip), x.flip(3), atol=1e-6, rtol=0)
    quarter_turn = _matrix([0.0, -1, 0], [1, 0, 0], [0, 0, 1])
    torch.testing.assert_close(warp(x, quarter_turn), torch.rot90(x, 1, (2, 3)), atol=1e-6, rtol=0)
    shift_right = _matrix([1.0, 0, -1], [0, 1, 0], [0, 0, 1])
    shifted = warp(x, shift_right)
    torch.testing.assert_close(shifted[..., 1:], x[..., :-1], atol=1e-6, rtol=0)
    torch.testing.assert_close(shifted[..., 0], x[..., 0], atol=1e-6, rtol=0)


def test_geometric_augmentation_of_a_constant_image_stays_constant() -> None:
    torch.manual_seed(7)
    x = torch.full((8, 3, 32, 32), 0.3)
    y = AdaptiveAugment(p=1.0, color=False)(x)
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


def test_mid_gray_keeps_its_mean_brightness_over_many_copies() -> None:
    torch.manual_seed(8)
    y = AdaptiveAugment(p=1.0)(torch.zeros(512, 3, 8, 8))
    assert y.std() > 0.1
    assert y.mean(dim=(0, 2, 3)).abs().max() < 0.05


def test_color_matrices_keep_gray_on_the_luma_axis_without_brightness_and_contrast() -> None:
    torch.manual_seed(9)
    matrix = sample_color_matrices(16, 1.0, torch.device("cpu"))
    gray = torch.full((16, 3, 1, 1), 0.5)
    out = apply_color(gray, matrix)
    torch.testing.assert_close(out, out.mean(dim=1, keepdim=True).expand_as(out), atol=1e-5, rtol=0)


def test_probability_travels_with_the_state_dict() -> None:
    restored = AdaptiveAugment()
    restored.load_state_dict(AdaptiveAugment(p=0.25).state_dict())
    assert restored.p.item() == 0.25


def _run_interval(
    controller: AugmentController, augment: AdaptiveAugment, logits: Tensor, first_step: int, **update_args
) -> list[float | None]:
    """Accumulate `logits` and update on each of `controller.interval` steps from `first_step`."""
    results = []
    for step in range(first_step, first_step + controller.interval):
        controller.accumulate(logits)
        results.append(controller.update(augment, step, len(logits), **update_args))
    return results


def test_controller_raises_p_only_on_interval_steps_when_the_discriminator_is_overconfident() -> None:
    controller, augment = AugmentController(interval=4, adjust_images=1000), AdaptiveAugment()
    results = _run_interval(controller, augment, torch.ones(8, 1), first_step=1)
    assert results == [None, None, None, 1.0]
    assert augment.p.item() == pytest.approx(4 * 8 / 1000)


def test_controller_lowers_p_down_to_zero_but_never_below() -> None:
    controller, augment = AugmentController(interval=4, adjust_images=1000), AdaptiveAugment(p=0.05)
    logits = torch.tensor([1.0, -1.0, -1.0, -1.0, 2.0, -3.0, -0.5, 0.5])
    assert _run_interval(controller, augment, logits, first_step=1)[-1] == pytest.approx(-0.25)
    assert augment.p.item() == pytest.approx(0.05 - 0.032)
    _run_interval(controller, augment, logits, first_step=5)
    assert augment.p.item() == 0.0


def test_controller_clamps_p_below_one() -> None:
    controller, augment = AugmentController(interval=1, adjust_images=10), AdaptiveAugment(p=0.99)
    controller.accumulate(torch.ones(8))
    controller.update(augment, 1, 8)
    assert 0.99 < augment.p.item() < 1.0


def test_controller_skips_an_interval_step_with_nothing_accumulated() -> None:
    controller, augment = AugmentController(interval=2), AdaptiveAugment(p=0.3)
    assert controller.update(augment, 2, 8) is None
    assert augment.p.item() == pytest.approx(0.3)


def test_controller_resets_its_accumulators_after_each_update() -> None:
    controller, augment = AugmentController(interval=2, adjust_images=1000), AdaptiveAugment()
    assert _run_interval(controller, augment, torch.ones(4), first_step=1)[-1] == 1.0
    assert _run_interval(controller, augment, -torch.ones(4), first_step=3)[-1] == -1.0


def test_controller_uses_the_reduced_statistics() -> None:
    logits = torch.tensor([1.0, 1.0, 1.0, -1.0])
    doubled = AugmentController(interval=1, adjust_images=100), AdaptiveAugment()
    doubled[0].accumulate(logits)
    assert doubled[0].update(doubled[1], 1, 4, reduce=lambda stats: stats * 2) == 0.5

    flipped = AugmentController(interval=1, adjust_images=100), AdaptiveAugment(p=0.5)
    flipped[0].accumulate(torch.ones(4))
    assert flipped[0].update(flipped[1], 1, 4, reduce=lambda stats: stats * torch.tensor([-1.0, 1.0])) == -1.0
    assert flipped[1].p.item() == pytest.approx(0.5 - 4 / 100)


def test_controller_state_dict_round_trip() -> None:
    controller = AugmentController(interval=4, adjust_images=1000)
    controller.accumulate(torch.tensor([1.0, -1.0, 1.0]))
    state = controller.state_dict()
    assert all(type(value) is float for value in state.values())
    restored = AugmentController(interval=4, adjust_images=1000)
    restored.load_state_dict(state)
    augments = AdaptiveAugment(), AdaptiveAugment()
    controller.accumulate(torch.ones(5))
    restored.accumulate(torch.ones(5))
    assert controller.update(augments[0], 4, 4) == restored.update(augments[1], 4, 4) == pytest.approx(6 / 8)
    assert augments[0].p.item() == augments[1].p.item() > 0
