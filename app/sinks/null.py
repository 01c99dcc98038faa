"""A sink that keeps nothing: for measuring the pipeline without an output device."""

from __future__ import annotations

import time

import numpy as np

from app.sinks.base import Sink, SinkError


class NullSink(Sink):
    """Counts frames and remembers when the last one came; checks their shape like a real output would."""

    def __init__(self) -> None:
        self.frames = 0
        self.last_write_at: float | None = None
        self.size: tuple[int, int] | None = None
        self.fps: float | None = None

    def start(self, width: int, height: int, fps: float) -> NullSink:
        self.size, self.fps = (width, height), fps
        return self

    def write(self, frame_bgr: np.ndarray) -> None:
        if self.size is None:
            raise SinkError("null sink not started")
        if frame_bgr.shape[1::-1] != self.size:
            raise SinkError(f"frame of shape {frame_bgr.shape} sent to a {self.size[0]}x{self.size[1]} null sink")
        self.frames += 1
        self.last_write_at = time.monotonic()

    def stop(self) -> None:
        self.size = None

    @property
    def device(self) -> str:
        return "null"
