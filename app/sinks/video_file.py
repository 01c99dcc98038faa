"""Writing the output to a video or image file, atomically: a failed run leaves no half-written file."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import cv2
import numpy as np

from app.sinks.base import Sink, SinkError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
# Containers that take the mp4v codec and read back every frame written (checked with OpenCV's FFmpeg). Others
# fail to open (.webm, .flv), or worse, open and lose frames: for .gif OpenCV falls back to its image writer,
# which keeps one picture of the whole video.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v", ".avi")


def video_name_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a video output (one line), or None."""
    if Path(path).suffix.lower() in VIDEO_SUFFIXES:
        return None
    return f"cannot write a video to {Path(path).name}: give a name ending in {', '.join(VIDEO_SUFFIXES)}"


def _partial_path(path: Path) -> Path:
    # Same folder (so os.replace is an atomic rename) and same suffix (OpenCV picks the container from it).
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")


def _check_frame(frame: np.ndarray, shape: tuple[int, int, int] | None, what: str) -> None:
    if shape is None:
        raise SinkError(f"{what} not started")
    if frame.shape != shape or frame.dtype != np.uint8:
        raise SinkError(f"frame of shape {frame.shape} {frame.dtype} sent to a {shape} {what}")


class VideoFileSink(Sink):
    """Frames to a video file of the size and fps given to ``start``. Written under a hidden temporary name and
    renamed over ``path`` by ``stop``; ``discard`` (or leaving a ``with`` block by an exception) removes it.

    ``sound_from``: a recording whose sound goes into the file beside the frames (``deadpan process``: same
    frames, same rate, so the sound stays in step); ``sound`` then says what became of it: "kept", "none" (the
    recording has no sound) or "not kept: why" (the file is still written, silent)."""

    def __init__(self, path: str | Path, fourcc: str = "mp4v", *, sound_from: str | Path | None = None) -> None:
        self.path = Path(path)
        self.sound_from = Path(sound_from) if sound_from is not None else None
        self.sound = ""
        if len(fourcc) != 4:
            raise ValueError("fourcc must be four characters, e.g. 'mp4v'")
        self.fourcc = fourcc
        self._writer: cv2.VideoWriter | None = None
        self._partial: Path | None = None
        self._shape: tuple[int, int, int] | None = None
        self.frames = 0

    def start(self, width: int, height: int, fps: float) -> VideoFileSink:
        if self._writer is not None:
            self.discard()
        if not self.path.parent.is_dir():
            raise SinkError(f"cannot write {self.path}: the folder {self.path.parent} does not exist")
        problem = video_name_problem(self.path)
        if problem:
            raise SinkError(problem)
        partial = _partial_path(self.path)
        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*self.fourcc), float(fps), (width, height))
        if not writer.isOpened():
            writer.release()
            partial.unlink(missing_ok=True)
            raise SinkError(
                f"cannot write {self.path} with codec {self.fourcc!r}: use a .mp4 or .avi name, "
                "or check that the folder is writable"
            )
        self._writer, self._partial, self._shape = writer, partial, (height, width, 3)
        self.frames = 0
        return self

    def write(self, frame_bgr: np.ndarray) -> None:
        _check_frame(frame_bgr, self._shape, "video file")
        self._writer.write(frame_bgr)
        self.frames += 1

    def stop(self) -> None:
        """Finish the file and move it into place (nothing is created when no frame was written)."""
        writer, partial = self._writer, self._partial
        self._writer, self._partial = None, None
        if writer is None:
            return
        writer.release()
        if self.frames == 0:
            partial.unlink(missing_ok=True)
            return
        if self.sound_from is not None:
            self._add_sound(partial)
        try:
            os.replace(partial, self.path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise SinkError(f"cannot save {self.path}: {exc.strerror or exc}") from None

    def _add_sound(self, partial: Path) -> None:
        from app.sinks.audio import AudioCopyError, copy_audio

        with_sound = _partial_path(self.path)
        try:
            self.sound = "kept" if copy_audio(self.sound_from, partial, with_sound) else "none"
            if self.sound == "kept":
                os.replace(with_sound, partial)
        except (AudioCopyError, OSError) as exc:  # the picture is what was asked for: it is saved, silent
            self.sound = f"not kept: {exc}"
        finally:
            with_sound.unlink(missing_ok=True)

    def discard(self) -> None:
        """Abandon the output: nothing is left on disk."""
        writer, partial = self._writer, self._partial
        self._writer, self._partial = None, None
        if writer is not None:
            writer.release()
        if partial is not None:
            partial.unlink(missing_ok=True)

    def __enter__(self) -> VideoFileSink:
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if exc_type is None:
            self.stop()
        else:
            self.discard()

    @property
    def device(self) -> str:
        return str(self.path)


class ImageFileSink(Sink):
    """The last frame written, saved as an image by ``stop`` (for processing a still photo), atomically."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._last: np.ndarray | None = None
        self._shape: tuple[int, int, int] | None = None
        self.frames = 0

    def start(self, width: int, height: int, fps: float) -> ImageFileSink:
        if not self.path.parent.is_dir():
            raise SinkError(f"cannot write {self.path}: the folder {self.path.parent} does not exist")
        if self.path.suffix.lower() not in IMAGE_SUFFIXES:
            raise SinkError(f"cannot write {self.path}: use an image name ending in .png or .jpg")
        self._shape, self._last, self.frames = (height, width, 3), None, 0
        return self

    def write(self, frame_bgr: np.ndarray) -> None:
        _check_frame(frame_bgr, self._shape, "image file")
        self._last = frame_bgr.copy()
        self.frames += 1

    def stop(self) -> None:
        last, self._last, self._shape = self._last, None, None
        if last is None:
            return
        ok, encoded = cv2.imencode(self.path.suffix.lower(), last)
        if not ok:
            raise SinkError(f"cannot encode {self.path.name} as {self.path.suffix} image")
        partial = _partial_path(self.path)
        try:
            encoded.tofile(partial)
            os.replace(partial, self.path)
        except OSError as exc:
            raise SinkError(f"cannot save {self.path}: {exc.strerror or exc}") from None
        finally:
            partial.unlink(missing_ok=True)

    @property
    def device(self) -> str:
        return str(self.path)
