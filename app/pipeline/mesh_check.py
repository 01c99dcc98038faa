"""Does the tracked mesh still sit on the face? A check against the Face Landmarker's one blind spot.

In VIDEO mode the landmarker tracks each face from where it was in the previous frame. When the picture jumps
(a shaken camera, a head whipped round, frames skipped on a busy machine) it can return a confident mesh where
the face WAS: a filter drawn there leaves the face itself raw. Measured on a clip shaken by up to 70 px a frame
(tests/test_faults.py), such meshes sat 50-90 px off the face and left half of it unfiltered.

The check: the face box under the mesh, as a 32x32 grey patch normalised for brightness and contrast, must
still look like the patch under the same face's mesh one frame earlier (normalised cross-correlation). Over every
consecutive pair of frames of the five shared clips (talking, grimacing, turning, glasses) the lowest value is
0.33 (median 0.85-1.0; 0.22 when a busy pipeline skips 2-3 frames, 0.12 at 5); misplaced meshes in the shaken
clip score -0.34..0.24. A frame whose mesh fails is treated as a frame without a face: the pipeline fails
closed (a false alarm costs one obscured frame, never a leak), then needs its usual confirmation frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from filters import Face

MIN_CORRELATION = 0.1
PATCH = 32


def face_patch(frame: np.ndarray, face: Face) -> np.ndarray | None:
    """The landmarks' bounding box of ``frame`` as a zero-mean, unit-norm PATCH x PATCH grey patch."""
    (x0, y0), (x1, y1) = face.points.min(axis=0), face.points.max(axis=0)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    sx, sy = PATCH / float(x1 - x0), PATCH / float(y1 - y0)
    matrix = np.float32([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]])
    patch = cv2.warpAffine(frame, matrix, (PATCH, PATCH), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).astype(np.float32)
    grey -= grey.mean()
    norm = float(np.linalg.norm(grey))
    return grey / norm if norm > 1e-3 else None


class MeshCheck:
    """``trusted(frame, faces)``: False if any face's mesh no longer looks like it did on its face one frame
    earlier. Remembers each face's patch for the next frame; ``reset()`` for a new source."""

    def __init__(self, min_correlation: float = MIN_CORRELATION) -> None:
        self.min_correlation = min_correlation
        self._previous: dict[int, np.ndarray] = {}

    def reset(self) -> None:
        self._previous.clear()

    def trusted(self, frame: np.ndarray, faces: Sequence[Face]) -> bool:
        ok = True
        current: dict[int, np.ndarray] = {}
        for face in faces:
            patch = face_patch(frame, face)
            if patch is None:
                continue
            before = self._previous.get(face.face_id)
            if before is not None and float((patch * before).sum()) < self.min_correlation:
                ok = False
            current[face.face_id] = patch
        self._previous = current
        return ok
