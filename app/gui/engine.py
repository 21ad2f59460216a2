"""The engine off the GUI thread: one long-lived worker thread owns the loaded model.

`Engine` lives in the GUI thread and forwards requests through queued signals to `EngineWorker`,
which runs them one at a time in its own QThread and answers with signals. Every fill and
batch carries its own threading.Event, which the job polls between windows and between images;
Cancel sets it, so it works while the worker is busy and never reaches a later request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.user_data import openvino_cache_dir
from core.engine.batch import BatchJob, run_batch
from core.engine.choices import MODEL, VARIATION_STRENGTH
from core.engine.device import cuda_available
from core.engine.inpainter import Inpainter
from core.errors import InvertFillError
from core.io.image_io import Picture


def _describe_failure(error: BaseException) -> str:
    """One line for the user; unexpected errors also log their traceback."""
    if isinstance(error, InvertFillError):
        return str(error)
    logging.getLogger(__name__).error("unexpected error in the engine", exc_info=error)
    return f"unexpected {type(error).__name__}: {error}"


class EngineAnswers(QObject):
    """The answers to engine requests; the worker emits them and the Engine relays them."""

    devices_checked = Signal(bool)
    model_loaded = Signal(object)
    model_failed = Signal(str)
    fill_finished = Signal(int, object)
    fill_failed = Signal(int, str)
    batch_progress = Signal(object)
    batch_finished = Signal(object)
    batch_failed = Signal(str)


class EngineWorker(EngineAnswers):
    """Runs in the engine thread. Every slot reports through a signal and never raises."""

    def __init__(self) -> None:
        super().__init__()
        self.inpainter: Inpainter | None = None
        self._cuda: bool | None = None

    def _run(self, work: Callable[[], object], failed: Callable[[str], None]) -> tuple[bool, object]:
        """(True, work's result), or (False, None) after reporting the failure through `failed`."""
        try:
            return True, work()
        except Exception as error:  # noqa: BLE001 - the worker must outlive any job
            failed(_describe_failure(error))
            return False, None

    @Slot(object, str, str, str)
    def load_model(self, checkpoint: Path | None, device: str, method: str = MODEL, runtime: str = "torch") -> None:
        """Load as Inpainter does, on the CPU where CUDA was asked for and is missing. The first load
        also answers devices_checked, whether CUDA is usable (which imports torch: here, not in the GUI
        thread), before loading where CUDA is asked for, else after answering, so that a classic fill
        is ready at once."""
        if device == "cuda":
            self._check_devices()
        device = "cpu" if device == "cuda" and not self._cuda else device
        ok, inpainter = self._run(lambda: Inpainter(checkpoint, device, method, runtime, openvino_cache_dir()), self.model_failed.emit)
        if ok:
            self.inpainter = inpainter
            self.model_loaded.emit(inpainter)
        self._check_devices()

    def _check_devices(self) -> None:
        if self._cuda is None:
            self._cuda = cuda_available()
            self.devices_checked.emit(self._cuda)

    @Slot(int, object, object, str, object, int, float, object)
    def fill(
        self, job: int, picture: Picture, hole: np.ndarray, strategy: str, seed: int | None, variations: int, strength: float,
        cancel: threading.Event,
    ) -> None:
        def work() -> object:
            if self.inpainter is None:
                raise InvertFillError("no model is loaded")
            return self.inpainter.fill(picture, hole, strategy, seed, variations, cancel=cancel, variation_strength=strength)

        ok, result = self._run(work, lambda message: self.fill_failed.emit(job, message))
        if ok:
            self.fill_finished.emit(job, result)

    @Slot(object, str, int, object)
    def batch(self, jobs: list[BatchJob], strategy: str, quality: int, cancel: threading.Event) -> None:
        def work() -> object:
            if self.inpainter is None:
                raise InvertFillError("no model is loaded")
            return run_batch(self.inpainter, jobs, strategy, quality=quality, progress=self.batch_progress.emit, cancel=cancel)

        ok, report = self._run(work, self.batch_failed.emit)
        if ok:
            self.batch_finished.emit(report)


class Engine(EngineAnswers):
    """The GUI's handle on the worker: requests go in, answers come back as this object's signals.

    `busy` is True from a request until its answer; the answer's signal is emitted first, with
    `busy` already False, then `busy_changed(False)`, so front ends see one consistent state.
    The loaded `Inpainter` is only read (description, device) from the GUI thread.
    """

    busy_changed = Signal(bool)
    _load_requested = Signal(object, str, str, str)
    _fill_requested = Signal(int, object, object, str, object, int, float, object)
    _batch_requested = Signal(object, str, int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self._thread = QThread()
        self._thread.setObjectName("invertfill-engine")
        self.worker = EngineWorker()
        self.worker.moveToThread(self._thread)
        self._load_requested.connect(self.worker.load_model)
        self._fill_requested.connect(self.worker.fill)
        self._batch_requested.connect(self.worker.batch)
        self.worker.devices_checked.connect(self._devices_checked)
        self.worker.model_loaded.connect(self._model_loaded)
        self.worker.model_failed.connect(self._model_failed)
        self.worker.fill_finished.connect(self._fill_finished)
        self.worker.fill_failed.connect(self._fill_failed)
        self.worker.batch_progress.connect(self.batch_progress)
        self.worker.batch_finished.connect(self._batch_finished)
        self.worker.batch_failed.connect(self._batch_failed)
        self._thread.start()
        self.inpainter: Inpainter | None = None
        self.cuda_available: bool | None = None
        """Whether a CUDA device is usable; None until the worker has checked (devices_checked)."""
        self._busy = False
        self._next_job = 0

    @property
    def busy(self) -> bool:
        return self._busy

    def _start(self) -> threading.Event:
        """Mark the engine busy; returns the new request's cancel event."""
        if self._busy:
            raise InvertFillError("the engine is still working on the previous request")
        self._cancel = threading.Event()
        self._busy = True
        self.busy_changed.emit(True)
        return self._cancel

    def _answer(self, signal: Signal, *args: object) -> None:
        self._busy = False
        signal.emit(*args)
        self.busy_changed.emit(False)

    @Slot(bool)
    def _devices_checked(self, cuda: bool) -> None:
        self.cuda_available = cuda
        self.devices_checked.emit(cuda)

    @Slot(object)
    def _model_loaded(self, inpainter: Inpainter) -> None:
        self.inpainter = inpainter
        self._answer(self.model_loaded, inpainter)

    @Slot(str)
    def _model_failed(self, message: str) -> None:
        self._answer(self.model_failed, message)

    @Slot(int, object)
    def _fill_finished(self, job: int, result: object) -> None:
        self._answer(self.fill_finished, job, result)

    @Slot(int, str)
    def _fill_failed(self, job: int, message: str) -> None:
        self._answer(self.fill_failed, job, message)

    @Slot(object)
    def _batch_finished(self, report: object) -> None:
        self._answer(self.batch_finished, report)

    @Slot(str)
    def _batch_failed(self, message: str) -> None:
        self._answer(self.batch_failed, message)

    def load_model(self, checkpoint: Path | None, device: str, method: str = MODEL, runtime: str = "torch") -> None:
        """Load `checkpoint` (None: the embedded default) on `device` with `runtime`
        (core.engine.model_runtime), or the classic fill `method` (core.engine.fill_registry);
        answers model_loaded or model_failed."""
        self._start()
        self._load_requested.emit(checkpoint, device, method, runtime)

    def fill(
        self, picture: Picture, hole: np.ndarray, strategy: str, seed: int | None = None, variations: int = 1,
        variation_strength: float = VARIATION_STRENGTH,
    ) -> int:
        """Fill a copy of `picture`; returns the job number that fill_finished / fill_failed will carry.

        fill_finished carries the FillResult, or None when the fill was cancelled.
        """
        cancel = self._start()
        self._next_job += 1
        picture = Picture(picture.pixels.copy())
        self._fill_requested.emit(self._next_job, picture, hole.astype(bool), strategy, seed, variations, variation_strength, cancel)
        return self._next_job

    def batch(self, jobs: list[BatchJob], strategy: str, quality: int) -> None:
        """Run a batch; answers batch_progress, then batch_finished or batch_failed."""
        cancel = self._start()
        self._batch_requested.emit(list(jobs), strategy, quality, cancel)

    def cancel(self) -> None:
        """Ask the running fill or batch to stop at its next check."""
        self._cancel.set()

    def shutdown(self) -> None:
        """Cancel what runs and stop the thread (waits for the current step to end)."""
        self._cancel.set()
        self._thread.quit()
        self._thread.wait()
