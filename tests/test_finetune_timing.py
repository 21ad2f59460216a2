"""The fine-tune's time: the timing run, the job's parts, the steps a budget allows, and the job's
previews spread over its steps."""

import io
import json
import math
import sys
from pathlib import Path

import pytest

from training.finetune_job import FinetuneJob, loop_settings, run_job
from training.finetune_timing import PROCESS_START_S, FinetuneTiming, time_finetune
from training.stage2 import finetune_config


def test_the_job_time_is_the_sum_of_its_parts():
    timing = FinetuneTiming(setup_s=2.0, image_s=1.0, fill_s=0.5)
    start_and_setup, training, snapshots, reloads = PROCESS_START_S + 2.0, 10 * 4 * 1.0, 5 * (2.0 + 2 * 0.5), 6 * (2.0 + 0.5)
    assert timing.job_seconds(10, 4, previews=4, samples=2) == pytest.approx(start_and_setup + training + snapshots + reloads)


@pytest.mark.parametrize("seconds", [60, 150, 1800])
def test_a_budget_gets_the_most_steps_whose_job_fits_in_it(seconds):
    timing = FinetuneTiming(setup_s=1.5, image_s=1.3, fill_s=0.4)
    steps = timing.steps_within(seconds, 4, previews=4, samples=2)
    assert timing.job_seconds(steps, 4, 4, 2) <= seconds < timing.job_seconds(steps + 1, 4, 4, 2)


def test_a_budget_too_small_for_the_set_up_still_gets_one_step():
    assert FinetuneTiming(setup_s=30.0, image_s=1.0, fill_s=1.0).steps_within(10, 4, 4, 2) == 1


@pytest.mark.parametrize("steps, previews, expected", [(26, 4, 4), (300, 4, 4), (305, 4, 4), (1000, 4, 4), (7, 4, 3), (5, 1, 1)])
def test_the_previews_are_spread_evenly_and_progress_ticks_often(steps, previews, expected):
    job = FinetuneJob(model="m", data="d", output="o", run_dir="r", domain="x", steps=steps, batch=4, previews=previews)
    settings = loop_settings(job)
    tick_steps = round(settings["tick_kimg"] * 1000 / 4)
    between = tick_steps * settings["snapshot_ticks"]
    assert settings["kimg"] * 1000 == pytest.approx(steps * 4) and 1 <= tick_steps <= 10
    assert tick_steps == 1 or tick_steps * 5 <= between
    assert math.ceil(steps / between) - 1 == expected


def test_the_timing_run_times_one_image_on_the_cpu(tiny_finetune_base):
    config = finetune_config(tiny_finetune_base, batch=8)
    timing = time_finetune(config, tiny_finetune_base, "cpu")
    assert 0 < timing.image_s < 5 and 0 < timing.fill_s < timing.image_s * 8 and 0 < timing.setup_s < 30
    assert timing.job_seconds(2, 8, 4, 2) > timing.job_seconds(1, 8, 4, 2) + 8 * timing.image_s * 0.99


def test_a_job_shows_one_preview_per_planned_snapshot(tiny_finetune_base, domain_folder, tmp_path, monkeypatch, capsys):
    held_out = sorted(domain_folder.glob("*.png"))[-1]
    job = FinetuneJob(model=str(tiny_finetune_base), data=str(domain_folder), output=str(tmp_path / "tuned.safetensors"),
                      run_dir=str(tmp_path / "run"), domain="tuned", device="cpu", steps=10, batch=2, workers=0, previews=4,
                      held_out=str(held_out), exclude=(str(held_out),))
    job.save(tmp_path / "job.json")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setattr("training.finetune_job.watch_for_cancel", lambda cancel: None)
    assert run_job(tmp_path / "job.json") == 0
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    previews = [m for m in messages if m["type"] == "preview"]
    assert [m["done"] for m in previews] == [6, 10, 14, 18] and all(Path(m["path"]).is_file() for m in previews)
    assert len([m for m in messages if m["type"] == "progress"]) == 10 and messages[-1]["type"] == "done"
