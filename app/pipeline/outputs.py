"""One output (sink) inside the pipeline, with its health: a failing output is retried, never fatal."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from app.pipeline.frames import describe
from app.sinks.base import Sink, SinkError

log = logging.getLogger(__name__)


class SinkSlot:
    """One output and its health: opened lazily at the first frame's size, retried with back-off on failure."""

    FIRST_RETRY_S = 0.1
    MAX_RETRY_S = 0.5  # a driver that comes back is used again within half a second (recovery under 1 s)

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.size: tuple[int, int] | None = None  # (width, height) once started
        self.failures = 0
        self.retry_at = 0.0
        self.error = ""  # for the status line
        self.reason = ""  # the sink's own message

    def write(self, frame: np.ndarray, fps: float, now: float) -> None:
        if self.failures and now < self.retry_at:
            return
        try:
            if self.size is None:
                height, width = frame.shape[:2]
                self.sink.start(width, height, fps)
                self.size = (width, height)
            if (frame.shape[1], frame.shape[0]) != self.size:  # a new source of another size: keep the sink's
                frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
            self.sink.write(frame)
        except Exception as exc:
            self.failures += 1
            delay = min(self.MAX_RETRY_S, self.FIRST_RETRY_S * 2 ** (self.failures - 1))
            self.retry_at = now + delay
            # Sink errors are written for users (what to do); anything else gets its type for context.
            self.reason = str(exc).splitlines()[0] if isinstance(exc, SinkError) and str(exc) else describe(exc)
            self.error = f"output {self.sink.device} failed ({self.reason}), retrying in {delay:.1f} s"
            log.warning("%s", self.error)
        else:
            self.failures, self.error, self.reason = 0, "", ""

    def stop(self) -> None:
        if self.size is not None:
            self.size = None
            try:
                self.sink.stop()
            except Exception as exc:
                log.warning("output %s did not stop cleanly: %s", self.sink.device, describe(exc))
