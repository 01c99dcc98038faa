"""A pyvirtualcam backend that keeps what it is sent, so tests drive the real ``pyvirtualcam.Camera``.

The virtual-camera driver is the one thing that cannot exist on the build machines; everything above it
(``pyvirtualcam.Camera``'s shape checks and pacing, our sink, the pipeline) runs for real.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pyvirtualcam
from pyvirtualcam.util import decode_fourcc

BACKEND_NAME = "deadpan-test-capture"


class CaptureBackend:
    """Records every frame with its arrival time. Class-level store: pyvirtualcam constructs the backend itself."""

    frames: list[np.ndarray] = []
    times: list[float] = []
    opened: list[dict] = []
    fail_sends = 0  # raise on the next N sends (a driver that fails and comes back)
    lock = threading.Lock()

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw) -> None:
        self._shape = (width, height)
        self._fourcc = decode_fourcc(fourcc)
        self._device = device or "Deadpan Test Camera"
        with CaptureBackend.lock:
            CaptureBackend.opened.append(
                {"width": width, "height": height, "fps": fps, "fourcc": self._fourcc, "device": self._device}
            )

    def send(self, frame: np.ndarray) -> None:
        with CaptureBackend.lock:
            if CaptureBackend.fail_sends > 0:
                CaptureBackend.fail_sends -= 1
                raise OSError("capture backend: simulated driver failure")
            width, height = self._shape
            CaptureBackend.frames.append(frame.reshape(height, width, -1).copy())
            CaptureBackend.times.append(time.monotonic())

    def device(self) -> str:
        return self._device

    def close(self) -> None:
        pass

    @classmethod
    def clear(cls) -> None:
        with cls.lock:
            cls.frames = []
            cls.times = []
            cls.opened = []
            cls.fail_sends = 0

    @classmethod
    def received_bgr(cls) -> list[np.ndarray]:
        """Frames as H x W x 3 (BGR when the sink opened the camera with PixelFormat.BGR)."""
        with cls.lock:
            return list(cls.frames)


def register() -> type[CaptureBackend]:
    pyvirtualcam.register_backend(BACKEND_NAME, CaptureBackend)
    CaptureBackend.clear()
    return CaptureBackend
