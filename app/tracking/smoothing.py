"""Landmark smoothing for the tracker: the mesh with one One Euro filter, the irises relative to their eyes with
a faster one of their own.

The irises move in the head much faster than the head moves: a saccade crosses a third of the eye in one or two
frames. Smoothed as plain pixel positions with the mesh's settings they trailed a glance by one to two frames
(on d6 the tracked glance correlated 0.72 with a fresh IMAGE-mode measure; unsmoothed 0.90), and the
neutraliser's pasted eyes looked where the person had looked. Their offset from the middle of their eye gets its
own One Euro filter with a higher cut-off, and is put back on the smoothed eye, so they still move with the head
as one piece with the lids.
"""

from __future__ import annotations

import numpy as np
from mediapipe.tasks.python.vision import FaceLandmarksConnections as _Mesh

from app.tracking.one_euro import OneEuroFilter, OneEuroParams


def _points(connections: list) -> np.ndarray:
    return np.array(sorted({i for c in connections for i in (c.start, c.end)}), dtype=np.intp)


# Per eye: its opening's contour points and its iris points (the iris centres 468 and 473 are in no connection
# set; MediaPipe's "right" is the subject's right for both).
EYES_AND_IRISES = (
    (_points(_Mesh.FACE_LANDMARKS_RIGHT_EYE), np.r_[468, _points(_Mesh.FACE_LANDMARKS_RIGHT_IRIS)]),
    (_points(_Mesh.FACE_LANDMARKS_LEFT_EYE), np.r_[473, _points(_Mesh.FACE_LANDMARKS_LEFT_IRIS)]),
)
# Chosen on the clips against a fresh IMAGE-mode glance: d6 correlation 0.72 -> 0.89, with frame-to-frame
# glance jitter at or below the mesh filter's on d3 and d12 (+8% on d6); a cut-off of 3 Hz and beta 0.2 kept
# more of the lag (0.83), beta 4 more of the jitter.
IRIS_SMOOTHING = OneEuroParams(min_cutoff=2.0, beta=1.0, d_cutoff=3.0)


class LandmarkSmoother:
    """Smooths one face's (478, 3) landmarks over time: ``__call__(points, t_seconds)`` returns smoothed ones."""

    def __init__(self, params: OneEuroParams, iris_params: OneEuroParams = IRIS_SMOOTHING) -> None:
        self._mesh = OneEuroFilter(params)
        self._irises = OneEuroFilter(iris_params)

    def __call__(self, points: np.ndarray, t: float) -> np.ndarray:
        points = np.asarray(points, np.float32)
        smoothed = self._mesh(points, t)
        offsets = self._irises(np.stack([points[iris] - points[eye].mean(axis=0) for eye, iris in EYES_AND_IRISES]), t)
        for (eye, iris), offset in zip(EYES_AND_IRISES, offsets):
            smoothed[iris] = smoothed[eye].mean(axis=0) + offset
        return smoothed
