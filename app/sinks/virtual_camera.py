"""The virtual camera that Zoom, Meet or Teams select, through pyvirtualcam."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyvirtualcam
from pyvirtualcam.camera import BACKENDS

from app.sinks.base import Sink, SinkError
from app.sources.listing import SYSFS_VIDEO4LINUX, VIRTUAL_CAMERA_NAME, deadpan_loopback_device

__all__ = ["VIRTUAL_CAMERA_NAME", "VirtualCameraSink", "backend_fix", "platform_backends"]

# pyvirtualcam's built-in backends in the order "auto" tries them; only those registered on this platform exist.
BUILTIN_BACKENDS = ("obs", "unitycapture", "v4l2loopback")
MODPROBE_LINE = f'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="{VIRTUAL_CAMERA_NAME}"'


def platform_backends() -> list[str]:
    """The built-in backends pyvirtualcam offers on this OS (v4l2loopback on Linux; obs[, unitycapture] elsewhere)."""
    return [name for name in BUILTIN_BACKENDS if name in BACKENDS]


def backend_fix(backend: str) -> str:
    """What the user should do when ``backend`` cannot be opened."""
    if backend == "v4l2loopback":
        return (
            "install v4l2loopback (Debian/Ubuntu: sudo apt install v4l2loopback-dkms) and load it with: "
            f"{MODPROBE_LINE}"
        )
    if backend == "obs":
        extra = " (and allow its system extension)" if sys.platform == "darwin" else ""
        return f"install OBS Studio 30+ and start its virtual camera once{extra}, then close OBS"
    if backend == "unitycapture":
        return "install Unity Capture (github.com/schellingb/UnityCapture) or use the obs backend instead"
    return f"check that the {backend!r} pyvirtualcam backend is installed and registered"


class VirtualCameraSink(Sink):
    """Sends frames to a virtual camera. ``backend="auto"`` tries the platform's built-in backends in turn;
    ``device`` picks a device (e.g. ``/dev/video10``); on Linux it defaults to the loopback device labelled
    "Deadpan Camera" when there is one. ``write`` never sleeps: the pipeline paces frames, waiting here would
    only add latency."""

    def __init__(
        self, backend: str = "auto", device: str | None = None, *, sysfs_root: str | Path = SYSFS_VIDEO4LINUX
    ) -> None:
        self.backend = backend
        self.requested_device = device
        self._sysfs_root = sysfs_root
        self._camera: pyvirtualcam.Camera | None = None
        self._shape: tuple[int, int, int] | None = None
        self.frames = 0
        self.failures: list[tuple[str, str]] = []  # (backend, why) from the last start()

    def _candidates(self) -> list[str]:
        if self.backend != "auto":
            if self.backend not in BACKENDS:
                known = ", ".join(["auto", *BACKENDS]) or "auto"
                raise SinkError(f"unknown virtual camera backend {self.backend!r}: choose one of {known}")
            return [self.backend]
        candidates = platform_backends()
        if not candidates:
            raise SinkError("pyvirtualcam offers no virtual camera backend on this system; use --output FILE instead")
        return candidates

    def _device_for(self, backend: str) -> str | None:
        if self.requested_device is None and backend == "v4l2loopback":
            return deadpan_loopback_device(self._sysfs_root)  # None: pyvirtualcam takes the first loopback device
        return self.requested_device

    def start(self, width: int, height: int, fps: float) -> VirtualCameraSink:
        if self._camera is not None:
            self.stop()
        reasons = []
        for backend in self._candidates():
            try:
                camera = pyvirtualcam.Camera(
                    width,
                    height,
                    fps,
                    fmt=pyvirtualcam.PixelFormat.BGR,
                    device=self._device_for(backend),
                    backend=backend,
                    print_fps=False,
                )
            except Exception as exc:  # backends raise RuntimeError, ValueError or OSError; all mean "not here"
                message = str(exc).removeprefix(f"'{backend}' backend: ").strip()
                reasons.append((backend, message or type(exc).__name__))
                continue
            self._camera = camera
            self._shape = (height, width, 3)
            self.frames = 0
            self.failures = reasons
            return self
        self.failures = reasons
        why = "; ".join(f"{name}: {message}" for name, message in reasons)
        fixes = " / ".join(dict.fromkeys(backend_fix(name) for name, _ in reasons))
        raise SinkError(f"no virtual camera could be opened ({why}). Fix: {fixes}; `deadpan doctor` checks again")

    def write(self, frame_bgr: np.ndarray) -> None:
        camera = self._camera
        if camera is None:
            raise SinkError("virtual camera not started")
        if frame_bgr.shape != self._shape or frame_bgr.dtype != np.uint8:
            raise SinkError(
                f"frame of shape {frame_bgr.shape} {frame_bgr.dtype} sent to a {self._shape} virtual camera"
            )
        try:
            camera.send(np.ascontiguousarray(frame_bgr))
        except Exception as exc:
            raise SinkError(f"virtual camera {self.device} rejected a frame: {exc}") from exc
        self.frames += 1

    def stop(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            camera.close()

    @property
    def backend_in_use(self) -> str | None:
        return self._camera.backend if self._camera is not None else None

    @property
    def device(self) -> str:
        if self._camera is not None:
            return self._camera.device
        return self.requested_device or VIRTUAL_CAMERA_NAME
