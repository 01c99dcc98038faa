"""Calibration: guide the user into a relaxed face, count down, capture with progress, show the captured
neutral, and offer redo, save for next time, or clear (the neutraliser's automatic reference is used until then)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.gui.preview import bgr_to_qimage
from app.session import Session

GUIDANCE = "Relax your face and look at the camera.\nKeep still, mouth closed, eyes open, until the bar is full."
POLL_MS = 50
GIVE_UP_AFTER_S = 10.0  # beyond the capture time: the filter never finished (no face, engine stopped)


class CalibrationDialog(QDialog):
    """Runs one calibration when shown (after ``countdown_s``); ``finished_capture(ok)`` reports the result."""

    finished_capture = Signal(bool)
    reference_changed = Signal()  # cleared or saved: what the main window says about the reference changed

    def __init__(
        self, session: Session, parent: QWidget | None = None, *, countdown_s: float = 3.0, capture_s: float = 3.0
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.countdown_s = countdown_s
        self.capture_s = capture_s
        self.setWindowTitle("Calibrate your neutral face")
        self.setAccessibleName("Calibration")
        self.guidance = QLabel(GUIDANCE)
        self.guidance.setWordWrap(True)
        self.guidance.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.countdown_label = QLabel()
        self.countdown_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.countdown_label.font()
        font.setPointSizeF(font.pointSizeF() * 2.2)
        font.setBold(True)
        self.countdown_label.setFont(font)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setAccessibleName("Calibration progress")
        self.reference_view = QLabel()
        self.reference_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reference_view.setWordWrap(True)  # the words shown when there is no picture run to three lines
        self.reference_view.setMinimumSize(160, 160)
        self.reference_view.setAccessibleName("Captured neutral face")
        self.redo_button = QPushButton("&Redo")
        self.redo_button.setToolTip("Capture the neutral face again")
        self.save_button = QPushButton("&Save for next time")
        self.save_button.setToolTip(
            f"Keep this neutral face in {session.saved_reference_path} (landmarks and two small crops, "
            "never a full frame) and use it whenever Deadpan starts"
        )
        self.clear_button = QPushButton("C&lear")
        self.clear_button.setToolTip("Forget the captured face, and the saved one, and use the automatic reference")
        self.done_button = QPushButton("&Done")
        self.done_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.redo_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        buttons.addWidget(self.done_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.guidance)
        layout.addWidget(self.countdown_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.reference_view)
        layout.addLayout(buttons)
        self.redo_button.clicked.connect(self.begin)
        self.save_button.clicked.connect(self.save)
        self.clear_button.clicked.connect(self.clear)
        self.done_button.clicked.connect(self.accept)

        self.phase = "idle"  # idle | countdown | capturing | done | failed
        self._phase_started = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._tick)
        self._show_reference()

    def begin(self) -> None:
        """(Re)start: countdown, then capture."""
        self.guidance.setText(GUIDANCE)
        self._enter("countdown")
        self.progress.setValue(0)
        self._timer.start()
        self._tick()

    def clear(self) -> None:
        self._timer.stop()
        self.session.clear_reference()
        self._enter("idle")
        self.countdown_label.setText("")
        self.progress.setValue(0)
        self._show_reference()
        self.reference_changed.emit()

    def save(self) -> None:
        try:
            path = self.session.save_reference()
        except (RuntimeError, OSError) as exc:
            self.guidance.setText(f"Could not save your neutral face: {exc}")
            return
        self.save_button.setEnabled(False)
        self.guidance.setText(f"Saved to {path}. Deadpan uses it whenever it starts; Clear forgets it.")
        self.reference_changed.emit()

    def _enter(self, phase: str) -> None:
        self.phase = phase
        self._phase_started = time.monotonic()
        capturing = phase in ("countdown", "capturing")
        self.redo_button.setEnabled(not capturing)
        self.clear_button.setEnabled(not capturing)
        self.save_button.setEnabled(phase == "done")

    def _tick(self) -> None:
        elapsed = time.monotonic() - self._phase_started
        if self.phase == "countdown":
            left = self.countdown_s - elapsed
            if left > 0:
                self.countdown_label.setText(f"{int(left) + 1}")
                return
            if not self.session.calibration_ready:  # the neutraliser is switched in between two frames
                if elapsed > self.countdown_s + GIVE_UP_AFTER_S:
                    self._fail("The camera is not delivering frames. Check it and press Redo.")
                else:
                    self.countdown_label.setText("Getting ready…")
                return
            self.session.start_calibration(seconds=self.capture_s)
            self._enter("capturing")
            self.countdown_label.setText("Hold still…")
        elif self.phase == "capturing":
            progress = self.session.calibration_progress
            if progress is not None:
                self.progress.setValue(round(100 * progress))
                if elapsed > self.capture_s + GIVE_UP_AFTER_S:
                    self._fail("No face was seen long enough. Face the camera in good light and press Redo.")
                return
            self._timer.stop()
            if self.session.reference_source == "calibrated":
                self._enter("done")
                self.progress.setValue(100)
                self.countdown_label.setText("Captured")
                self._show_reference()
                self.finished_capture.emit(True)
            else:
                why = self.session.calibration_message or "no face was captured"
                self._fail(f"Calibration did not work ({why}). Face the camera in good light and press Redo.")

    def _fail(self, message: str) -> None:
        self._timer.stop()
        self._enter("failed")
        self.countdown_label.setText("")
        self.guidance.setText(message)
        self.finished_capture.emit(False)

    def _show_reference(self) -> None:
        image = self.session.reference_image()
        automatic = self.session.reference_source in ("auto", None)
        if image is None or automatic:
            self.reference_view.setPixmap(QPixmap())
            self.reference_view.setText(
                "No neutral face captured yet: the automatic reference is in use."
                if automatic
                else "Your face's shape is captured, but your lips were apart, so there is no picture of your "
                "closed mouth: one is taken from a calm moment with your lips together (or press Redo with "
                "your lips closed)."
            )
            return
        if self.session.reference_source == "saved":
            self.guidance.setText("Your saved neutral face is in use. Redo to capture it again, Clear to forget it.")
        pixmap = QPixmap.fromImage(bgr_to_qimage(image))
        self.reference_view.setPixmap(
            pixmap.scaled(200, 200, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        )

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self.phase == "idle":
            self.begin()

    def done(self, result: int) -> None:
        self._timer.stop()
        super().done(result)
