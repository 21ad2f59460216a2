"""Shared pytest setup: Triton's CPU interpreter, the user-data folder and runtime, markers, and skipping
CUDA-only tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

# Without CUDA the fused Triton kernels run on CPU tensors through Triton's interpreter.
# Triton reads this variable when it is imported, so it is set here, before any test
# module (or the code under test) imports triton.
if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"
# The Qt app runs without a screen; pytest-qt creates its QApplication after this.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Nothing a test runs writes into the real user-data folder (the `user_data` fixture gives a test its own).
os.environ["INVERTFILL_USER_DATA"] = tempfile.mkdtemp(prefix="invertfill-tests-")
atexit.register(shutil.rmtree, os.environ["INVERTFILL_USER_DATA"], ignore_errors=True)
# Models run with torch unless a test asks for OpenVINO (tests/test_openvino_runtime.py): a conversion
# takes seconds, and each test's fresh user-data folder would convert again.
os.environ["INVERTFILL_RUNTIME"] = "torch"


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


def free_port() -> int:
    """A free TCP port on the loopback interface, for a test's process group."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def join_process_group(rank: int, port: int, world_size: int = 2) -> None:
    """Set the variables torchrun would set for `rank`, on one CPU thread."""
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)


def make_tiny_generator_config(resolution: int = 32, **overrides):
    """A StyleGAN2 config at `resolution` with 16-dim styles and at most 16 channels."""
    from core.nn.config import GeneratorConfig

    settings = dict(resolution=resolution, style_dim=TINY_STYLE_DIM, mapping_layers=2, channel_base=4096, channel_max=16)
    return GeneratorConfig(**{**settings, **overrides})


def make_tiny_invertfill_config(resolution: int = 32, **overrides):
    """A whole InvertFill config at `resolution`, small enough for CPU tests."""
    from core.nn.config import EncoderConfig, InvertFillConfig, RGBBranchConfig, SoftMeanLatentConfig

    return InvertFillConfig(
        generator=make_tiny_generator_config(resolution),
        encoder=EncoderConfig(channel_base=2048, channel_max=16, fpn_channels=16, structure_channels=8),
        rgb_branch=RGBBranchConfig(channel_base=1024, channel_max=8),
        soft_mean_latent=SoftMeanLatentConfig(samples=32, static_samples=64),
        **overrides,
    )


@pytest.fixture
def tiny_generator_config():
    """Factory: see make_tiny_generator_config."""
    return make_tiny_generator_config


@pytest.fixture
def tiny_invertfill_config():
    """Factory: see make_tiny_invertfill_config."""
    return make_tiny_invertfill_config


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A random-weight 32-px InvertFill checkpoint on disk: mean latent drawn, RGB branch and noise on."""
    from core.io.checkpoint import save_checkpoint
    from core.nn.invertfill import InvertFill

    torch.manual_seed(0)
    model = InvertFill(make_tiny_invertfill_config(32))
    model.reset_mean_latent()
    with torch.no_grad():
        for p in model.rgb_branch.outputs.parameters():
            p.normal_(0, 0.1)
        for name, p in model.generator.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.2)
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    save_checkpoint(path, {"invertfill": model}, stage="encoder", domain="tests")
    return path


@pytest.fixture
def photo_and_mask(tmp_path):
    """A 120×90 RGB photo-like PNG and a mask PNG with two holes; returns (image, mask) paths."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (90, 120, 3)).astype(np.uint8), (0, 0), 3)
    mask = np.zeros((90, 120), np.uint8)
    mask[20:40, 30:60] = 255
    mask[60:85, 90:115] = 255
    cv2.imwrite(str(tmp_path / "photo.png"), image)
    cv2.imwrite(str(tmp_path / "photo_mask.png"), mask)
    return tmp_path / "photo.png", tmp_path / "photo_mask.png"


@pytest.fixture
def hub_dir(tmp_path):
    """torch hub's cache redirected to an empty folder for one test, then restored."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(previous)


@pytest.fixture
def user_data(tmp_path, monkeypatch):
    """The app's user-data folder (settings, fine-tuned models) redirected to a temp dir."""
    folder = tmp_path / "user-data"
    monkeypatch.setenv("INVERTFILL_USER_DATA", str(folder))
    return folder


