"""Driving the real main window in tests: a real clip as the camera, the real engine, and the real
``pyvirtualcam.Camera`` with a capturing backend standing in for the virtual-camera driver.

``Recorder`` keeps what the engine processed (the raw frame and its output, as small thumbnails, plus the last
few full frames with their faces) and what the virtual camera received, so tests can check every sent frame
against every raw frame the engine ever saw.
"""

from __future__ import annotations

import collections
import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtWidgets import QLabel

from app.gui.main_window import MainWindow
from app.session import Session
from app.settings_store import AppSettings, SettingsStore
from app.sinks import VirtualCameraSink

from .capture_backend import BACKEND_NAME, CaptureBackend, register
from .conftest import MEDIA, MODEL

CLIP = MEDIA / "liveportrait_d0.mp4"  # 78 frames at 25 fps, looped: a smile coming and going
OTHER_CLIP = MEDIA / "liveportrait_d12.mp4"
THUMB = 128
# The faces of the clips used here lie inside this part of the frame (normalised x0, y0, x1, y1; measured from
# the tracker's landmarks over d0 and d12 with a margin).
FACE_REGION = (0.2, 0.2, 0.8, 0.9)
# Mean absolute difference (0..255) over the face region of 128x128 thumbnails: a raw frame against the nearest
# other raw frame of the clip is < 1.1; the weakest filter used in these tests (pixelate at 30%) is > 6.
LEAK_THRESHOLD = 3.0
FLAT_STD = 4.0  # the face regions of the clips used here have a standard deviation of 41-51


