"""`python main.py --selftest`: a headless check of an install or a frozen build.

Imports every module, loads the default model (or the one given), shows the main window,
fills a hole in the bundled sample image and checks the hard constraint, and takes one
optimizer step (the fine-tune wizard trains in the app). Prints one line per check, exits 0
when all pass, 1 otherwise, naming what failed.
"""

from __future__ import annotations

import importlib
import pkgutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

OPTIONAL_MODULES = {"core.ops.triton_bias_act": "triton", "core.ops.triton_upfirdn2d": "triton"}
PACKAGES = ("core", "training", "app")
SAMPLE = ("samples", "countryside.png")


def import_everything() -> str:
    """Import every module of the project's packages (the Triton kernels only where triton is)."""
    from core.ops.backend import triton_available

    count = 0
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, package_name + "."):
            if module.name in OPTIONAL_MODULES and not triton_available():
                continue
            importlib.import_module(module.name)
            count += 1
    return f"{count} modules"


def load_model(model: str | None) -> tuple[object, str]:
    """Load as the app does: on the CPU, with the runtime it starts with (OpenVINO where it is bundled)."""
    from app.user_data import openvino_cache_dir
    from core.engine.choices import default_runtime
    from core.engine.inpainter import Inpainter
    from core.engine.openvino_runner import openvino_installed

    runtime = default_runtime()
    inpainter = Inpainter(model, "cpu", runtime=runtime, cache_dir=openvino_cache_dir())
    if not inpainter.is_classic and runtime != "torch" and openvino_installed() and not inpainter.runtime.startswith("OpenVINO"):
        raise AssertionError(f"OpenVINO is installed but the model runs with {inpainter.runtime}: {'; '.join(inpainter.notes)}")
    if inpainter.is_classic:
        return inpainter, "no default model is bundled: the classic OpenCV fill stands in"
    return inpainter, inpainter.description


def fill_sample(inpainter) -> str:
    """Fill a 64×64 hole in the sample image with the default strategy and check the hard constraint
    bit for bit; look for faces in it (OpenCV's cascade file must be there for faces models)."""
    if inpainter is None:
        raise AssertionError("no model was loaded")
    from core.engine.faces import find_faces
    from core.io.image_io import read_image
    from core.io.resources import resource_path

    picture = read_image(resource_path(*SAMPLE))
    hole = np.zeros((picture.height, picture.width), bool)
    hole[96:160, 96:160] = True
    result = inpainter.fill(picture, hole, seed=0)
    filled = result.pictures[0].pixels
    find_faces(picture.rgb8())
    if filled.shape != picture.pixels.shape or filled.dtype != picture.pixels.dtype:
        raise AssertionError(f"the fill is {filled.shape} {filled.dtype}, the image {picture.pixels.shape} {picture.pixels.dtype}")
    if not np.array_equal(filled[~hole], picture.pixels[~hole]):
        raise AssertionError("known pixels changed: the hard constraint does not hold")
    if np.array_equal(filled[hole], picture.pixels[hole]):
        raise AssertionError("the hole was not filled")
    return f"{picture.width}×{picture.height}, known pixels identical"


def show_window(model: str | None, started: float) -> str:
    """Create and show the main window (with throwaway settings) until its engine is idle.

    Error dialogs would wait for a click that never comes: here they are collected instead.
    """
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.gui import dialogs
    from app.gui.main_window import MainWindow
    from app.gui.preferences import Preferences

    errors: list[str] = []
    dialogs.show_error = lambda parent, title, message: errors.append(f"{title}: {message}")
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        preferences = Preferences(QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(preferences, model, "cpu")
        window.show()
        app.processEvents()
        shown = time.perf_counter() - started
        deadline = time.monotonic() + 120
        while (window.engine.inpainter is None or window.engine.busy) and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        label = window.model_label.text()
        window.close()
    if errors:
        raise AssertionError(errors[0])
    if window.engine.inpainter is None:
        raise AssertionError("the window's engine did not load a model within 2 minutes")
    return f"shown {shown:.2f} s after start; status bar: {label}"


def train_step() -> str:
    """One Adam step on a tiny network: the optimizer machinery the wizard needs is there."""
    import torch

    layer = torch.nn.Linear(4, 1)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1)
    before = layer.weight.detach().clone()
    layer(torch.ones(2, 4)).square().mean().backward()
    optimizer.step()
    if torch.equal(before, layer.weight):
        raise AssertionError("the optimizer step changed nothing")
    return "Adam step ok"


def run_selftest(model: str | None, started: float) -> int:
    """Run every check, printing `ok|FAIL name (seconds): detail`; 0 if all passed."""
    inpainter = None

    def model_check() -> str:
        nonlocal inpainter
        inpainter, detail = load_model(model)
        return detail

    checks: list[tuple[str, Callable[[], str]]] = [
        ("imports", import_everything),
        ("model", model_check),
        ("fill", lambda: fill_sample(inpainter)),
        ("window", lambda: show_window(model, started)),
        ("training", train_step),
    ]
    failed = []
    for name, check in checks:
        begin = time.perf_counter()
        try:
            detail, status = check(), "ok"
        except Exception as error:  # noqa: BLE001 - a self-test reports every failure and goes on
            detail, status = f"{type(error).__name__}: {error}", "FAIL"
            failed.append(name)
        print(f"{status:4} {name} ({time.perf_counter() - begin:.2f} s): {detail}", flush=True)
    print("selftest passed" if not failed else f"selftest FAILED: {', '.join(failed)}", flush=True)
    return 0 if not failed else 1
