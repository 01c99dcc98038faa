"""An output device double that fails for a while and comes back (a virtual-camera driver hiccup)."""

from __future__ import annotations

import time

import numpy as np

from app.sinks.base import Sink


class FlakySink(Sink):
    """Wraps a real sink; while ``failing_until`` lies in the future every write raises ``OSError``.
    ``fail_for(seconds)`` starts an outage; ``recovered_at`` is when the first write after it went through."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner
        self.failing_until = 0.0
        self.failed_writes = 0
        self.outage_ended_at: float | None = None
        self.recovered_at: float | None = None

    def fail_for(self, seconds: float) -> None:
        self.failing_until = time.monotonic() + seconds
        self.outage_ended_at = self.failing_until
        self.recovered_at = None

    def start(self, width: int, height: int, fps: float) -> FlakySink:
        self.inner.start(width, height, fps)
        return self

    def write(self, frame_bgr: np.ndarray) -> None:
        now = time.monotonic()
        if now < self.failing_until:
            self.failed_writes += 1
            raise OSError("flaky output: driver not responding")
        self.inner.write(frame_bgr)
        if self.outage_ended_at is not None and self.recovered_at is None:
            self.recovered_at = now

    def stop(self) -> None:
        self.inner.stop()

    @property
    def device(self) -> str:
        return self.inner.device
