"""The speed harness runs end to end (tiny model), so a GPU session only has to run it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_speed_harness_writes_every_row(tmp_path):
    result = subprocess.run(
        [sys.executable, "benchmarks/speed.py", "--tiny", "--device", "cpu", "--json", str(tmp_path / "speed.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "speed.json").read_text())["rows"]
    fills = [r for r in rows if r["what"].startswith("fill")]
    assert {(r["batch"], r["dtype"]) for r in fills} == {(1, "float32"), (1, "bfloat16"), (2, "float32"), (2, "bfloat16")}
    assert all(r["median_ms"] > 0 and r["flops"] > 0 for r in fills)
    assert {r["what"] for r in rows} >= {"stage-1 step 32px", "stage-2 step 32px"}
    assert "| what | batch |" in result.stdout


def test_train_speed_times_each_compile_setting_at_the_asked_resolution(tmp_path):
    stage1 = {
        "generator": {"resolution": 64, "style_dim": 16, "mapping_layers": 2, "channel_base": 4096, "channel_max": 16},
        "discriminator": {"resolution": 64, "channel_base": 4096, "channel_max": 16}, "batch": 2,
    }
    stage2 = {
        "model": {"encoder": {"channel_base": 2048, "channel_max": 16, "fpn_channels": 16, "structure_channels": 8},
                  "rgb_branch": {"channel_base": 1024, "channel_max": 8}, "soft_mean_latent": {"samples": 32, "static_samples": 64}},
        "backbone": "discriminator", "batch": 2,
    }
    for name, config in (("stage1.json", stage1), ("stage2.json", stage2)):
        (tmp_path / name).write_text(json.dumps(config))
    result = subprocess.run(
        [sys.executable, "benchmarks/train_speed.py", "--stage1-config", str(tmp_path / "stage1.json"), "--stage2-config",
         str(tmp_path / "stage2.json"), "--resolution", "32", "--stages", "2", "--compile", "off", "--steps", "1", "--repeats", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert '"resolution":32' in next(line for line in lines if line.startswith("stage 1 settings"))
    assert lines[-3] == "| code | compile | stage 2 images/s | vs first | stage 2 warm-up s |"
    assert lines[-1].startswith(f"| {ROOT} | off | ") and lines[-1].endswith(" |") and " | 1.00x | " in lines[-1]


def test_scene_tiles_times_the_default_model_with_and_without_its_tiles():
    result = subprocess.run([sys.executable, "benchmarks/scene_tiles.py", "--sizes", "512", "--runs", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    header, _, row = result.stdout.splitlines()[-3:]
    assert header == "| size | windows | tiles | without tiles s | with tiles s | ratio |"
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[0] == "512²" and int(cells[1]) >= 1 and int(cells[2]) >= 1 and float(cells[3]) > 0 and float(cells[4]) > 0