class DialogAnswers:
    """Stands in for app.gui.dialogs: records every question and answers from preset values."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.infos: list[tuple[str, str]] = []
        self.unsaved_answer = "discard"
        self.open_paths: list[str | None] = []
        self.save_paths: list[str | None] = []
        self.folders: list[str | None] = []
        self.quality: int | None = 90
        self.variation: int | None = 0
        self.thumbnails: list = []
        self.asked_unsaved = 0
        self.stop_training = True
        self.asked_stop_training = 0

    def install(self, monkeypatch) -> None:
        from app.gui import dialogs

        monkeypatch.setattr(dialogs, "message_box", self._message_box)
        monkeypatch.setattr(dialogs, "ask_unsaved", self._ask_unsaved)
        monkeypatch.setattr(dialogs, "choose_file_to_open", lambda *args: self.open_paths.pop(0))
        monkeypatch.setattr(dialogs, "choose_file_to_save", lambda *args: self.save_paths.pop(0))
        monkeypatch.setattr(dialogs, "choose_folder", lambda *args: self.folders.pop(0))
        monkeypatch.setattr(dialogs, "ask_quality", lambda *args: self.quality)
        monkeypatch.setattr(dialogs, "choose_variation", self._choose_variation)
        monkeypatch.setattr(dialogs, "ask_stop_training", self._ask_stop_training)

    def _message_box(self, parent, kind, title, message) -> None:
        (self.errors if kind == "error" else self.infos).append((title, message))

    def _ask_unsaved(self, parent, name) -> str:
        self.asked_unsaved += 1
        return self.unsaved_answer

    def _ask_stop_training(self, parent) -> bool:
        self.asked_stop_training += 1
        return self.stop_training

    def _choose_variation(self, parent, thumbnails, seed):
        self.thumbnails = thumbnails
        return self.variation


@pytest.fixture
def answers(monkeypatch):
    """Modal dialogs stubbed: see DialogAnswers."""
    stub = DialogAnswers()
    stub.install(monkeypatch)
    return stub


@pytest.fixture
def settings_path(user_data):
    return user_data / "settings.ini"


@pytest.fixture
def no_default_model(monkeypatch):
    """A build without the embedded default model: the engine and the app fall back to the classic fill."""
    monkeypatch.setattr("core.engine.inpainter.default_model_path", lambda: None)
    monkeypatch.setattr("app.gui.window_model.default_model_path", lambda: None)


@pytest.fixture
def open_main_window(qtbot, user_data, answers, settings_path):
    """Factory: a shown MainWindow (offscreen) on `model` and the CPU, with its model loaded."""
    from PySide6.QtCore import QSettings

    from app.gui.main_window import MainWindow
    from app.gui.preferences import Preferences

    windows = []

    def open_window(model=None):
        window = MainWindow(Preferences(QSettings(str(settings_path), QSettings.Format.IniFormat)), model and str(model), "cpu")
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.engine.inpainter is not None and not window.engine.busy, timeout=30000)
        qtbot.waitUntil(lambda: window.engine.cuda_available is not None, timeout=30000)
        windows.append(window)
        return window

    yield open_window
    for window in windows:
        window.engine.shutdown()


@pytest.fixture(scope="session")
def tiny_finetune_base(tmp_path_factory):
    """A random-weight 32-px InvertFill checkpoint with its discriminator (the fine-tune's loss backbone)."""
    from core.io.checkpoint import save_checkpoint
    from core.nn.config import DiscriminatorConfig
    from core.nn.discriminator import Discriminator
    from core.nn.invertfill import InvertFill

    torch.manual_seed(1)
    model = InvertFill(make_tiny_invertfill_config(32))
    model.reset_mean_latent()
    discriminator = Discriminator(DiscriminatorConfig(resolution=32, channel_base=4096, channel_max=16))
    path = tmp_path_factory.mktemp("base") / "base.safetensors"
    save_checkpoint(path, {"invertfill": model, "discriminator": discriminator}, stage="encoder", domain="scenes")
    return path


@pytest.fixture
def domain_folder(tmp_path):
    """Eight small generated photos in a folder, as a user's own domain."""
    import cv2
    import numpy as np

    folder = tmp_path / "my photos"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for index in range(8):
        pixels = cv2.resize(rng.integers(0, 256, (6, 8, 3)).astype(np.uint8), (64, 48), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"photo{index}.png"), pixels)
    return folder


@contextmanager
def another_thread_drawing() -> Iterator[None]:
    """Meanwhile a second thread reseeds and draws from the global RNG, and initialises weights unseeded."""
    from core.nn import random_init

    stop = threading.Event()

    def draw() -> None:
        step = 0
        while not stop.is_set():
            torch.manual_seed(step)
            torch.randn(64)
            random_init.normal(64)
            step += 1

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@pytest.fixture
def nvlabs_modules(monkeypatch):
    """NVlabs' module names (torch_utils, dnnlib), present while a test writes pickles (tests/nvlabs_pickles.py)."""
    from nvlabs_pickles import install_nvlabs_modules

    install_nvlabs_modules(monkeypatch)
