"""From the session's plain-Python events (any thread) to Qt signals (the GUI thread).

Frames are special: the pipeline may produce them faster than the UI paints. The bridge keeps only the newest
one in a one-slot mailbox and posts at most one queued notification at a time, so a slow UI skips frames and
never builds a queue (which would show an ever older picture and eat memory).
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal

from app.session import Session


class SessionBridge(QObject):
    """Qt signals for a :class:`Session`. ``frame`` carries the newest ``FrameResult`` only."""

    frame = Signal(object)  # FrameResult, on the GUI thread, newest only
    status = Signal(object)  # Status
    stats = Signal(object)  # StatsSnapshot
    setting_changed = Signal(str, object)
    virtual_camera = Signal(object)  # VirtualCameraState
    cameras = Signal(object)  # list[CameraInfo]
    source = Signal(object)  # SourceState
    message = Signal(str)

    _frame_posted = Signal()

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._lock = threading.Lock()
        self._latest = None
        self._posted = False
        self.frames_skipped = 0  # frames replaced in the mailbox before the UI took them
        self._frame_posted.connect(self._deliver_frame, Qt.ConnectionType.QueuedConnection)
        events = session.events
        self._connections = [
            (events.frame, self._on_frame),
            (events.status, self.status.emit),
            (events.stats, self.stats.emit),
            (events.changed, self.setting_changed.emit),
            (events.virtual_camera, self.virtual_camera.emit),
            (events.cameras, self.cameras.emit),
            (events.source, self.source.emit),
            (events.message, self.message.emit),
        ]
        for emitter, callback in self._connections:
            emitter.connect(callback)

    def detach(self) -> None:
        """Stop listening (the window is closing; late frames must not reach deleted widgets)."""
        for emitter, callback in self._connections:
            emitter.disconnect(callback)

    def _on_frame(self, result) -> None:
        # Runs on the pipeline thread: no Qt work beyond posting one queued signal.
        with self._lock:
            if self._latest is not None:
                self.frames_skipped += 1
            self._latest = result
            if self._posted:
                return
            self._posted = True
        self._frame_posted.emit()

    def _deliver_frame(self) -> None:
        with self._lock:
            result, self._latest = self._latest, None
            self._posted = False
        if result is not None:
            self.frame.emit(result)
