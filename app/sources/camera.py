"""A webcam (or anything ``cv2.VideoCapture`` opens as a live stream) read on its own thread."""

from __future__ import annotations

import sys
import threading
import time

import cv2

from app.sources.base import CapturedFrame, Source, SourceError, SourceInfo
from app.sources.latest_frame import LatestFrame, as_bgr


def _default_api(device: int | str) -> int:
    # V4L2 directly on Linux: the generic backend may pick GStreamer, which ignores CAP_PROP_BUFFERSIZE.
    is_device = isinstance(device, int) or str(device).startswith("/dev/")
    if sys.platform.startswith("linux") and is_device:
        return cv2.CAP_V4L2
    if sys.platform == "win32" and isinstance(device, int):
        return cv2.CAP_DSHOW  # opens in ~1 s where MSMF can take 5-10 s
    return cv2.CAP_ANY


class CameraSource(Source):
    """A live camera. A capture thread reads continuously and keeps only the newest frame (older untaken frames
    are counted in ``dropped``); the driver's own queue is set to one frame so it adds no latency either.

    ``width``/``height``/``fps`` are requests: ``info`` reports what the driver granted. When reads fail (camera
    unplugged, taken by another app) the source does not raise: ``read`` returns ``None``, ``stalled`` becomes
    True after ``stall_after`` s without a frame, and the device is reopened every ``reopen_after`` s, with
    back-off between failed reads, until frames flow again.
    """

    def __init__(
        self,
        device: int | str,
        width: int = 1280,
        height: int = 720,
        fps: float = 30,
        *,
        fourcc: str | None = "MJPG",
        name: str | None = None,
        api: int | None = None,
        stall_after: float = 0.5,
        reopen_after: float = 2.0,
    ) -> None:
        if width <= 0 or height <= 0 or fps <= 0:
            raise ValueError("camera width, height and fps must be positive")
        self.device = device
        self._requested = (int(width), int(height), float(fps))
        # MJPG lets USB 2 webcams deliver 720p at 30 fps (uncompressed YUYV is often capped at 10 fps there).
        self._fourcc = fourcc
        self._name = name or f"Camera {device}"
        self._api = _default_api(device) if api is None else api
        self.stall_after = stall_after
        self.reopen_after = reopen_after
        self._granted = (int(width), int(height), float(fps))
        self._slot = LatestFrame()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_frame_at = 0.0
        self._started = False
        self.reopens = 0
        self.read_failures = 0

    # -- opening -------------------------------------------------------------------------------------------
    def _open_capture(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(self.device, self._api)
        if not capture.isOpened():
            capture.release()
            raise SourceError(
                f"cannot open camera {self.device}: it may be unplugged, in use by another app, or not permitted",
                "run `deadpan doctor` to list cameras, or use --input FILE",
            )
        width, height, fps = self._requested
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self._fourcc:  # the format first: drivers choose the sizes and rates they offer per format
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*self._fourcc))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        capture.set(cv2.CAP_PROP_FPS, fps)
        got_w = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or width
        got_h = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or height
        got_fps = capture.get(cv2.CAP_PROP_FPS)
        self._granted = (got_w, got_h, float(got_fps) if 0 < got_fps < 1000 else fps)
        return capture

    def start(self) -> CameraSource:
        if self._thread is not None and self._thread.is_alive():
            return self
        capture = self._open_capture()
        self._slot = LatestFrame()
        self._stop.clear()
        self._last_frame_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, args=(capture,), name=f"camera-{self.device}", daemon=True)
        self._thread.start()
        self._started = True
        return self

    # -- the capture thread --------------------------------------------------------------------------------
    def _run(self, capture: cv2.VideoCapture | None) -> None:
        failures = 0
        last_reopen = time.monotonic()
        try:
            while not self._stop.is_set():
                ok, image = False, None
                if capture is not None:
                    try:
                        ok, image = capture.read()
                    except cv2.error:
                        ok = False
                now = time.monotonic()
                if ok and image is not None and image.size:
                    failures = 0
                    image = as_bgr(image)
                    height, width = image.shape[:2]
                    if (width, height) != self._granted[:2]:  # some drivers report one size and send another
                        self._granted = (width, height, self._granted[2])
                    self._last_frame_at = now
                    self._slot.put(image, now)
                    continue
                failures += 1
                self.read_failures += 1
                silent_for = now - self._last_frame_at
                if silent_for >= self.reopen_after and now - last_reopen >= self.reopen_after:
                    last_reopen = now
                    if capture is not None:
                        capture.release()
                    try:
                        capture = self._open_capture()
                        self.reopens += 1
                    except SourceError:
                        capture = None
                # Back off 20 ms .. 0.5 s so a dead device does not spin a core.
                self._stop.wait(min(0.01 * 2 ** min(failures, 6), 0.5))
        finally:
            if capture is not None:
                capture.release()  # released on this thread: never while a read() on it is still running

    # -- the Source shape ----------------------------------------------------------------------------------
    def read(self, timeout: float | None = None) -> CapturedFrame | None:
        if not self._started:
            raise SourceError("camera source not started: call start() first")
        return self._slot.take(timeout)  # None once stopped

    def stop(self) -> None:
        self._stop.set()
        self._slot.close(discard=True)
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=3.0)

    @property
    def info(self) -> SourceInfo:
        width, height, fps = self._granted
        return SourceInfo(self._name, width, height, fps, None)

    @property
    def dropped(self) -> int:  # type: ignore[override]
        return self._slot.dropped

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stalled(self) -> bool:
        """True while no frame has arrived for ``stall_after`` seconds (camera stopped, unplugged, or busy)."""
        return self.running and time.monotonic() - self._last_frame_at > self.stall_after
