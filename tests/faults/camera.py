"""A camera device double: hands out prepared frames at a live camera's pace, and misbehaves on cue."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from app.sources.base import CapturedFrame, Source, SourceError, SourceInfo


@dataclass
class Delivery:
    """One thing the camera handed to the pipeline: the frame index, when, and what (maybe garbage)."""

    index: int
    at: float
    image: object


@dataclass
class CameraScript:
    """What goes wrong, keyed by frame index.

    ``stalls``: before frame i the device goes quiet for s seconds (``read`` returns None, stays live).
    ``read_errors``: before frame i every ``read`` raises ``SourceError`` for s seconds (an unplugged camera).
    ``payloads``: frame i is replaced by this object (garbage bytes, a wrong shape or dtype...).
    """

    stalls: dict[int, float] = field(default_factory=dict)
    read_errors: dict[int, float] = field(default_factory=dict)
    payloads: dict[int, object] = field(default_factory=dict)


class ScriptedCamera(Source):
    """Frame ``i`` is due at ``start + i / fps`` (plus any stall or outage so far). Like a live camera, a read
    returns the newest due frame and drops the older ones (counted in ``dropped``). ``deliveries`` records
    every frame handed out, and ``resumed_at[i]`` when frames came back after a stall or outage before ``i``."""

    def __init__(self, frames: Sequence[np.ndarray], fps: float = 30.0, script: CameraScript | None = None) -> None:
        self.frames = list(frames)
        self.fps = fps
        self.script = script or CameraScript()
        self.deliveries: list[Delivery] = []
        self.resumed_at: dict[int, float] = {}
        self.dropped = 0
        self._next = 0
        self._origin = 0.0
        self._outage: tuple[int, str, float] | None = None  # (frame index, kind, until)
        self._ended = False
        self._lock = threading.Lock()

    def start(self) -> ScriptedCamera:
        self._origin = time.monotonic()
        return self

    def stop(self) -> None:
        pass

    @property
    def info(self) -> SourceInfo:
        height, width = self.frames[0].shape[:2]
        return SourceInfo("scripted camera", width, height, self.fps, None)

    @property
    def ended(self) -> bool:
        return self._ended

    def _due(self, index: int) -> float:
        return self._origin + index / self.fps

    def read(self, timeout: float | None = None) -> CapturedFrame | None:
        timeout = 1.0 if timeout is None else timeout
        with self._lock:
            if self._next >= len(self.frames):
                self._ended = True
                return None
            if self._outage_pending(timeout):
                return None
            now = time.monotonic()
            wait = self._due(self._next) - now
            if wait > timeout:
                time.sleep(timeout)
                return None
            if wait > 0:
                time.sleep(wait)
            now = time.monotonic()
            # The newest frame that is due by now; the ones before it were missed (a live camera drops them).
            newest = self._next
            while newest + 1 < len(self.frames) and self._due(newest + 1) <= now and not self._scripted(newest + 1):
                newest += 1
            self.dropped += newest - self._next
            self._next = newest + 1
            image = self.script.payloads.get(newest, self.frames[newest])
            self.deliveries.append(Delivery(newest, now, image))
            return CapturedFrame(image, now, newest)  # type: ignore[arg-type]

    def _scripted(self, index: int) -> bool:
        return index in self.script.stalls or index in self.script.read_errors or index in self.script.payloads

    def _outage_pending(self, timeout: float) -> bool:
        """Start, continue or end a stall/outage before frame ``self._next``; True while it lasts."""
        index = self._next
        now = time.monotonic()
        if self._outage is None or self._outage[0] != index:
            for kind, table in (("stall", self.script.stalls), ("error", self.script.read_errors)):
                if index in table and index not in self.resumed_at:
                    self._outage = (index, kind, now + table[index])
                    break
            else:
                return False
        _, kind, until = self._outage
        if now >= until:
            # Back: shift the timeline so frames resume from here instead of being "missed".
            self._origin = now - index / self.fps
            self.resumed_at[index] = now
            self._outage = None
            return False
        if kind == "error":
            time.sleep(min(timeout, until - now, 0.01))
            raise SourceError("scripted camera: device unplugged")
        time.sleep(min(timeout, until - now))
        return True
