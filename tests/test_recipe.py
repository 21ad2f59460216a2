"""The default model's recipe (training/recipes/scenes256/train.sh), run end to end at 32 px on the CPU."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_tiny_generator_config, make_tiny_invertfill_config
from safetensors import safe_open

from core.io.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "training" / "recipes" / "scenes256"


def write_images(folder: Path, count: int, size: int, suffix: str, seed: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        pixels = cv2.resize(rng.integers(0, 256, (4, 4, 3)).astype(np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"{folder.name}_{index:03d}{suffix}"), pixels)


def tiny_configs(folder: Path, recipe: Path = RECIPE) -> Path:
    """A recipe's stage1.json and stage2.json with 32-px networks and short ticks, for the CPU."""
    folder.mkdir()
    run = {"batch": 4, "tick_kimg": 0.008, "snapshot_ticks": 1, "workers": 0}
    stage1 = json.loads((recipe / "stage1.json").read_text())
    stage1.update(generator=asdict(make_tiny_generator_config(32)), discriminator={"resolution": 32, "channel_base": 4096, "channel_max": 16}, **run)
    stage2 = json.loads((recipe / "stage2.json").read_text())
    stage2.update(model=asdict(make_tiny_invertfill_config(32)), **run)
    (folder / "stage1.json").write_text(json.dumps(stage1))
    (folder / "stage2.json").write_text(json.dumps(stage2))
    return folder


