"""Randomness is passed, never global (DESIGN §3.1): seeded initialisation per thread, and no
library code that reseeds torch's process-wide generator."""

from pathlib import Path

import torch
from conftest import another_thread_drawing

from core.nn import random_init
from core.nn.config import InvertFillConfig
from core.nn.invertfill import InvertFill
from core.nn.random_init import seeded_initialization

ROOT = Path(__file__).resolve().parents[1]
GLOBAL_RNG_CALLS = ("torch.manual_seed(", "torch.random.manual_seed(", "torch.cuda.manual_seed", "fork_rng(")


def initial_state(config: InvertFillConfig, seed: int) -> dict[str, torch.Tensor]:
    with seeded_initialization(seed):
        return InvertFill(config).state_dict()


def test_the_same_seed_gives_identical_weights_while_another_thread_draws(tiny_invertfill_config):
    config = tiny_invertfill_config(32)
    with another_thread_drawing():
        first, second, other = (initial_state(config, seed) for seed in (5, 5, 6))
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)
    generator_weights = [name for name in first if name.startswith("generator.") and name.endswith("weight")]
    assert generator_weights and all(not torch.equal(first[name], other[name]) for name in generator_weights)


def test_seeded_initialization_nests_and_restores_the_default_generator():
    with seeded_initialization(1):
        outer = random_init.normal(4)
        with seeded_initialization(2):
            inner = random_init.normal(4)
        outer_continued = random_init.normal(4)
    reference = torch.Generator().manual_seed(1)
    assert torch.equal(outer, torch.randn(4, generator=reference))
    assert torch.equal(outer_continued, torch.randn(4, generator=reference))
    assert torch.equal(inner, torch.randn(4, generator=torch.Generator().manual_seed(2)))
    torch.manual_seed(3)
    unseeded = random_init.normal(4)
    torch.manual_seed(3)
    assert torch.equal(unseeded, torch.randn(4))


def test_no_library_code_reseeds_or_forks_the_global_rng():
    offenders = [
        f"{path.relative_to(ROOT)}: {call}"
        for folder in ("core", "training", "app")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for call in GLOBAL_RNG_CALLS
        if call in path.read_text(encoding="utf-8")
    ]
    assert not offenders, offenders
