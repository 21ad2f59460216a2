"""Shared pytest setup: Triton's CPU interpreter, markers, and skipping CUDA-only tests."""

from __future__ import annotations

import os

import pytest
import torch

# Without CUDA the fused Triton kernels run on CPU tensors through Triton's interpreter.
# Triton reads this variable when it is imported, so it is set here, before any test
# module (or the code under test) imports triton.
if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cuda: needs a CUDA device; skipped without one")
    config.addinivalue_line("markers", "slow: long-running; CI still runs it unless the suite gets too long")
    config.addinivalue_line("markers", "gui: drives the Qt front end (offscreen)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip_cuda = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip_cuda)


TINY_STYLE_DIM = 16


@pytest.fixture
def tiny_generator_config():
    """Factory: a StyleGAN2 config at `resolution` with 16-dim styles and at most 16 channels."""
    from core.config import GeneratorConfig

    def make(resolution: int = 32, **overrides) -> GeneratorConfig:
        settings = dict(resolution=resolution, style_dim=TINY_STYLE_DIM, mapping_layers=2, channel_base=4096, channel_max=16)
        return GeneratorConfig(**{**settings, **overrides})

    return make


@pytest.fixture
def tiny_invertfill_config(tiny_generator_config):
    """Factory: a whole InvertFill config at `resolution`, small enough for CPU tests."""
    from core.config import EncoderConfig, InvertFillConfig, RGBBranchConfig, SoftMeanLatentConfig

    def make(resolution: int = 32, **overrides) -> InvertFillConfig:
        return InvertFillConfig(
            generator=tiny_generator_config(resolution),
            encoder=EncoderConfig(channel_base=2048, channel_max=16, fpn_channels=16, structure_channels=8),
            rgb_branch=RGBBranchConfig(channel_base=1024, channel_max=8),
            soft_mean_latent=SoftMeanLatentConfig(samples=32, static_samples=64),
            **overrides,
        )

    return make
