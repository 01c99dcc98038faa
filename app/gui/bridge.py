"""From the session's plain-Python events (any thread) to Qt signals (the GUI thread).

Frames are special: the pipeline may produce them faster than the UI paints, so they go through a
:class:`NewestOnlyMailbox` (the UI skips frames rather than queueing them).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.gui.mailbox import NewestOnlyMailbox
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

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._frames = NewestOnlyMailbox(self)
        self._frames.ready.connect(self.frame.emit)
        events = session.events
        self._connections = [
            (events.frame, self._frames.offer),
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

    @property
    def frames_skipped(self) -> int:
        """Frames replaced in the mailbox before the UI took them."""
        return self._frames.skipped
