"""A tiny observer: the engine announces frames, status and statistics without knowing who listens.

No Qt here: the GUI connects callbacks that re-emit Qt signals (napari's model/view split).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Callback = Callable[..., Any]


class EventEmitter:
    """``connect(callback)`` then ``emit(*args)`` calls every callback on the emitting thread.

    A callback that raises is logged and skipped: a broken listener (a preview, a stats printer) must never
    stop the stream that feeds the call.
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._callbacks: list[Callback] = []
        self._lock = threading.Lock()

    def connect(self, callback: Callback) -> Callback:
        with self._lock:
            if callback not in self._callbacks:
                self._callbacks = [*self._callbacks, callback]
        return callback

    def disconnect(self, callback: Callback) -> None:
        with self._lock:
            self._callbacks = [c for c in self._callbacks if c != callback]

    def emit(self, *args: Any) -> None:
        for callback in self._callbacks:  # the list is replaced, never mutated: safe to iterate unlocked
            try:
                callback(*args)
            except Exception:
                log.exception("listener of event %r raised; ignored", self.name)

    def __len__(self) -> int:
        return len(self._callbacks)
