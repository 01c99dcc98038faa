"""A still image as a source.

Decision: with ``realtime=True`` (live use, e.g. testing the virtual camera without a webcam) the image is an
endless stream at ``fps``, each read a fresh copy (filters may draw on it); with ``realtime=False`` (offline
``process``) it is a single frame and the source then ends. This mirrors :class:`VideoFileSource`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np

from app.sources.base import CapturedFrame, Source, SourceError, SourceInfo
from app.sources.video_file import check_source_file

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pbm", ".pgm", ".ppm"})


def load_image(path: Path) -> np.ndarray:
    """Decode ``path`` as BGR or raise :class:`SourceError`. ``imdecode`` on the bytes, not ``imread``: imread
    cannot open non-ASCII paths on Windows."""
    check_source_file(path, "image")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"cannot read image {path}: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise SourceError(f"cannot decode {path} as an image: the file is damaged or not an image format OpenCV reads")
    return image


class ImageSource(Source):
    def __init__(self, path: str | Path, realtime: bool = True, fps: float = 30.0) -> None:
        if fps <= 0:
            raise ValueError("image source fps must be positive")
        self.path = Path(path)
        check_source_file(self.path, "image")
        self.realtime = realtime
        self.fps = float(fps)
        self._image: np.ndarray | None = None
        self._served = 0
        self._origin = 0.0
        self._stopped = threading.Event()
        self._info = SourceInfo(self.path.name, 0, 0, self.fps, None if realtime else 1)

    def start(self) -> ImageSource:
        if self._image is None:
            image = load_image(self.path)
            height, width = image.shape[:2]
            self._info = SourceInfo(self.path.name, width, height, self.fps, None if self.realtime else 1)
            self._image = image
            self._served = 0
            self._origin = time.monotonic()
            self._stopped.clear()
        return self

    def read(self, timeout: float | None = None) -> CapturedFrame | None:
        if self._image is None:
            if self._stopped.is_set():
                return None
            raise SourceError("image source not started: call start() first")
        if self.ended:
            return None
        if self.realtime:
            period = 1.0 / self.fps
            due = self._origin + self._served * period
            wait = due - time.monotonic()
            if wait < -period:
                self._origin = time.monotonic() - self._served * period  # the consumer was away: no catch-up burst
            elif wait > 0:
                if timeout is not None and wait > timeout:
                    self._stopped.wait(timeout)
                    return None
                if self._stopped.wait(wait):
                    return None
        image = self._image
        if image is None:  # stopped while waiting
            return None
        frame = CapturedFrame(image.copy(), time.monotonic(), self._served)
        self._served += 1
        return frame

    def stop(self) -> None:
        self._stopped.set()
        self._image = None

    @property
    def info(self) -> SourceInfo:
        return self._info

    @property
    def ended(self) -> bool:
        return not self.realtime and self._served >= 1
