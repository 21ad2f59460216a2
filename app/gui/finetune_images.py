"""The fine-tune wizard's first page: the folder of the user's images, scanned in the background,
with counts, sizes, a strip of thumbnails and a verdict (app.gui.finetune_setup has the others)."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from core.errors import InvertFillError
from core.wording import counted
from training.folder_scan import FolderScan, scan_image_folder

from . import dialogs

STRIP_IMAGES = 12
THUMBNAIL = 96
STRIP_SPACING = 8
TYPING_PAUSE_MS = 500


def folder_row(field: QLineEdit, browse) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    button = QPushButton("Browse…")
    button.clicked.connect(browse)
    layout.addWidget(field)
    layout.addWidget(button)
    return row



class ImagesPage(QWizardPage):
    """The folder check runs in a background thread (a folder of large photos takes a while to
    decode); only the newest scan is shown."""

    scanned = Signal(int, object, str)

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Your images")
        self.setSubTitle("Pick or drop a folder of photos from the domain the model should learn (any depth).")
        self.setAcceptDrops(True)
        self.scan: FolderScan | None = None
        self._scans_started = self._scans_shown = 0
        self._scan_cancel = threading.Event()
        self.scanned.connect(self._show_scan)
        self.folder = QLineEdit()
        self._typing_pause = QTimer(self)
        self._typing_pause.setSingleShot(True)
        self._typing_pause.setInterval(TYPING_PAUSE_MS)
        self._typing_pause.timeout.connect(self._folder_typed)
        self.folder.textEdited.connect(self._typing_pause.start)
        self.folder.textEdited.connect(self.completeChanged)
        self.verdict = QLabel("No folder yet.")
        self.verdict.setWordWrap(True)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(110)
        self.strip = QListWidget()
        self.strip.setViewMode(QListWidget.ViewMode.IconMode)
        self.strip.setFlow(QListWidget.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
        self.strip.setGridSize(QSize(THUMBNAIL + STRIP_SPACING, THUMBNAIL + STRIP_SPACING))
        self.strip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll_bar = self.strip.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.strip.setFixedHeight(THUMBNAIL + STRIP_SPACING + scroll_bar + 2 * self.strip.frameWidth())
        layout = QVBoxLayout(self)
        layout.addWidget(folder_row(self.folder, self._browse))
        layout.addWidget(self.verdict)
        layout.addWidget(self.strip)
        layout.addWidget(self.details)

    def _folder_typed(self) -> None:
        """Check the typed folder once typing pauses (no Enter needed)."""
        text = self.folder.text().strip()
        if text and (self.scan is None or Path(text) != self.scan.folder):
            self.scan_folder(text)

    def _browse(self) -> None:
        folder = dialogs.choose_folder(self, "Folder of your images", self.folder.text())
        if folder:
            self.scan_folder(folder)

    def dragEnterEvent(self, event) -> None:
        if any(Path(url.toLocalFile()).is_dir() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        folders = [Path(url.toLocalFile()) for url in event.mimeData().urls() if Path(url.toLocalFile()).is_dir()]
        if folders:
            self.scan_folder(folders[0])

    @property
    def scanning(self) -> bool:
        return self._scans_shown != self._scans_started

    def scan_folder(self, folder: str | Path) -> None:
        """Check `folder` off the GUI thread (a check still running is cancelled); the page shows
        the result when it comes. The field keeps what the user typed when it names `folder`."""
        folder = Path(folder)
        if Path(self.folder.text().strip()) != folder:
            self.folder.setText(str(folder))
        self.strip.clear()
        self.details.clear()
        self.scan = None
        self._scans_started += 1
        self._scan_cancel.set()
        self._scan_cancel = threading.Event()
        self.verdict.setText(f"Checking the images in {folder.name}…")
        self.completeChanged.emit()
        threading.Thread(target=self._scan, args=(self._scans_started, folder, self._scan_cancel), daemon=True).start()

    def _scan(self, number: int, folder: Path, cancel: threading.Event) -> None:
        try:
            scan = scan_image_folder(folder, cancel=cancel)
        except InvertFillError as error:
            self.scanned.emit(number, None, str(error))
            return
        if scan is not None:
            self.scanned.emit(number, scan, "")

    def _show_scan(self, number: int, scan: FolderScan | None, problem: str) -> None:
        if number != self._scans_started:
            return
        self._scans_shown = number
        self.scan = scan
        self.completeChanged.emit()
        if scan is None:
            self.verdict.setText(problem)
            return
        self.verdict.setText(scan.verdict())
        lines = [f"{counted(len(scan.usable), 'usable image')}; {scan.size_summary()}".rstrip("; ")]
        lines += [f"unreadable: {path.name}: {reason}" for path, reason in scan.unreadable]
        lines += [f"duplicate: {path.name} is the same picture as {original.name} (used once)" for path, original in scan.duplicates]
        if scan.small:
            lines.append(f"{counted(len(scan.small), 'image')} under 256 px, to be upscaled")
        self.details.setPlainText("\n".join(lines))
        for info in scan.usable[:STRIP_IMAGES]:
            pixmap = QPixmap(str(info.path)).scaled(THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            self.strip.addItem(QListWidgetItem(pixmap, ""))

    def isComplete(self) -> bool:
        """A checked folder with enough images, and still the one in the field."""
        return self.scan is not None and self.scan.is_enough and Path(self.folder.text().strip()) == self.scan.folder
