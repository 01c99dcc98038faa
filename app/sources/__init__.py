"""Frame sources: camera, video file, still image; ``open_source`` picks one from a command-line spec."""

from __future__ import annotations

import inspect
from pathlib import Path

from app.sources.base import CapturedFrame, Source, SourceError, SourceInfo
from app.sources.camera import CameraSource
from app.sources.image import IMAGE_SUFFIXES, ImageSource
from app.sources.listing import VIRTUAL_CAMERA_NAME, CameraInfo, list_cameras
from app.sources.video_file import VideoFileSource

__all__ = [
    "IMAGE_SUFFIXES",
    "VIRTUAL_CAMERA_NAME",
    "CameraInfo",
    "CameraSource",
    "CapturedFrame",
    "ImageSource",
    "Source",
    "SourceError",
    "SourceInfo",
    "VideoFileSource",
    "list_cameras",
    "names_a_camera",
    "open_source",
]


def names_a_camera(text: str) -> bool:
    """A camera number (``0``) or device path (``/dev/video2``); anything else names a file, there or not."""
    return text.isdigit() or text.startswith("/dev/")


def open_source(spec: str | int | Path, **options) -> Source:
    """An unstarted source for ``spec``: a camera index (``0``), a device path (``/dev/video2``), or a video or
    image file. ``options`` are shared command-line settings (``width``, ``height``, ``fps``, ``realtime``,
    ``loop``...): each source takes the ones it understands and ignores the rest; ``None`` means "default"."""
    text = str(spec).strip()
    if isinstance(spec, int) or names_a_camera(text):
        source_class, target = CameraSource, int(text) if text.isdigit() else text
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise SourceError(
                f"no such camera or file: {text!r}",
                "give a camera number such as 0, a /dev/videoN path, or a video or image file; `deadpan doctor` "
                "lists cameras",
            )
        source_class = ImageSource if path.suffix.lower() in IMAGE_SUFFIXES else VideoFileSource
        target = path
    accepted = inspect.signature(source_class).parameters
    kwargs = {key: value for key, value in options.items() if key in accepted and value is not None}
    return source_class(target, **kwargs)
