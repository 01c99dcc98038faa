"""Outputs: the virtual camera, a video or image file, and a null sink; ``open_sink`` picks one from a spec."""

from __future__ import annotations

from pathlib import Path

from app.sinks.base import Sink, SinkError
from app.sinks.null import NullSink
from app.sinks.video_file import IMAGE_SUFFIXES, VIDEO_SUFFIXES, ImageFileSink, VideoFileSink, video_name_problem
from app.sinks.virtual_camera import VIRTUAL_CAMERA_NAME, VirtualCameraSink, backend_fix, platform_backends

__all__ = [
    "VIDEO_SUFFIXES",
    "VIRTUAL_CAMERA_NAME",
    "ImageFileSink",
    "NullSink",
    "Sink",
    "SinkError",
    "VideoFileSink",
    "VirtualCameraSink",
    "backend_fix",
    "open_sink",
    "platform_backends",
    "video_name_problem",
]


def open_sink(spec: str | Path, *, backend: str = "auto", device: str | None = None) -> Sink:
    """``"vcam"`` -> the virtual camera, ``"null"`` -> NullSink, an image name -> ImageFileSink, any other path
    -> VideoFileSink. Unstarted: the pipeline starts it at the first frame's size."""
    text = str(spec).strip()
    if text == "vcam":
        return VirtualCameraSink(backend=backend, device=device)
    if text == "null":
        return NullSink()
    path = Path(text).expanduser()
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFileSink(path)
    return VideoFileSink(path)
