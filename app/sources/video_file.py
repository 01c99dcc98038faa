"""A video file as a source: paced at its own frame rate for live use, or every frame as fast as possible."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2

from app.sources.base import CapturedFrame, Source, SourceError, SourceInfo
from app.sources.latest_frame import LatestFrame, as_bgr

_FALLBACK_FPS = 30.0


def open_video(path: Path) -> cv2.VideoCapture:
    """Open ``path`` with OpenCV or raise :class:`SourceError` saying why (missing, a folder, unreadable)."""
    if not path.exists():
        raise SourceError(f"video file not found: {path}")
    if not path.is_file():
        raise SourceError(f"not a video file: {path} is a folder")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"cannot read {path} as a video: the file is damaged or in a format OpenCV cannot decode")
    return capture


def check_source_file(path: Path, kind: str) -> None:
    if not path.exists():
        raise SourceError(f"{kind} file not found: {path}")
    if not path.is_file():
        raise SourceError(f"not a {kind} file: {path} is a folder")


class VideoFileSource(Source):
    """Frames of a video file.

    ``realtime=True`` (live use, e.g. standing in for a camera): a thread decodes at the file's own fps and,
    like a camera, keeps only the newest frame; frames the consumer did not take in time are dropped.
    ``realtime=False`` (offline processing): ``read`` decodes the next frame on the caller's thread, so every
    frame comes out, in order, as fast as the consumer goes. ``loop`` starts again at the end instead of ending.
    """

    def __init__(self, path: str | Path, realtime: bool = True, loop: bool = False) -> None:
        self.path = Path(path)
        check_source_file(self.path, "video")
        self.realtime = realtime
        self.loop = loop
        self._capture: cv2.VideoCapture | None = None
        self._pending = None  # the first frame, decoded in start() to prove the file is readable
        self._info = SourceInfo(self.path.name, 0, 0, _FALLBACK_FPS, None)
        self._slot = LatestFrame()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._offline_index = 0
        self._ended = False
        self._started = False

    def start(self) -> VideoFileSource:
        if self._capture is not None:
            return self
        capture = open_video(self.path)
        ok, first = capture.read()
        if not ok or first is None:
            capture.release()
            raise SourceError(f"{self.path} has no readable video frames: the file is damaged or its codec unsupported")
        fps = capture.get(cv2.CAP_PROP_FPS)
        fps = fps if 0 < fps <= 1000 else _FALLBACK_FPS
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        height, width = first.shape[:2]
        self._info = SourceInfo(self.path.name, width, height, float(fps), count if count > 0 else None)
        self._capture, self._pending = capture, as_bgr(first)
        self._ended = False
        self._offline_index = 0
        self._started = True
        if self.realtime:
            self._slot = LatestFrame()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"video-{self.path.name}", daemon=True)
            self._thread.start()
        return self

    def _next_image(self):
        """The next decoded frame, rewinding when looping; ``None`` at the end. Runs on one thread at a time."""
        if self._pending is not None:
            image, self._pending = self._pending, None
            return image
        for _attempt in range(2):
            ok, image = self._capture.read()
            if ok and image is not None:
                return as_bgr(image)
            if not self.loop:
                return None
            # Reopen rather than seek: seeking to frame 0 is unreliable for some codecs and containers.
            self._capture.release()
            self._capture = open_video(self.path)
        return None

    def _run(self) -> None:
        period = 1.0 / self._info.fps
        origin = time.monotonic()
        shown = 0
        try:
            while not self._stop.is_set():
                try:
                    image = self._next_image()
                except SourceError:
                    image = None
                if image is None:
                    break
                delay = origin + shown * period - time.monotonic()
                if delay > 0:
                    if self._stop.wait(delay):
                        break
                elif delay < -period:
                    origin = time.monotonic() - shown * period  # decoding fell behind: re-anchor, never burst
                self._slot.put(image, time.monotonic())
                shown += 1
        finally:
            self._slot.close()

    def read(self, timeout: float | None = None) -> CapturedFrame | None:
        if not self._started:
            raise SourceError("video source not started: call start() first")
        if self.realtime:
            return self._slot.take(timeout)
        if self._ended or self._capture is None:
            return None
        image = self._next_image()
        if image is None:
            self._ended = True
            return None
        frame = CapturedFrame(image, time.monotonic(), self._offline_index)
        self._offline_index += 1
        return frame

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=3.0)
        self._slot.close(discard=True)
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    @property
    def info(self) -> SourceInfo:
        return self._info

    @property
    def ended(self) -> bool:
        if self.realtime:
            return self._started and self._slot.exhausted
        return self._ended

    @property
    def dropped(self) -> int:  # type: ignore[override]
        return self._slot.dropped if self.realtime else 0