def run_recipe(recipe: Path, environment: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a recipe's train.sh from the project root; it must exit 0."""
    result = subprocess.run(["bash", str(recipe / "train.sh")], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_the_recipe_splits_trains_exports_and_evaluates(tmp_path):
    write_images(tmp_path / "scenes" / "scenery", 20, 64, ".jpg", 0)
    write_images(tmp_path / "scenes" / "street", 10, 32, ".png", 1)
    masks = tmp_path / "masks"
    masks.mkdir()
    for index in range(30):
        hole = np.zeros((64, 64), np.uint8)
        hole[index : index + 20, 10:40] = 255
        cv2.imwrite(str(masks / f"{index:05d}.png"), hole)
    work = tmp_path / "work"
    environment = {**os.environ, "SCENES": str(tmp_path / "scenes"), "NVIDIA_MASKS": str(masks), "WORK": str(work),
                   "CONFIGS": str(tiny_configs(tmp_path / "configs")), "STAGE1_MINUTES": "0.1", "STAGE2_MINUTES": "0.1",
                   "EVAL_MASKS": "6", "DEVICE": "cpu", "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(RECIPE / "train.sh")], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and (work / "status").read_text().strip() == "done", result.stdout[-3000:] + result.stderr[-3000:]

    held_out = {p.name for p in (work / "heldout").rglob("*") if p.is_symlink()}
    trained = {p.name for p in (work / "train").rglob("*") if p.is_symlink()}
    assert held_out == {"scenery_009.jpg", "scenery_019.jpg", "street_009.png"} and len(trained) == 27 and not held_out & trained

    shipped = work / "default.safetensors"
    joined = b"".join(part.read_bytes() for part in sorted((work / "parts").iterdir()))
    digest = hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert joined == shipped.read_bytes() and (work / "default.safetensors.sha256").read_text().split()[0] == digest
    checkpoint = load_checkpoint(shipped)
    assert checkpoint.domain == "scenes" and set(checkpoint.parts) == {"invertfill", "discriminator"}
    with safe_open(str(shipped), framework="pt") as f:
        assert {str(f.get_slice(key).get_dtype()) for key in f.keys()} == {"F16"}

    assert len(list((work / "masks" / "nvidia").iterdir())) == 6
    report = (work / "eval" / "report.md").read_text()
    assert all(name in report for name in ("| invertfill |", "| Telea |", "| Navier–Stokes |", "| PatchMatch |", "hard PSNR", "extreme SSIM", "all PSNR", "nvidia PSNR"))


FACES_RECIPE = ROOT / "training" / "recipes" / "faces64"


@pytest.mark.slow
def test_the_faces_recipe_pauses_resumes_skips_finished_stages_and_reports_every_variant(tmp_path):
    write_images(tmp_path / "faces", 20, 48, ".png", 2)
    work = tmp_path / "work"
    environment = {**os.environ, "FACES": str(tmp_path / "faces"), "WORK": str(work), "CONFIGS": str(tiny_configs(tmp_path / "configs", FACES_RECIPE)),
                   "STAGE1_KIMG": "0.016", "STAGE2_KIMG": "0.016", "DEVICE": "cpu", "PYTHON": sys.executable}

    def run(**settings: str) -> subprocess.CompletedProcess:
        return run_recipe(FACES_RECIPE, {**environment, **settings})

    run(MINUTES="0", VARIANTS="full")
    assert (work / "status").read_text().strip() == "paused"
    assert sorted(p.name for p in (work / "heldout").iterdir()) == ["faces_009.png", "faces_019.png"]
    assert len(list((work / "train").iterdir())) == 18 and not (work / "stage1" / "done").exists()

    run(VARIANTS="full")
    assert (work / "status").read_text().strip() == "done"
    stage1_checkpoints = sorted((work / "stage1" / "checkpoints").glob("network-*.safetensors"))
    assert stage1_checkpoints[-1].name == "network-000000016.safetensors"
    assert load_checkpoint(work / "faces64.safetensors").domain == "faces"

    second = run(VARIANTS="full wplus")
    assert "stage1: done" in second.stdout and "stage2-full: done" in second.stdout
    assert sorted((work / "stage1" / "checkpoints").glob("network-*.safetensors")) == stage1_checkpoints
    report = (work / "eval" / "report.md").read_text()
    for method in ("full", "wplus", "Telea", "Navier", "PatchMatch"):
        assert method in report
    assert "seam" in report
    figures = {p.name for p in (work / "figures").iterdir()}
    assert {"losses-stage1.png", "losses-stage2-full.png", "losses-stage2-wplus.png", "stage1-samples.png", "fills-full.png", "fills-wplus.png"} <= figures


def test_a_failing_stage_marks_the_recipe_failed(tmp_path):
    """A training command that fails inside a stage leaves WORK/status at "failed", not at the stage's name."""
    write_images(tmp_path / "faces", 10, 48, ".png", 3)
    configs = tiny_configs(tmp_path / "configs", FACES_RECIPE)
    stage1 = json.loads((configs / "stage1.json").read_text())
    (configs / "stage1.json").write_text(json.dumps({**stage1, "batch": 0}))
    work = tmp_path / "work"
    environment = {**os.environ, "FACES": str(tmp_path / "faces"), "WORK": str(work), "CONFIGS": str(configs), "DEVICE": "cpu",
                   "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(FACES_RECIPE / "train.sh")], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0 and "batch and kimg must be positive" in result.stdout + result.stderr
    assert (work / "status").read_text().strip() == "failed"


def training_processes(marker: str) -> list[int]:
    """The pids whose command line runs a training command and mentions `marker` (Linux /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"train-gan" in words and any(marker.encode() in word for word in words):
            pids.append(int(cmdline.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
def test_a_killed_stage_marks_the_recipe_paused_and_exits_130(tmp_path):
    """SIGTERM to the training command (as `kill` from a user) saves its resume state; the recipe says paused."""
    write_images(tmp_path / "faces", 10, 48, ".png", 4)
    work = tmp_path / "work"
    environment = {**os.environ, "FACES": str(tmp_path / "faces"), "WORK": str(work), "CONFIGS": str(tiny_configs(tmp_path / "configs", FACES_RECIPE)),
                   "STAGE1_KIMG": "100", "DEVICE": "cpu", "PYTHON": sys.executable}
    recipe = subprocess.Popen(["bash", str(FACES_RECIPE / "train.sh")], cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    progress = work / "stage1.jsonl"
    deadline = time.monotonic() + 300
    while not (progress.exists() and progress.read_text().count("\n") >= 1) and recipe.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in training_processes(str(work)):
        os.kill(pid, signal.SIGTERM)
    output, _ = recipe.communicate(timeout=300)
    assert recipe.returncode == 130, output[-3000:]
    assert (work / "status").read_text().strip() == "paused" and (work / "stage1" / "checkpoints" / "resume.pt").is_file()


GENERAL_RECIPE = ROOT / "training" / "recipes" / "general64"


@pytest.mark.slow
def test_the_general_recipe_holds_out_photos_and_their_large_twins_resumes_and_evaluates_at_two_sizes(tmp_path):
    scenes = tmp_path / "scenes"
    write_images(scenes / "small", 20, 48, ".jpg", 5)
    write_images(scenes / "street", 10, 40, ".png", 6)
    large = scenes / "large"
    large.mkdir()
    for index in (*range(9), 12):
        pixels = cv2.imread(str(scenes / "small" / f"small_{index:03d}.jpg"))
        cv2.imwrite(str(large / f"small_{index:03d}.jpg"), cv2.resize(pixels, (96, 96)))
    work = tmp_path / "work"
    environment = {**os.environ, "SCENES": str(scenes), "FOLDERS": "small street", "LARGE": "large", "EVAL_FOLDERS": "street large",
                   "WORK": str(work), "CONFIGS": str(tiny_configs(tmp_path / "configs", GENERAL_RECIPE)), "STAGE1_KIMG": "0.016",
                   "STAGE2_KIMG": "0.016", "EVAL_RES": "64", "DEVICE": "cpu", "PYTHON": sys.executable}

    def run(**settings: str) -> subprocess.CompletedProcess:
        return run_recipe(GENERAL_RECIPE, {**environment, **settings})

    run(MINUTES="0")
    assert (work / "status").read_text().strip() == "paused"
    held_out = sorted(p.relative_to(work / "heldout").as_posix() for p in (work / "heldout").rglob("*") if p.is_symlink())
    # every 10th of each folder, and small_012 because its large twin (the 10th large one) is held out
    assert held_out == ["small/small_009.jpg", "small/small_012.jpg", "small/small_019.jpg", "street/street_009.png"]
    trained = {p.name for p in (work / "train").rglob("*") if p.is_symlink()}
    assert len(trained) == 26 and not trained & {Path(name).name for name in held_out}
    assert sorted(p.relative_to(work / "heldout-large").as_posix() for p in (work / "heldout-large").rglob("*") if p.is_symlink()) == [
        "large/small_012.jpg", "street/street_009.png"]

    run()
    assert (work / "status").read_text().strip() == "done"
    stage1 = load_checkpoint(work / "exports" / "stage1.safetensors")
    model = load_checkpoint(work / "exports" / "general64.safetensors")
    assert "discriminator" in stage1.parts and {"invertfill", "discriminator"} <= set(model.parts) and model.domain == "general"
    for folder in ("eval-32", "eval-64"):
        report = (work / folder / "report.md").read_text()
        assert all(name in report for name in ("| general |", "| Telea |", "| Navier–Stokes |", "hard PSNR", "extreme SSIM", "all PSNR"))
        assert "detail (for images larger" in report
    assert {"losses-stage1.png", "losses-stage2.png", "stage1-samples.png", "fills-full.png"} <= {p.name for p in (work / "figures").iterdir()}

    again = run()
    assert "stage1: done" in again.stdout and "stage2: done" in again.stdout