def thumb(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(frame, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.int16)


def face_region_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean abs difference over the face region between thumbnail ``a`` (or a stack) and ``b``."""
    x0, y0, x1, y1 = (round(v * THUMB) for v in FACE_REGION)
    return np.abs(a[..., y0:y1, x0:x1, :] - b[y0:y1, x0:x1, :]).mean(axis=(-1, -2, -3))


def key(frame: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=16).digest()


@dataclass
class Processed:
    raw: np.ndarray  # full raw frame (kept for the last few only; else None)
    faces: tuple
    raw_thumb: np.ndarray
    state: str


class Recorder:
    """Listens to the session's frames (engine thread) and drains the capture backend (test thread)."""

    def __init__(self, session: Session, keep_full: int = 90) -> None:
        self._lock = threading.Lock()
        self.raw_thumbs: list[np.ndarray] = []
        self.by_output: dict[bytes, Processed] = {}
        self._full = collections.deque(maxlen=keep_full)
        self.sent: list[tuple[bytes, np.ndarray, float]] = []  # (key, thumbnail, arrival time)
        self.sent_full: collections.deque = collections.deque(maxlen=keep_full)
        session.events.frame.connect(self._on_frame)

    def _on_frame(self, result) -> None:
        raw_thumb = thumb(result.source_image)
        entry = Processed(result.source_image, result.faces, raw_thumb, result.status.state)
        with self._lock:
            self.raw_thumbs.append(raw_thumb)
            out_key = key(result.output)
            self.by_output[out_key] = entry
            self._full.append(out_key)
            if len(self._full) == self._full.maxlen:  # forget full frames of old entries (memory)
                old = self.by_output.get(self._full[0])
                if old is not None:
                    old.raw = None

    def drain(self) -> int:
        """Move frames the virtual camera received into ``sent``; returns how many were sent in total."""
        with CaptureBackend.lock:
            frames, times = CaptureBackend.frames, CaptureBackend.times
            CaptureBackend.frames, CaptureBackend.times = [], []
        for frame, at in zip(frames, times):
            self.sent.append((key(frame), thumb(frame), at))
            self.sent_full.append((key(frame), frame))
        return len(self.sent)

    def wait_sent(self, qtbot, count: int, timeout_ms: int = 15000) -> None:
        """Keep the GUI running until ``count`` more frames reached the virtual camera."""
        target = self.drain() + count
        qtbot.waitUntil(lambda: self.drain() >= target, timeout=timeout_ms)

    def processed_for(self, sent_key: bytes) -> Processed | None:
        with self._lock:
            return self.by_output.get(sent_key)

    def _catch_up(self, timeout_s: float = 1.0) -> None:
        """Wait until the engine has announced the newest frame drained so far. It hands a frame to the virtual
        camera before announcing it, so a check made right after a drain can find the newest frame unrecorded
        and take it for a frame the engine never produced (about 1 run in 10 of the region-strength test under
        load: a neutralised frame, 1.6 from the previous output's thumbnail). Frames are sent and announced in
        order; a keep-alive repeat is never announced, and then the wait just ends."""
        if not self.sent:
            return
        newest = self.sent[-1][0]
        deadline = time.monotonic() + timeout_s
        while self.processed_for(newest) is None and time.monotonic() < deadline:
            time.sleep(0.01)  # the engine thread records on its own: no event loop needed

    def check_sent_since(self, start: int) -> int:
        """Assert that every frame sent from index ``start`` on came out of the engine's filter path (obscured
        unless a face was found), or is one of the engine's keep-alive repeats while the source stalled (the last
        output obscured, never reported as a processed frame: it must then be near no raw face at all). Returns
        how many keep-alive repeats there were (a busy machine makes the looping file source stall)."""
        self.drain()
        self._catch_up()
        with self._lock:
            raws = np.stack(self.raw_thumbs)
        repeats = 0
        for sent_key, sent_thumb, _at in self.sent[start:]:
            processed = self.processed_for(sent_key)
            if processed is None:
                repeats += 1
                nearest = float(face_region_diff(raws, sent_thumb).min())
                assert nearest > 6, f"a sent frame the engine never produced is close to a raw frame ({nearest:.1f})"
            elif processed.state != "face_found":
                assert face_region_diff(processed.raw_thumb, sent_thumb) > 6
        return repeats

    def leaks(self) -> list[tuple[int, float]]:
        """(index, distance) of every sent frame whose face region is as close to some raw frame as two raw
        frames of the clip are to each other: i.e. a raw face that reached the call."""
        self.drain()
        self._catch_up()  # the newest sent frame's own raw frame is recorded only once the engine announces it
        with self._lock:
            raws = np.stack(self.raw_thumbs)
        # A raw frame with nothing in the face region (a plain wall) shows no one: its obscured version may
        # equal it, and that is no leak.
        x0, y0, x1, y1 = (round(v * THUMB) for v in FACE_REGION)
        raws = raws[raws[:, y0:y1, x0:x1].reshape(len(raws), -1).std(axis=1) > FLAT_STD]
        found = []
        if len(raws) == 0:
            return found
        for index, (_k, sent_thumb, _at) in enumerate(self.sent):
            nearest = float(face_region_diff(raws, sent_thumb).min())
            if nearest < LEAK_THRESHOLD:
                found.append((index, nearest))
        return found


def make_settings(**changes) -> AppSettings:
    base = {"camera": str(CLIP), "filter_name": "blur", "mirror": False}
    base.update(changes)
    return AppSettings(**base)


def make_window(
    settings_path, settings: AppSettings | None = None, *, virtual_camera=None, list_cameras=None, **window_kw
) -> tuple[MainWindow, Session, SettingsStore]:
    """The app's real window over a real session, as ``app.gui.main`` builds it (minus the model dialog). A neutral
    face saved for next time goes beside the settings file (with no settings file given, where the app puts it)."""
    register()
    store = SettingsStore(settings_path)
    if settings is None:
        settings = store.load()
    kw = {}
    if list_cameras is not None:
        kw["list_cameras"] = list_cameras
    session = Session(
        settings,
        model_path=MODEL,
        virtual_camera=virtual_camera or (lambda: VirtualCameraSink(backend=BACKEND_NAME)),
        saved_reference=None if settings_path is None else Path(settings_path).parent / "neutral-face.npz",
        **kw,
    )
    window_kw.setdefault("tray", False)
    window = MainWindow(session, store, **window_kw)
    return window, session, store


def start_window(qtbot, window: MainWindow, session: Session) -> None:
    """Show and start the window as the app does, and wait until start-up (on the session's worker) is over."""
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: session.source_state.state != "starting", timeout=15000)
    if session.settings.virtual_camera and session.running:
        qtbot.waitUntil(lambda: session.virtual_camera_state.state in ("on", "failed"), timeout=15000)


def wait_for_face(qtbot, session: Session, timeout_ms: int = 15000) -> None:
    qtbot.waitUntil(
        lambda: session.pipeline is not None and session.pipeline.status.state == "face_found", timeout=timeout_ms
    )


def detail(frame: np.ndarray) -> float:
    """Fine detail in a frame (variance of the Laplacian of its grey image)."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def settle(qtbot, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        qtbot.wait(20)


def clipped_labels(widget) -> list[str]:
    """The texts of the visible word-wrapped labels in ``widget`` that are too short for all their lines at their
    width (a window keeps the size it opened with: a message that grows later is squeezed, not shown)."""
    return [
        label.text()
        for label in widget.findChildren(QLabel)
        if label.isVisible() and label.wordWrap() and label.height() < label.heightForWidth(label.width())
    ]
