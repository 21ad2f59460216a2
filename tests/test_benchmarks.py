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
