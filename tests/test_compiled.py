"""Compiled training steps (training.compiled): the same losses and gradients as eager, and eager training where compiling cannot run."""

import copy
import os

import pytest
import torch
from conftest import make_tiny_generator_config, make_tiny_invertfill_config

from core.nn.config import DiscriminatorConfig
from core.nn.discriminator import Discriminator
from core.nn.generator import Generator
from core.nn.invertfill import InvertFill
from training import compiled
from training.config import EncoderTrainConfig, GanTrainConfig
from training.distributed import DistributedContext
from training.stage1 import Stage1Trainer
from training.stage2 import Stage2Trainer

COMPILES = pytest.mark.skipif(
    os.environ.get("INVERTFILL_COMPILE_TESTS") != "1",
    reason="compiles with inductor for minutes (tens under load), longer than CI's suite budget; "
    "INVERTFILL_COMPILE_TESTS=1 runs it, as before turning `compile` on in a recipe",
)

CPU = DistributedContext(0, 1, torch.device("cpu"))


@pytest.fixture(autouse=True)
def fresh_notes():
    """Each test sees the one-line note afresh."""
    compiled.say_uncompiled.cache_clear()
    yield
    compiled.say_uncompiled.cache_clear()


def stage2_trainer(compile: bool, model: InvertFill, discriminator: Discriminator) -> Stage2Trainer:
    config = EncoderTrainConfig(
        model=model.config, backbone="discriminator", batch=2, workers=0, masks={"hard": 1.0}, mixed_precision=False, compile=compile,
    )
    return Stage2Trainer(config, CPU, copy.deepcopy(model), copy.deepcopy(discriminator), finetune=False)


@pytest.fixture(scope="module")
def tiny_stage2():
    torch.manual_seed(0)
    model = InvertFill(make_tiny_invertfill_config(32))
    model.reset_mean_latent(torch.Generator().manual_seed(0))
    for name, p in model.named_parameters():
        if not name.startswith("generator"):
            p.data.normal_(0, 0.1)
    discriminator = Discriminator(DiscriminatorConfig(resolution=32, channel_base=4096, channel_max=16))
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return model, discriminator, images


def stage1_trainer(compile: bool) -> Stage1Trainer:
    config = GanTrainConfig(
        generator=make_tiny_generator_config(32), discriminator=DiscriminatorConfig(resolution=32, channel_base=4096, channel_max=16),
        batch=2, workers=0, mixed_precision=False, compile=compile,
    )
    trainer = Stage1Trainer(config, CPU)
    trainer.augment.p.fill_(0.5)
    return trainer


def values(losses: dict[str, torch.Tensor]) -> dict[str, float]:
    return {name: value.item() for name, value in losses.items()}


def gradients(parameters) -> list[torch.Tensor]:
    return [p.grad.clone() for p in parameters if p.grad is not None]


def assert_close_lists(a: list[torch.Tensor], b: list[torch.Tensor]) -> None:
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-3, atol=1e-5)


def test_without_a_cpp_compiler_training_runs_uncompiled_after_one_line(tiny_stage2, capsys):
    model, discriminator, images = tiny_stage2
    with torch._inductor.config.patch({"cpp.cxx": (None, "/nonexistent/c++")}):
        asked, eager = stage2_trainer(True, model, discriminator), stage2_trainer(False, model, discriminator)
        gan = stage1_trainer(True)
    assert asked.loss.compiled is None and gan.generator_main.compiled is None and gan.discriminator_main.compiled is None
    assert capsys.readouterr().err.splitlines() == ["note: training runs uncompiled: no C++ compiler for torch.compile (set CXX or install g++)"]
    assert values(asked.train_step(images)) == values(eager.train_step(images))
    assert torch.isfinite(gan.train_step(images)["D"])


def test_a_failing_compile_falls_back_to_the_very_same_eager_step(tiny_stage2, monkeypatch, capsys):
    def broken_compile(fn, **options):
        def run(*args):
            generator = next(a for a in args if isinstance(a, torch.Generator))
            torch.rand(5, generator=generator)
            fn(*args)[0].backward()
            raise RuntimeError("backend exploded\nwith details")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    model, discriminator, images = tiny_stage2
    failing, eager = stage2_trainer(True, model, discriminator), stage2_trainer(False, model, discriminator)
    assert values(failing.train_step(images)) == values(eager.train_step(images))
    for a, b in zip(failing.model.parameters(), eager.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert failing.loss.compiled is None
    assert capsys.readouterr().err.splitlines() == ["note: training runs uncompiled: RuntimeError: backend exploded"]


@pytest.mark.slow
@pytest.mark.timeout(1200)
@COMPILES
def test_a_compiled_stage2_step_gives_the_eager_losses_and_gradients(tiny_stage2):
    model, discriminator, images = tiny_stage2
    results = {}
    for compile in (False, True):
        trainer = stage2_trainer(compile, model, discriminator)
        mask = trainer.batch_masks(images.shape[0])
        total, terms = trainer.loss(images, mask, torch.Generator().manual_seed(3))
        results[compile] = [total.detach(), *(t.detach() for t in terms.values())], gradients(trainer.parameters)
        assert (trainer.loss.compiled is not None) == compile
        assert trainer.state_dict()["model"].keys() == model.state_dict().keys()
    assert_close_lists(results[True][0], results[False][0])
    assert_close_lists(results[True][1], results[False][1])


@pytest.mark.slow
@pytest.mark.timeout(1200)
@COMPILES
def test_compiled_stage1_main_steps_give_the_eager_losses_and_gradients():
    results = {}
    for compile in (False, True):
        trainer = stage1_trainer(compile)
        trainer.discriminator.requires_grad_(False)
        (loss_g,) = trainer.generator_main(2, torch.Generator().manual_seed(3))
        generator_gradients = gradients(trainer.generator.parameters())
        trainer.generator.requires_grad_(False)
        trainer.discriminator.requires_grad_(True)
        real = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(4)) * 2 - 1
        loss_d, logits = trainer.discriminator_main(real, torch.Generator().manual_seed(5))
        results[compile] = [loss_g.detach(), loss_d.detach(), logits.detach()], generator_gradients, gradients(trainer.discriminator.parameters())
        assert (trainer.discriminator_main.compiled is not None) == compile
        assert trainer.state_dict()["generator"].keys() == Generator(trainer.config.generator).state_dict().keys()
    for compiled_values, eager_values in zip(results[True], results[False], strict=True):
        assert_close_lists(compiled_values, eager_values)
