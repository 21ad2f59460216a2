"""The fine-tune running in a separate process (`--finetune-job`), read as JSON lines through QProcess.

A separate process keeps the GUI responsive and makes Cancel safe: the job is asked to stop
(it saves its last checkpoint), and killed if it has not stopped after a grace period. The app's
log records each start and end, and a failure with the job's last output lines.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

CANCEL_GRACE_MS = 15000
TAIL_LINES = 20
log = logging.getLogger(__name__)


def finetune_command(spec: Path) -> tuple[str, list[str]]:
    """The program and arguments that run a fine-tune job, from source or in a frozen build."""
    if getattr(sys, "frozen", False):
        return sys.executable, ["--finetune-job", str(spec)]
    main = Path(__file__).resolve().parents[2] / "main.py"
    return sys.executable, [str(main), "--finetune-job", str(spec)]


class TrainingProcess(QObject):
    """message(dict): each JSON line; succeeded(dict): the "done" message; failed(str, str): reason and last output lines."""

    message = Signal(dict)
    succeeded = Signal(dict)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process = QProcess(self)
        self.process.readyReadStandardOutput.connect(self._read_stdout)
        self.process.readyReadStandardError.connect(self._read_stderr)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        self._partial = ""
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._outcome: dict | None = None
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self.process.kill)
        self.succeeded.connect(lambda outcome: log.info("fine-tune finished: %s", outcome.get("checkpoint")))
        self.failed.connect(self._log_failure)

    @property
    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def start(self, spec: Path) -> None:
        program, arguments = finetune_command(spec)
        self._outcome = None
        log.info("fine-tune started: %s", spec)
        self.process.start(program, arguments)

    def cancel(self) -> None:
        """Ask the job to stop and save; kill it if it is still running after the grace period."""
        if self.running:
            self.process.write(b"cancel\n")
            self._kill_timer.start(CANCEL_GRACE_MS)

    def tail(self) -> str:
        return "\n".join(self._tail)

    @staticmethod
    def _log_failure(reason: str, tail: str) -> None:
        log.error("fine-tune failed: %s%s", reason, f"; its last output:\n{tail}" if tail else "")

    def _read_stdout(self) -> None:
        text = self._partial + bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        *lines, self._partial = text.split("\n")
        for line in lines:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                self._tail.append(line)
                continue
            if message.get("type") in ("done", "error"):
                self._outcome = message
            self.message.emit(message)

    def _read_stderr(self) -> None:
        for line in bytes(self.process.readAllStandardError()).decode("utf-8", "replace").splitlines():
            self._tail.append(line)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        self._read_stdout()
        self._read_stderr()
        if self._outcome is not None and self._outcome["type"] == "done":
            self.succeeded.emit(self._outcome)
        elif self._outcome is not None:
            self.failed.emit(self._outcome["message"], self.tail())
        elif status == QProcess.ExitStatus.CrashExit:
            self.failed.emit("the training process was stopped before it could save", self.tail())
        else:
            self.failed.emit(f"the training process ended unexpectedly (exit status {code})", self.tail())

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.failed.emit(f"the training process could not start: {self.process.errorString()}", "")
