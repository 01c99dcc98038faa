"""MediaPipe Face Landmarker wrapped into plain :class:`filters.Face` objects.

VIDEO mode for streams (it skips the detector while a face is tracked, ~13 ms/frame), IMAGE mode for
measuring single frames independently (the lab's "fresh" tracker).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from mediapipe import Image, ImageFormat
from mediapipe.tasks.python import BaseOptions, vision

from app.tracking.one_euro import OneEuroParams
from app.tracking.smoothing import LandmarkSmoother
from filters.base import BLENDSHAPE_NAMES, NUM_LANDMARKS, Face

VIDEO = "video"
IMAGE = "image"


class FaceTracker:
    """Tracks up to ``max_faces`` faces. ``track(frame_bgr, timestamp_ms)`` returns a list of :class:`Face`.

    ``smoothing``: One Euro parameters for the landmarks (the irises relative to their eyes get their own,
    faster ones: :mod:`app.tracking.smoothing`; ``None`` turns smoothing off). Face ids stay with a
    face from frame to frame (nearest previous centre), so per-face state downstream follows the person.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        max_faces: int = 1,
        mode: str = VIDEO,
        smoothing: OneEuroParams | None = OneEuroParams(),
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        if max_faces < 1:
            raise ValueError("max_faces must be at least 1")
        if mode not in (VIDEO, IMAGE):
            raise ValueError(f"mode must be {VIDEO!r} or {IMAGE!r}")
        self.mode = mode
        self.max_faces = max_faces
        self.smoothing = smoothing if mode == VIDEO else None
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.VIDEO if mode == VIDEO else vision.RunningMode.IMAGE,
            num_faces=max_faces,
            min_face_detection_confidence=min_detection_confidence,
            min_face_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self._last_ts = -1
        self._previous: dict[int, np.ndarray] = {}  # face_id -> centre in the previous frame
        self._smoothers: dict[int, LandmarkSmoother] = {}

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def reset(self) -> None:
        """Forget identities and smoothing state (new source). Timestamps stay monotonic."""
        self._previous.clear()
        self._smoothers.clear()

    def track(
        self, frame_bgr: np.ndarray, timestamp_ms: int | None = None, *, rgb: np.ndarray | None = None
    ) -> list[Face]:
        """``rgb``: the same frame already converted to RGB, when another thread had time to do it (offline
        processing converts while decoding, so the tracker, the slowest serial stage, does not)."""
        if self._landmarker is None:
            raise RuntimeError("tracker is closed")
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 frame, got shape {frame_bgr.shape} {frame_bgr.dtype}")
        height, width = frame_bgr.shape[:2]
        if rgb is None or rgb.shape != frame_bgr.shape:
            rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        image = Image(image_format=ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self.mode == VIDEO:
            # VIDEO mode rejects non-increasing timestamps; a re-opened source may restart at 0.
            ts = self._last_ts + 1 if timestamp_ms is None else int(timestamp_ms)
            ts = max(ts, self._last_ts + 1)
            self._last_ts = ts
            result = self._landmarker.detect_for_video(image, ts)
        else:
            ts = 0
            result = self._landmarker.detect(image)
        raw = []
        for i, landmarks in enumerate(result.face_landmarks):
            if len(landmarks) < NUM_LANDMARKS:
                continue
            pts = np.array([(p.x, p.y, p.z) for p in landmarks[:NUM_LANDMARKS]], dtype=np.float32)
            pts *= np.array([width, height, width], dtype=np.float32)
            shapes = np.zeros(len(BLENDSHAPE_NAMES), np.float32)
            if result.face_blendshapes and i < len(result.face_blendshapes):
                for j, category in enumerate(result.face_blendshapes[i][: len(BLENDSHAPE_NAMES)]):
                    shapes[j] = category.score
            pose = np.eye(4, dtype=np.float32)
            if result.facial_transformation_matrixes and i < len(result.facial_transformation_matrixes):
                pose = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32).reshape(4, 4)
            raw.append((pts, shapes, pose))
        ids = self._assign_ids([pts[:, :2].mean(axis=0) for pts, _, _ in raw])
        faces = []
        for face_id, (pts, shapes, pose) in zip(ids, raw):
            if self.smoothing is not None:
                smoother = self._smoothers.setdefault(face_id, LandmarkSmoother(self.smoothing))
                pts = smoother(pts, ts / 1000.0)
            faces.append(Face(landmarks=pts, blendshapes=shapes, pose=pose, face_id=face_id))
        faces.sort(key=lambda f: f.face_id)
        return faces

    def _assign_ids(self, centres: Sequence[np.ndarray]) -> list[int]:
        """Greedy nearest-centre matching against the previous frame. A face that is not matched gets the
        lowest id not in use, so a lone face that was lost and found again is face 0 again and per-face state
        downstream (a calibrated neutral reference) still applies to it."""
        ids: list[int] = [-1] * len(centres)
        free = dict(self._previous)
        pairs = sorted(
            (float(np.linalg.norm(c - prev)), i, fid) for i, c in enumerate(centres) for fid, prev in free.items()
        )
        for _, i, fid in pairs:
            if ids[i] == -1 and fid in free:
                ids[i] = fid
                del free[fid]
        for i in range(len(ids)):
            if ids[i] == -1:
                ids[i] = min(set(range(len(ids) + 1)) - set(ids))
        for fid in free:  # faces that left: drop their smoothing so a return starts fresh
            self._smoothers.pop(fid, None)
        self._previous = {fid: c for fid, c in zip(ids, centres)}
        return ids
