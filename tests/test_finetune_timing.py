"""The fine-tune's time: the timing run, the job's parts, the steps a budget allows, and the job's
previews spread over its steps."""

import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from core.io.image_io import read_image
from training import finetune_job
from training.finetune_job import COMPARED_HOLES, MAX_DIFFERENCE_GAIN, FinetuneJob, loop_settings, run_job
from training.finetune_timing import PROCESS_START_S, TIMED_BATCHES, FinetuneTiming, time_finetune
from training.stage2 import Stage2Trainer, finetune_config


def timing_of(setup_s: float = 2.0, step_s: float = 0.3, image_s: float = 1.0, fill_s: float = 0.5) -> FinetuneTiming:
    return FinetuneTiming(setup_s=setup_s, step_s=step_s, image_s=image_s, fill_s=fill_s, snapshot_s=0.7, load_s=0.9)


def test_the_job_time_is_the_sum_of_its_parts():
    timing = timing_of()
    start_and_setup, training = PROCESS_START_S + 2.0, 10 * (0.3 + 4 * 1.0)
    snapshots, previews, comparison = 5 * (0.7 + 2 * 0.5), 4 * (0.9 + 0.5), 2 * (0.9 + COMPARED_HOLES * 0.5)
    assert timing.job_seconds(10, 4, previews=4, samples=2) == pytest.approx(start_and_setup + training + snapshots + previews + comparison)


def test_a_step_costs_a_fixed_part_and_a_part_per_image():
    timing = timing_of(step_s=2.0, image_s=0.25)
    assert timing.steps_seconds(10, 4) == pytest.approx(10 * 3.0) and timing.steps_seconds(10, 8) == pytest.approx(10 * 4.0)


@pytest.mark.parametrize("seconds", [60, 150, 1800])
def test_a_budget_gets_the_most_steps_whose_job_fits_in_it(seconds):
    timing = timing_of(setup_s=1.5, image_s=1.3, fill_s=0.4)
    steps = timing.steps_within(seconds, 4, previews=4, samples=2)
    assert timing.job_seconds(steps, 4, 4, 2) <= seconds < timing.job_seconds(steps + 1, 4, 4, 2)


def test_a_budget_too_small_for_the_set_up_still_gets_one_step():
    assert timing_of(setup_s=30.0).steps_within(10, 4, 4, 2) == 1


@pytest.mark.parametrize("steps, previews, expected", [(26, 4, 4), (300, 4, 4), (305, 4, 4), (1000, 4, 4), (7, 4, 3), (5, 1, 1)])
def test_the_previews_are_spread_evenly_and_progress_comes_after_every_step(steps, previews, expected):
    job = FinetuneJob(model="m", data="d", output="o", run_dir="r", domain="x", steps=steps, batch=4, previews=previews)
    settings = loop_settings(job)
    tick_steps = round(settings["tick_kimg"] * 1000 / 4)
    between = tick_steps * settings["snapshot_ticks"]
    assert settings["kimg"] * 1000 == pytest.approx(steps * 4) and tick_steps == 1
    assert math.ceil(steps / between) - 1 == expected


def test_the_timing_run_times_each_part_of_the_job_on_the_cpu(tiny_finetune_base):
    config = finetune_config(tiny_finetune_base, batch=8)
    timing = time_finetune(config, tiny_finetune_base, "cpu")
    assert 0 < timing.step_s + timing.image_s < 60 and 0 < timing.setup_s < 60
    assert 0 < timing.fill_s < 60 and 0 < timing.snapshot_s < 60 and 0 < timing.load_s < 60
    assert timing.job_seconds(2, 8, 4, 2) == pytest.approx(timing.job_seconds(1, 8, 4, 2) + timing.step_s + 8 * timing.image_s)


def test_the_timing_run_times_no_first_step_at_a_batch_size(tiny_finetune_base, monkeypatch):
    """The first step at a batch size builds its kernels and took twice the steady time (the Quick
    estimate was 1.9× the real job): each batch size is stepped once before it is timed."""
    batches = []
    step = Stage2Trainer.train_step
    monkeypatch.setattr(Stage2Trainer, "train_step", lambda self, images: (batches.append(len(images)), step(self, images))[1])
    time_finetune(finetune_config(tiny_finetune_base, batch=8), tiny_finetune_base, "cpu")
    assert batches == [*TIMED_BATCHES, *TIMED_BATCHES]


def small_job(model: Path, folder: Path, tmp_path: Path, steps: int) -> Path:
    held_out = sorted(folder.glob("*.png"))[-1]
    job = FinetuneJob(model=str(model), data=str(folder), output=str(tmp_path / "tuned.safetensors"),
                      run_dir=str(tmp_path / "run"), domain="tuned", device="cpu", steps=steps, batch=2, workers=0, previews=4,
                      held_out=str(held_out), exclude=(str(held_out),))
    job.save(tmp_path / "job.json")
    return tmp_path / "job.json"


def test_a_job_shows_one_preview_per_planned_snapshot_and_keeps_only_the_tuned_model(
    tiny_finetune_base, domain_folder, tmp_path, monkeypatch, capsys
):
    spec = small_job(tiny_finetune_base, domain_folder, tmp_path, steps=10)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setattr("training.finetune_job.watch_for_cancel", lambda cancel: None)
    snapshots_on_disk = []
    fill_preview = finetune_job.fill_preview

    def counting_fill_preview(*args):
        snapshots_on_disk.append(len(list((tmp_path / "run" / "checkpoints").glob("network-*"))))
        return fill_preview(*args)

    monkeypatch.setattr("training.finetune_job.fill_preview", counting_fill_preview)
    assert run_job(spec) == 0
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    previews = [m for m in messages if m["type"] == "preview"]
    assert [m["done"] for m in previews] == [6, 10, 14, 18] and all(Path(m["path"]).is_file() for m in previews)
    assert snapshots_on_disk == [1, 1, 1, 1]
    assert len([m for m in messages if m["type"] == "progress"]) == 10 and messages[-1]["type"] == "done"
    done = messages[-1]
    assert done["photos"] == 7 and done["done"] == 20 and not done["cancelled"]
    assert not list((tmp_path / "run" / "checkpoints").iterdir()) and (tmp_path / "tuned.safetensors").is_file()
    comparison = done["comparison"]
    before, after, difference = (read_image(comparison[key]).pixels.astype(int) for key in ("before", "after", "difference"))
    gain = comparison["gain"]
    assert np.array_equal(difference, np.minimum(np.abs(after - before) * gain, 255)) and 1 <= gain <= MAX_DIFFERENCE_GAIN
    assert gain == MAX_DIFFERENCE_GAIN or np.percentile(difference, 99) > 127
    hole = read_image(comparison["masked"]).pixels.min(axis=-1) == 128
    assert comparison["change"] == pytest.approx(np.abs(after - before)[hole].mean(), abs=0.05) and comparison["change"] > 0


def test_a_cancelled_job_keeps_its_resume_state_and_no_snapshot(tiny_finetune_base, domain_folder, tmp_path, monkeypatch, capsys):
    spec = small_job(tiny_finetune_base, domain_folder, tmp_path, steps=1000)
    monkeypatch.setattr("training.finetune_job.watch_for_cancel", lambda cancel: cancel.set())
    assert run_job(spec) == 0
    done = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert done["cancelled"] and done["done"] < 2000
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()] == ["resume.pt"]
