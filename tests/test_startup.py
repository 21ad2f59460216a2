"""Start-up without torch, whose import alone takes longer than these should: the command line's
`--help`, `info` and classic fills, and the app's modules. Each check runs in a fresh interpreter,
since this one has torch loaded already. The times themselves: benchmarks/startup.py."""

import argparse
import subprocess
import sys
from pathlib import Path

from app.cli_parser import build_parser

ROOT = Path(__file__).resolve().parents[1]
NO_TORCH = 'assert "torch" not in sys.modules, "torch was imported"'


def run_fresh(*lines: str) -> subprocess.CompletedProcess:
    """Run `lines` in a new interpreter in the repository; it has failed when its exit status is not 0."""
    code = "\n".join(["import sys", *lines])
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_importing_the_command_line_imports_no_torch():
    run_fresh("import app.cli", NO_TORCH)


def test_every_help_and_info_run_without_torch(tiny_checkpoint):
    subcommands = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    commands = [[]] + [[name] for name in subcommands.choices]
    result = run_fresh(
        "from app.cli import main",
        f"for command in {commands!r}:",
        "    try:",
        "        main([*command, '--help'])",
        "    except SystemExit as stopped:",
        "        assert stopped.code == 0, command",
        f"assert main(['info', {str(tiny_checkpoint)!r}]) == 0",
        NO_TORCH,
    )
    assert "usage: invertfill import-gan" in result.stdout
    assert "part 'invertfill': invertfill," in result.stdout and "stage: encoder" in result.stdout


def test_a_classic_fill_and_batch_run_without_torch(photo_and_mask, tmp_path):
    image, mask = photo_and_mask
    result = run_fresh(
        "from app.cli import main",
        f"assert main(['batch', {str(image.parent)!r}, '--mask', {str(mask)!r}, '-o', {str(tmp_path / 'batch')!r}, '--method', 'ns']) == 0",
        f"assert main(['fill', {str(image)!r}, {str(mask)!r}, '-o', {str(tmp_path / 'out.png')!r}, '--method', 'telea']) == 0",
        NO_TORCH,
    )
    assert "with classic OpenCV fill (Telea)" in result.stdout and (tmp_path / "out.png").is_file()
    assert (tmp_path / "batch" / "photo.png").is_file()


def test_importing_the_app_imports_no_torch():
    """The window's modules load without torch; the model loads behind the window (app.gui.engine)."""
    run_fresh("import app.gui.application", NO_TORCH)


def test_the_window_shows_before_torch_is_imported(user_data):
    """Only the engine's worker imports torch, when it loads the model (held back here) behind the window."""
    run_fresh(
        "import os",
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'",
        "from PySide6.QtWidgets import QApplication",
        "application = QApplication([])",
        "from app.gui.engine import Engine",
        "Engine.load_model = lambda self, *args: None",
        "from app.gui.main_window import MainWindow",
        "from app.gui.preferences import Preferences",
        "window = MainWindow(Preferences(), None, 'cpu')",
        "window.show()",
        "application.processEvents()",
        "assert window.isVisible() and not window.device_actions['cuda'].isEnabled()",
        NO_TORCH,
        "window.engine.shutdown()",
    )
