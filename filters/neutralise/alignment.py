"""Head pose removal: a 3-D similarity (Umeyama 1991) fitted on the stable skull landmarks only.

The *pose-free frame* is a frontal face frame: x from the right eye's outer corner to the left's, y from forehead
to chin (down, like image rows), z out of the face; one unit is the distance between the outer eye corners.
Landmarks are MediaPipe's pixel x, y and z (z on the x scale), close to a scaled orthographic projection, so a
similarity in 3-D followed by dropping z re-projects a pose-free shape into the current head pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filters.neutralise.regions import CHIN, EYE_OUTER_CORNERS, FOREHEAD_TOP, STABLE


@dataclass(frozen=True)
class Similarity:
    """``apply(p) = scale * p @ rotation.T + translation`` on (N, 3) points."""

    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        return (self.scale * points @ self.rotation.T + self.translation).astype(np.float32)

    def inverse(self) -> Similarity:
        rot_t = self.rotation.T
        return Similarity(1.0 / self.scale, rot_t, -(rot_t @ self.translation) / self.scale)


def fit_similarity(source: np.ndarray, target: np.ndarray) -> Similarity:
    """Least-squares similarity mapping ``source`` (N, 3) onto ``target`` (N, 3) (Umeyama's closed form)."""
    src = np.asarray(source, np.float64)
    dst = np.asarray(target, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - mu_s, dst - mu_d
    cov = dst_c.T @ src_c / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1.0  # a reflection is never a head pose
    rotation = u @ sign @ vt
    var_s = (src_c**2).sum() / len(src)
    scale = float(np.trace(np.diag(d) @ sign) / max(var_s, 1e-12))
    translation = mu_d - scale * rotation @ mu_s
    return Similarity(scale, rotation, translation)


def frontal_frame(landmarks: np.ndarray) -> Similarity:
    """The similarity taking one face's pixel landmarks into the pose-free frame (defined by that face itself)."""
    pts = np.asarray(landmarks, np.float64)
    right, left = pts[EYE_OUTER_CORNERS[0]], pts[EYE_OUTER_CORNERS[1]]
    x_axis = left - right
    eye_distance = float(np.linalg.norm(x_axis))
    x_axis /= max(eye_distance, 1e-9)
    down = pts[CHIN] - pts[FOREHEAD_TOP]
    y_axis = down - (down @ x_axis) * x_axis
    y_axis /= max(float(np.linalg.norm(y_axis)), 1e-9)
    z_axis = np.cross(x_axis, y_axis)
    rotation = np.stack([x_axis, y_axis, z_axis])  # rows: new axes in pixel space
    centre = pts[STABLE].mean(axis=0)
    scale = 1.0 / max(eye_distance, 1e-9)
    return Similarity(scale, rotation, -scale * rotation @ centre)


def to_pose_free(landmarks: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, Similarity, float]:
    """Landmarks (478, 3) in the pose-free frame of ``template`` (a pose-free shape), the similarity used and the
    fit's RMS residual on the stable points (in eye distances: how well the skull matches)."""
    sim = fit_similarity(landmarks[STABLE], template[STABLE])
    pose_free = sim.apply(landmarks)
    residual = float(np.sqrt(((pose_free[STABLE] - template[STABLE]) ** 2).sum(axis=1).mean()))
    return pose_free, sim, residual
