"""Which landmarks belong to which expressive region, and how strongly each landmark is pulled to the reference.

Index sets come from MediaPipe's own mesh topology (``FaceLandmarksConnections``); the few hand-picked indices
(the stable skull points, the lip midpoints) are named constants of the published 478-point mesh.
"""

from __future__ import annotations

import numpy as np
from mediapipe.tasks.python.vision import FaceLandmarksConnections as _Mesh

REGIONS: tuple[str, ...] = ("brows", "eyes", "mouth")


def _indices(*connection_sets: list) -> np.ndarray:
    return np.array(sorted({i for cs in connection_sets for c in cs for i in (c.start, c.end)}), dtype=np.intp)


BROWS = _indices(_Mesh.FACE_LANDMARKS_LEFT_EYEBROW, _Mesh.FACE_LANDMARKS_RIGHT_EYEBROW)
EYES = _indices(_Mesh.FACE_LANDMARKS_LEFT_EYE, _Mesh.FACE_LANDMARKS_RIGHT_EYE)
IRISES = np.arange(468, 478, dtype=np.intp)  # centres 468/473 are in no connection set
LIPS = _indices(_Mesh.FACE_LANDMARKS_LIPS)
FACE_OVAL = np.array(
    [c.start for c in _Mesh.FACE_LANDMARKS_FACE_OVAL], dtype=np.intp
)  # in contour order (a closed loop)
TESSELATION_EDGES = np.array([(c.start, c.end) for c in _Mesh.FACE_LANDMARKS_TESSELATION], dtype=np.intp)

# Points on the skull that expressions barely move: nose bridge and tip, inner eye corners, temples and the upper
# face outline (not the mid-forehead: raised brows drag its skin). Head pose is fitted on these only, so a smile
# or raised brows never tilt the reference.
STABLE = np.array(
    [10, 168, 6, 197, 195, 5, 4, 1, 133, 362, 127, 356, 234, 454, 21, 251, 162, 389, 109, 338, 67, 297],
    dtype=np.intp,
)

# Mouth landmarks by role (MediaPipe mesh numbering).
UPPER_LIP_INNER_MID = 13
LOWER_LIP_INNER_MID = 14
MOUTH_CORNERS = np.array([61, 291, 78, 308], dtype=np.intp)
# The inner lip lines between the inner corners (78, 308), point facing point: the lips meet along these.
UPPER_LIP_INNER = np.array([191, 80, 81, 82, 13, 312, 311, 310, 415], dtype=np.intp)
LOWER_LIP_INNER = np.array([95, 88, 178, 87, 14, 317, 402, 318, 324], dtype=np.intp)
LOWER_LIP_OUTER = np.array([146, 91, 181, 84, 17, 314, 405, 321, 375], dtype=np.intp)  # below LOWER_LIP_INNER
LOWER_LIP = np.r_[LOWER_LIP_OUTER, LOWER_LIP_INNER]
EYE_OUTER_CORNERS = (33, 263)
EYE_CORNERS = ((33, 133), (263, 362))  # per eye (subject's right, then left): outer and inner corner
FOREHEAD_TOP, CHIN, NOSE_TIP = 10, 152, 4
# Upper and lower eyelid contours (right eye, left eye): blinking moves these.
EYELIDS = np.array(
    [246, 161, 160, 159, 158, 157, 173, 7, 163, 144, 145, 153, 154, 155,
     466, 388, 387, 386, 385, 384, 398, 249, 390, 373, 374, 380, 381, 382],
    dtype=np.intp,
)  # fmt: skip


def region_cores(canonical: np.ndarray) -> dict[str, np.ndarray]:
    """Landmarks that define each region, given a frontal pose-free shape ``(478, 3)`` (y points down).

    The mouth region's core is the whole lower face below the nose tip (lips, cheeks, chin and jaw line): smiling,
    frowning and jaw opening move all of it. Every other landmark belongs to the regions by proximity (see
    :func:`landmark_weights`), so the forehead goes with the brows and the cheekbones with the eyes."""
    nose_tip_y = canonical[NOSE_TIP, 1]
    lower_face = np.flatnonzero(canonical[:468, 1] > nose_tip_y)
    return {
        "brows": BROWS,
        "eyes": np.union1d(EYES, IRISES),
        "mouth": np.union1d(LIPS, lower_face),
    }


def landmark_weights(canonical: np.ndarray, gains: dict[str, float], falloff: float) -> np.ndarray:
    """(478,) pull of each landmark towards the reference.

    Each landmark's membership of the three regions is a soft nearest-core partition of unity (Gaussian of the
    distance to each region's core, normalised), so with every region at gain 1 the whole face follows the
    reference, and a region switched off fades out over about ``falloff`` (eye distances) instead of leaving an
    edge in the warp."""
    xy = canonical[:, :2].astype(np.float64)
    cores = region_cores(canonical)
    d2 = np.stack([((xy[:, None, :] - xy[None, core, :]) ** 2).sum(axis=2).min(axis=1) for core in cores.values()])
    logits = -0.5 * d2 / falloff**2
    membership = np.exp(logits - logits.max(axis=0))
    membership /= membership.sum(axis=0)
    region_gain = np.array([float(gains.get(name, 0.0)) for name in cores])[:, None]
    return (region_gain * membership).sum(axis=0).astype(np.float32)
