"""First run: fetch the face model with a progress bar and a Cancel button; offline, say how to supply it."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.model_store import MODEL_SIZE, MODEL_URL, ModelError, cached_model_path, check_model_bundle, resolve_model


class ModelDownloadDialog(QDialog):
    """Downloads as soon as it is shown. ``model_path`` is set once a usable model is in place (accepted)."""

    _progressed = Signal(int, int)
    _finished = Signal(object)  # Path or ModelError

    def __init__(
        self, parent: QWidget | None = None, *, url: str = MODEL_URL, cache_dir: str | Path | None = None
    ) -> None:
        super().__init__(parent)
        self.url = url
        self.cache_dir = cache_dir
        self.model_path: Path | None = None
        self.error: str = ""
        self._cancel = threading.Event()
        self._worker: threading.Thread | None = None
        self.setWindowTitle("Getting the face model")
        self.setAccessibleName("Face model download")
        self.explanation = QLabel(
            f"Deadpan needs MediaPipe's face model ({MODEL_SIZE / 1e6:.1f} MB). It is downloaded once from Google's "
            "model server, checked, and kept on this computer. Your camera images are never sent anywhere."
        )
        self.explanation.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setAccessibleName("Download progress")
        self.detail = QLabel("Connecting…")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox()
        self.retry_button = QPushButton("&Retry")
        self.choose_button = QPushButton("&Choose model file…")
        self.choose_button.setToolTip("Use a face_landmarker.task file you already have")
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton(self.retry_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.choose_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.retry_button.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.explanation)
        layout.addWidget(self.progress)
        layout.addWidget(self.detail)
        layout.addWidget(self.buttons)
        # Wide enough for the explanation in a few lines: a dialog sized to "Connecting…" would squeeze it.
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 64)
        self.cancel_button.clicked.connect(self.cancel)
        self.retry_button.clicked.connect(self.start)
        self.choose_button.clicked.connect(self.choose_file)
        self._progressed.connect(self._show_progress)
        self._finished.connect(self._done)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._worker is None:
            self.start()

    def start(self) -> None:
        self._cancel = threading.Event()
        self.retry_button.hide()
        self.progress.setValue(0)
        self.detail.setText("Connecting…")
        cancel = self._cancel
        self._worker = threading.Thread(target=self._download, args=(cancel,), name="model-download", daemon=True)
        self._worker.start()

    def _download(self, cancel: threading.Event) -> None:
        try:
            path = resolve_model(
                download=True, progress=self._progressed.emit, cancel=cancel, url=self.url, cache_dir=self.cache_dir
            )
        except ModelError as exc:
            self._finished.emit(exc)
            return
        self._finished.emit(path)

    def _say(self, text: str) -> None:
        """Show ``text`` under the progress bar and grow the dialog to it: the offline message is several lines
        (where to put the file), and a dialog keeps the size it opened with, clipping every label to fit."""
        self.detail.setText(text)
        self.adjustSize()

    def _show_progress(self, done: int, total: int) -> None:
        total = total or MODEL_SIZE
        self.progress.setValue(min(100, round(100 * done / total)))
        self.detail.setText(f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")

    def _done(self, outcome: object) -> None:
        if isinstance(outcome, Path):
            self.model_path = outcome
            self.progress.setValue(100)
            self.accept()
            return
        if self._cancel.is_set():
            return  # cancel() already closed the dialog
        self.error = str(outcome)
        # The error's own fix speaks to the command line (--model, DEADPAN_MODEL); here the buttons are the way out.
        problem = outcome.problem if isinstance(outcome, ModelError) else self.error
        self._say(
            f"{problem}.\n\nCheck the network connection and press Retry. Without one: copy face_landmarker.task "
            f"(from the address above) to {cached_model_path(self.cache_dir)}, or press “Choose model file…”."
        )
        self.retry_button.show()

    def cancel(self) -> None:
        self._cancel.set()
        self.reject()

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the face model", str(Path.home()), "Model (*.task)")
        if path:
            self.use_file(path)

    def use_file(self, path: str | Path) -> bool:
        try:
            check_model_bundle(path)
        except ModelError as exc:
            self._say(str(exc))
            return False
        self._cancel.set()  # a download still running is abandoned
        self.model_path = Path(path)
        self.accept()
        return True


def ensure_model(
    parent: QWidget | None = None,
    explicit: str | Path | None = None,
    *,
    url: str = MODEL_URL,
    cache_dir: str | Path | None = None,
) -> Path | None:
    """The model to use, asking for the first-run download when there is none; ``None`` if the user cancelled."""
    try:
        return resolve_model(explicit, download=False, cache_dir=cache_dir)
    except ModelError as exc:
        dialog = ModelDownloadDialog(parent, url=url, cache_dir=cache_dir)
        if explicit is not None:  # the user's own file is unusable: say so above the download
            # Only the problem: its fix names --model and DEADPAN_MODEL, the command line's ways out, while this
            # dialog offers its own (the download, Choose model file…).
            dialog.explanation.setText(f"{exc.problem}.\n\n{dialog.explanation.text()}")
    return dialog.model_path if dialog.exec() == QDialog.DialogCode.Accepted else None
