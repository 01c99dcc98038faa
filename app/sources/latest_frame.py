"""A one-frame mailbox between a capture thread and the consumer: only the newest frame is kept."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from app.sources.base import CapturedFrame


class LatestFrame:
    """``put`` replaces any frame the consumer has not taken yet (and counts it in ``dropped``), so a slow
    consumer always gets the freshest frame and never a queue of stale ones. ``close`` says no more will come."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: CapturedFrame | None = None
        self._closed = False
        self._next_index = 0
        self.dropped = 0

    def put(self, image: np.ndarray, captured_at: float) -> None:
        with self._cond:
            if self._closed:
                return  # a read that finished after stop(): nobody will take it
            if self._frame is not None:
                self.dropped += 1
            self._frame = CapturedFrame(image, captured_at, self._next_index)
            self._next_index += 1
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> CapturedFrame | None:
        """The newest untaken frame, waiting up to ``timeout`` s; ``None`` on time-out or once closed and empty."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout)
            frame, self._frame = self._frame, None
            return frame

    def close(self, discard: bool = False) -> None:
        with self._cond:
            self._closed = True
            if discard:
                self._frame = None
            self._cond.notify_all()

    @property
    def exhausted(self) -> bool:
        """Closed and nothing left to take."""
        with self._cond:
            return self._closed and self._frame is None

    @property
    def produced(self) -> int:
        return self._next_index


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Drivers and files sometimes hand out grey or BGRA images; everything downstream expects 3-channel BGR."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image
