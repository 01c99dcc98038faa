"""Live numbers, small and out of the way: face status, fps, added latency, dropped frames, per-stage times."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget

from app.pipeline.frames import Status

STATE_TEXT = {
    "starting": "Starting: sending an obscured frame until your face is found",
    "face_found": "Face found",
    "face_lost": "Face lost: sending obscured frame",
    "extra_face": "More faces than set: sending obscured frame",
    "error": "Problem: sending obscured frame",
    "panic": "Panic: sending a fully obscured frame",
    "no_source": "No camera",
    "stopped": "Stopped",
}

STAGE_NAMES = {"read_wait": "wait", "track": "track", "filter": "filter", "sink": "send"}


def status_text(status) -> str:
    """One line for a pipeline ``Status``: the state in words, the face count, and the engine's message."""
    text = STATE_TEXT.get(status.state, status.state)
    if status.state == "face_found" and status.faces != 1:
        text = f"{status.faces} faces found"
    message = (status.message or "").strip()
    if status.state == "extra_face" and message:
        # The engine's words already say how many and what is sent; the window adds where the setting is.
        return f"{message[:1].upper()}{message[1:]}. To filter them all, raise Faces under Filter."
    if status.state in ("error", "no_source", "stopped") or status.state not in STATE_TEXT:
        detail = message  # the engine's words say what went wrong
    else:
        detail = message.partition(";")[2].strip()  # only what the engine appended (e.g. an output failing)
    return f"{text} — {detail}" if detail else text


class ElidedLabel(QLabel):
    """One line that takes the room it is given and ends in "…" when the text is longer; the whole text is the
    tooltip. A plain label asks for its full text's width, and a long status (an engine error, a message naming
    a file) widened the window past the screen's edge."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(80)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        self._full = text
        self.setToolTip(text)
        self.setAccessibleDescription(text)  # a screen reader gets the whole line, not the cut one
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = QFontMetrics(self.font()).elidedText(self._full, Qt.TextElideMode.ElideRight, max(self.width(), 1))
        super().setText(shown)


class StatsStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status_label = ElidedLabel("Starting…")
        self.status_label.setAccessibleName("Face status")
        self.faces_label = QLabel()
        self.faces_label.setAccessibleName("Face count")
        self.faces_label.setToolTip("Faces tracked in the current frame")
        self.stats_label = QLabel()
        self.stats_label.setAccessibleName("Performance")
        self.stats_label.setToolTip("Frames per second sent, latency added by Deadpan (median), frames dropped")
        self.stages_label = QLabel()
        self.stages_label.setAccessibleName("Stage times")
        self.stages_label.setToolTip("Average time per frame spent in each stage")
        self.addWidget(self.status_label, 1)
        self.addPermanentWidget(self.faces_label)
        self.addPermanentWidget(self.stats_label)
        self.addPermanentWidget(self.stages_label)

    def show_status(self, status) -> None:
        self.status_label.setText(status_text(status))
        self.faces_label.setText(f"Faces: {status.faces}")

    def show_no_source(self, message: str = "") -> None:
        """Nothing runs (no camera, or it would not open): say so, not the start-up text the bar opened with, in
        the words the engine's own "no_source" status gets; no face count, as nothing is tracked."""
        self.status_label.setText(status_text(Status("no_source", message)))
        self.faces_label.clear()

    def show_stats(self, stats) -> None:
        self.stats_label.setText(
            f"{stats.fps:.0f} fps · {stats.latency_p50_ms:.0f} ms (p95 {stats.latency_p95_ms:.0f}) · "
            f"{stats.dropped} dropped"
        )
        stages = [(STAGE_NAMES.get(name, name), ms) for name, ms in stats.stage_ms.items() if name != "total"]
        self.stages_label.setText(" · ".join(f"{name} {ms:.1f}" for name, ms in stages) + " ms")
