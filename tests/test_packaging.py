"""Packaging: main.py --selftest from source, and the PyInstaller build of build.spec run frozen."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.engine.openvino_runner import openvino_installed

ROOT = Path(__file__).resolve().parents[1]
SIZE_LIMIT = int(1.3 * 2**30)


def selftest(command: list[str], user_data: Path, *args: str, runtime: str = "torch") -> subprocess.CompletedProcess:
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "INVERTFILL_USER_DATA": str(user_data), "INVERTFILL_RUNTIME": runtime}
    return subprocess.run([*command, "--selftest", *args], capture_output=True, text=True, timeout=300, env=environment, cwd=user_data.parent)


def check_passed(result: subprocess.CompletedProcess) -> list[str]:
    lines = [line for line in result.stdout.splitlines() if line.split(" ", 1)[0] in ("ok", "FAIL")]
    assert result.returncode == 0 and result.stdout.strip().endswith("selftest passed"), result.stdout + result.stderr
    assert [line.split()[1] for line in lines] == ["imports", "model", "fill", "window", "training"]
    return lines


def test_selftest_from_source_fills_with_the_given_model(tiny_checkpoint, tmp_path):
    lines = check_passed(selftest([sys.executable, str(ROOT / "main.py")], tmp_path / "user", "--model", str(tiny_checkpoint)))
    assert "InvertFill 32 px, tests (tiny.safetensors)" in lines[1]
    assert "known pixels identical" in lines[2] and "status bar: Model: tiny · 32 px · tests" in lines[3]
    assert (tmp_path / "user" / "logs" / "invertfill.log").is_file()


def test_selftest_names_what_failed(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    result = selftest([sys.executable, str(ROOT / "main.py")], tmp_path / "user", "--model", str(bad))
    assert result.returncode == 1 and result.stdout.strip().endswith("selftest FAILED: model, fill, window")
    assert re.search(r"^FAIL model .*bad\.safetensors", result.stdout, re.M)


@pytest.fixture(scope="module")
def frozen_build(tmp_path_factory):
    """build.spec built once for this module: (the one-folder app, the build's warnings file)."""
    folder = tmp_path_factory.mktemp("pyinstaller")
    result = subprocess.run(
        [sys.executable, "-m", "PyInstaller", str(ROOT / "build.spec"), "--noconfirm", "--log-level", "ERROR",
         "--distpath", str(folder / "dist"), "--workpath", str(folder / "work")],
        capture_output=True, text=True, timeout=1500, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return folder / "dist" / "InvertFill", next((folder / "work").glob("*/warn-*.txt"))


def bundle_files(bundle: Path) -> set[Path]:
    return {p.relative_to(bundle) for p in bundle.rglob("*")}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_frozen_app_passes_its_selftest_and_writes_nothing_into_the_bundle(frozen_build, tiny_checkpoint, tmp_path):
    bundle, _ = frozen_build
    before = bundle_files(bundle)
    lines = check_passed(selftest([str(bundle / "InvertFill")], tmp_path / "user", "--model", str(tiny_checkpoint), runtime="auto"))
    assert "InvertFill 32 px" in lines[1] and "known pixels identical" in lines[2]
    assert ("· OpenVINO" in lines[1]) == openvino_installed(), lines[1]
    lines = check_passed(selftest([str(bundle / "InvertFill")], tmp_path / "user"))
    assert "InvertFill 64 px, general (default.safetensors)" in lines[1], "the bundle embeds the default model"
    assert bundle_files(bundle) == before and (tmp_path / "user" / "logs" / "invertfill.log").is_file()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_bundle_holds_the_resources_and_stays_under_the_size_limit(frozen_build):
    bundle, _ = frozen_build
    internal = bundle / "_internal"
    assert (internal / "resources" / "samples" / "countryside.png").is_file()
    assert any((internal / "qtawesome" / "fonts").glob("*.ttf"))
    assert (internal / "cv2" / "data" / "haarcascade_frontalface_default.xml").is_file()
    assert not (internal / "PyQt5").exists() and not (internal / "PyQt6").exists() and not (internal / "torch" / "include").exists()
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
    assert size < SIZE_LIMIT, f"{size / 2**20:.0f} MiB"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_build_warnings_name_no_missing_module_of_the_app(frozen_build):
    _, warnings = frozen_build
    ours = {"app", "core", "training", "main"}
    missing = []
    for line in warnings.read_text().splitlines():
        if not line.startswith("missing module named ") or " - imported by " not in line:
            continue
        name, importers = line.removeprefix("missing module named ").split(" - imported by ", 1)
        importer_packages = {item.split(" (")[0].split(".")[0] for item in importers.split(", ")}
        if name.strip("'").split(".")[0] in ours or importer_packages & ours:
            missing.append(line)
    assert missing == []


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_frozen_app_runs_a_fine_tune_job_as_the_wizard_starts_it(frozen_build, tiny_finetune_base, domain_folder, tmp_path):
    from core.io.checkpoint import load_checkpoint
    from training.finetune_job import FinetuneJob

    bundle, _ = frozen_build
    held_out = sorted(domain_folder.glob("*.png"))[-1]
    job = FinetuneJob(model=str(tiny_finetune_base), data=str(domain_folder), output=str(tmp_path / "models" / "tuned.safetensors"),
                      run_dir=str(tmp_path / "run"), domain="tuned", device="cpu", steps=4, batch=2, workers=0, previews=1,
                      held_out=str(held_out), exclude=(str(held_out),))
    job.save(tmp_path / "job.json")
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process = subprocess.Popen([str(bundle / "InvertFill"), "--finetune-job", str(tmp_path / "job.json")], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=stderr, text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
        messages = [json.loads(line) for line in process.stdout]
        process.stdin.close()
        assert process.wait(timeout=60) == 0, (tmp_path / "stderr.txt").read_text()[-3000:]
    kinds = [message["type"] for message in messages]
    assert kinds[0] == "started" and "progress" in kinds and kinds[-1] == "done"
    done = messages[-1]
    assert not done["cancelled"] and load_checkpoint(job.output).domain == "tuned"
    pictures = {key: done["comparison"][key] for key in ("masked", "before", "after", "difference")}
    assert all(Path(p).is_file() for p in pictures.values())
