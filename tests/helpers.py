"""Test helpers shared across test modules: reading clips and tracking them once per session."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from app.tracking import FaceTracker
from filters import Face

from .conftest import MODEL


def read_frames(path: Path, max_frames: int | None = None, step: int = 1) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    index = 0
    while max_frames is None or len(frames) < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(frame)
        index += 1
    cap.release()
    return frames


@functools.lru_cache(maxsize=8)
def tracked_clip(path: Path) -> tuple[tuple[np.ndarray, ...], tuple[tuple[Face, ...], ...]]:
    """Every frame of a clip and the faces the real VIDEO-mode tracker finds in it; cached per session
    because the Face Landmarker pass (~13 ms a frame) is the costly part of most tests."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames, faces = [], []
    with FaceTracker(MODEL) as tracker:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            faces.append(tuple(tracker.track(frame, int(len(frames) * 1000 / fps))))
            frames.append(frame)
    cap.release()
    return tuple(frames), tuple(faces)
