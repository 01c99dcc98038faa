"""A one-slot mailbox from a worker thread to the GUI thread.

Workers may produce results (frames, comparisons) faster than the UI paints. Only the newest is kept and at
most one queued notification is in flight, so a slow UI skips results and never builds a queue (which would
show an ever older picture and eat memory).
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal


class NewestOnlyMailbox(QObject):
    """``offer(item)`` from any thread; ``ready(item)`` is emitted on the GUI thread with the newest item only.
    ``skipped`` counts items replaced before the UI took them. A closed mailbox drops what it is offered (a
    window that is closing must not receive late results)."""

    ready = Signal(object)
    _posted = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._latest: object | None = None
        self._pending = False
        self._closed = False
        self.skipped = 0
        self._posted.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def offer(self, item: object) -> None:
        # Runs on the worker's thread: no Qt work beyond posting one queued signal.
        with self._lock:
            if self._closed:
                return
            if self._latest is not None:
                self.skipped += 1
            self._latest = item
            if self._pending:
                return
            self._pending = True
        self._posted.emit()

    def set_open(self, is_open: bool) -> None:
        with self._lock:
            self._closed = not is_open
            self._latest = None

    def _deliver(self) -> None:
        with self._lock:
            item, self._latest = self._latest, None
            self._pending = False
        if item is not None:
            self.ready.emit(item)
