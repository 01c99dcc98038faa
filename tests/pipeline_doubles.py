"""Test doubles for the two things that cannot exist on a build machine: a camera device and an output device.

``ListSource`` hands out prepared frames like a live camera (optionally paced, optionally stalling);
``CollectSink`` keeps what it is given. Everything between them (tracker, filters, pipeline) is real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import cv2
import numpy as np

from app.sinks.base import Sink
from app.sources.base import CapturedFrame, Source, SourceInfo
from filters import Face


class ListSource(Source):
    """Hands out ``frames`` in order. ``fps``: pace reads like a camera (None = as fast as asked).
    ``stall_at``/``stall_s``: before frame ``stall_at`` the source goes quiet (read returns None) for
    ``stall_s`` seconds while staying live, like an unplugged-then-replugged camera."""

    def __init__(
        self, frames: Sequence[np.ndarray], fps: float | None = None, stall_at: int = -1, stall_s: float = 0.0
    ) -> None:
        self.frames = list(frames)
        self.fps = fps
        self.stall_at, self.stall_s = stall_at, stall_s
        self._next = 0
        self._ended = False
        self._next_due = 0.0
        self._stall_until: float | None = None
        self.started = self.stopped = False

    def start(self) -> ListSource:
        self.started = True
        self._next_due = time.monotonic()
        return self

    def stop(self) -> None:
        self.stopped = True

    def read(self, timeout: float | None = None) -> CapturedFrame | None:
        if self._next >= len(self.frames):
            self._ended = True
            return None
        now = time.monotonic()
        if self._next == self.stall_at:
            if self._stall_until is None:
                self._stall_until = now + self.stall_s
            if now < self._stall_until:
                time.sleep(min(timeout or 0.01, self._stall_until - now))
                return None
            self.stall_at = -1
        if self.fps:
            if now < self._next_due:
                wait = self._next_due - now
                if timeout is not None and wait > timeout:
                    time.sleep(timeout)
                    return None
                time.sleep(wait)
            self._next_due = max(self._next_due + 1.0 / self.fps, time.monotonic() - 1.0 / self.fps)
        frame = CapturedFrame(self.frames[self._next], time.monotonic(), self._next)
        self._next += 1
        return frame

    @property
    def info(self) -> SourceInfo:
        height, width = self.frames[0].shape[:2]
        return SourceInfo("frames", width, height, self.fps or 30.0, len(self.frames))

    @property
    def ended(self) -> bool:
        return self._ended


class CollectSink(Sink):
    """Keeps every frame it is handed, with the time it arrived. ``fail_writes``: raise on the first N writes."""

    def __init__(self, fail_writes: int = 0, name: str = "collector") -> None:
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.fail_writes = fail_writes
        self.failed = 0
        self.opened: tuple[int, int, float] | None = None
        self.stopped = False
        self.name = name
        self._lock = threading.Lock()

    def start(self, width: int, height: int, fps: float) -> CollectSink:
        self.opened = (width, height, fps)
        return self

    def write(self, frame_bgr: np.ndarray) -> None:
        if self.failed < self.fail_writes:
            self.failed += 1
            raise OSError("simulated output failure")
        with self._lock:
            self.frames.append(frame_bgr)
            self.times.append(time.monotonic())

    def stop(self) -> None:
        self.stopped = True

    @property
    def device(self) -> str:
        return self.name


def face_hull_mask(shape_hw: tuple[int, int], face: Face, grow: float = 1.0) -> np.ndarray:
    """A boolean mask of the face's landmark hull, scaled about its centre by ``grow``."""
    pts = face.points.astype(np.float64)
    centre = pts.mean(axis=0)
    pts = centre + (pts - centre) * grow
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    mask = np.zeros(shape_hw, np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def detail(frame: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute Laplacian (fine detail: eyes, mouth, edges) inside ``mask``."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(gray, cv2.CV_32F))[mask].mean())


def face_hidden(output: np.ndarray, raw: np.ndarray, face: Face) -> bool:
    """True if the face region of ``output`` keeps little of the raw face's detail and differs from it.
    Only the inner face (eyes, nose, mouth) is measured: the filter's feathered margin lies outside it."""
    inner = face_hull_mask(raw.shape[:2], face, grow=0.8)
    changed = float(np.abs(output.astype(np.int16) - raw.astype(np.int16))[inner].mean())
    return detail(output, inner) < 0.35 * detail(raw, inner) and changed > 3.0


def paint_over_face(frame: np.ndarray, face: Face) -> np.ndarray:
    """The frame with the face (and a generous margin) cut out and filled with a flat colour."""
    out = frame.copy()
    mask = face_hull_mask(frame.shape[:2], face, grow=1.6)
    out[mask] = (120, 120, 120)
    return out
