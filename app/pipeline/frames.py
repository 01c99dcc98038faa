"""What travels through the pipeline and what it announces: per-frame results, status, the hand-over slot."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from app.events import EventEmitter
from app.sources.base import CapturedFrame
from filters import Face

STATES = ("starting", "face_found", "face_lost", "extra_face", "error", "panic", "no_source", "stopped")


@dataclass(frozen=True)
class Status:
    state: str
    message: str
    faces: int = 0


@dataclass(frozen=True)
class FrameResult:
    """``source_image`` is the RAW frame: for a local "before" preview ONLY, never for output.
    ``output`` is exactly what the sinks were handed."""

    source_image: np.ndarray
    output: np.ndarray
    faces: tuple[Face, ...]
    status: Status
    timings_ms: dict[str, float]
    captured_at: float
    sent_at: float


@dataclass
class PipelineEvents:
    frame: EventEmitter = field(default_factory=lambda: EventEmitter("frame"))
    status: EventEmitter = field(default_factory=lambda: EventEmitter("status"))
    stats: EventEmitter = field(default_factory=lambda: EventEmitter("stats"))


@dataclass
class Tracked:
    """A frame on its way from the tracking stage to the output stage."""

    captured: CapturedFrame
    faces: tuple[Face, ...] | None  # None: not tracked (tracking raised, or panic skipped it)
    error: str  # why tracking failed ("" if it did not)
    timings: dict[str, float]
    started: float  # perf_counter() when the frame was taken from the source
    generation: int  # bumped when the source changes: the output stage then starts afresh
    tracker_swapped: bool = False


class Mailbox:
    """One slot between the two stages: ``put`` replaces an untaken item (returns True if it did)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Tracked | None = None
        self.closed = False

    def put(self, item: Tracked) -> bool:
        with self._cond:
            replaced = self._item is not None
            self._item = item
            self._cond.notify_all()
            return replaced

    def take(self, timeout: float) -> Tracked | None:
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self.closed, timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


def describe(exc: BaseException) -> str:
    """An exception as one short line for a status message (type and the first line of its text)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:120]}" if text else type(exc).__name__
