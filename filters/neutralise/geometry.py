"""Target landmark positions: the current face pulled towards the reference, in the current head pose.

Everything is decided in the pose-free frame (y down, one unit = the outer eye corners' distance), so "vertical
mouth opening" or "eyelid" means the same at any head pose, then mapped back to pixels with the inverse pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filters.base import BLENDSHAPE_INDEX, Face
from filters.neutralise.alignment import fit_similarity
from filters.neutralise.mesh import anchor_ring, border_points
from filters.neutralise.regions import (
    EYE_CORNERS,
    EYELIDS,
    FACE_OVAL,
    IRISES,
    LIPS,
    LOWER_LIP,
    LOWER_LIP_INNER_MID,
    MOUTH_CORNERS,
    STABLE,
    UPPER_LIP_INNER_MID,
)

_BLINK = (BLENDSHAPE_INDEX["eyeBlinkRight"], BLENDSHAPE_INDEX["eyeBlinkLeft"])  # subject's right = image left
_RIGHT_EYELIDS, _LEFT_EYELIDS = EYELIDS[:14], EYELIDS[14:]


def corner_shift(points: np.ndarray, desired: np.ndarray, corners: tuple[int, int], which: np.ndarray) -> np.ndarray:
    """(len(which), 3): the corners' move (``desired - points`` at the two corner landmarks) interpolated along the
    line between them at each landmark of ``which``: what carries an eyelid along with its corners unchanged."""
    start, end = points[corners[0]], points[corners[1]]
    axis = end - start
    along = np.clip((points[which] - start) @ axis / max(float(axis @ axis), 1e-12), 0.0, 1.0)[:, None]
    moves = desired[list(corners)] - points[list(corners)]
    return (1.0 - along) * moves[0] + along * moves[1]


def smoothstep(lo: float, hi: float, x: float | np.ndarray) -> float | np.ndarray:
    t = np.clip((np.asarray(x, np.float64) - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def blink_closure(blendshapes: np.ndarray, winks_are_expression: bool = True) -> tuple[float, float]:
    """(subject's right eye, left eye): how far each eye is closed by a blink, 0..1.

    A blink closes both eyes; a wink (one eye shut, the other open) is an expression, so with
    ``winks_are_expression`` only the closure both eyes share counts. Without it (no reference eye texture to
    paint an opened lid with) each eye's own score counts."""
    right, left = float(blendshapes[_BLINK[0]]), float(blendshapes[_BLINK[1]])
    if winks_are_expression:
        shared = min(right, left)
        return shared, shared
    return right, left


def jaw_participation(reference: np.ndarray) -> np.ndarray:
    """(478,) how much each landmark follows the jaw when the mouth opens: lower lip and chin fully, the mouth
    corners half, the upper lip not at all; other points by their height relative to the mouth line."""
    mouth_y = reference[MOUTH_CORNERS, 1].mean()
    share = np.clip(0.5 + (reference[:, 1] - mouth_y) / 0.25, 0.0, 1.0).astype(np.float32)
    share[LIPS] = 0.0
    share[LOWER_LIP] = 1.0
    share[MOUTH_CORNERS] = 0.5
    share[IRISES] = 0.0
    return share


@dataclass(frozen=True)
class Targets:
    current: np.ndarray  # (478 + anchors, 2) pixels: where the points are
    target: np.ndarray  # (478 + anchors, 2) pixels: where they should go
    turn_degrees: float  # head turn away from the camera (0 = frontal)
    fit_residual: float  # RMS misfit of the skull points, eye distances
    mouth_opening: float  # inner lip gap beyond the reference's, eye distances (teeth may show)


def compute_targets(
    face: Face,
    reference: np.ndarray,
    weights: np.ndarray,
    jaw_share: np.ndarray,
    *,
    strength: float,
    keep_speech: bool,
    blinks: tuple[float, float] | None,
    jaw_motion: np.ndarray | None = None,
) -> Targets:
    """``reference``: pose-free (478, 3); ``weights``: per-landmark pull (regions and falloff); ``jaw_share``:
    :func:`jaw_participation` of the reference; ``blinks``: per eye, the closure to keep (:func:`blink_closure`),
    or None when blinks are not kept; ``jaw_motion``: how the reference moves as its jaw opens, per eye distance of
    lip gap (:func:`basis.jaw_motion`), used to keep speech."""
    current = face.landmarks.astype(np.float32)
    to_ref = fit_similarity(current[STABLE], reference[STABLE])
    pose_free = to_ref.apply(current)
    residual = float(np.sqrt(((pose_free[STABLE] - reference[STABLE]) ** 2).sum(axis=1).mean()))
    # The face normal's angle to the camera axis: row 2 of the frontalising rotation is the face's z in camera.
    turn = float(np.degrees(np.arccos(np.clip(abs(to_ref.rotation[2, 2]), 0.0, 1.0))))

    desired = reference.copy()
    desired[IRISES] = pose_free[IRISES]  # gaze is not expression
    pull = weights.astype(np.float32).copy()
    if blinks is not None:
        # A blinking eye (score well above a squint's) keeps its eyelids: blinking is not expression, and the
        # pixels behind a closed lid do not exist, so opening it by warping only smears the lid. Squinting and
        # widening are still removed. The kept lids ride along with the eye's corners, which still go to the
        # reference: held where they were while the corners moved, a closed lid line kinked at its ends (a
        # step in eyeliner, a sliver of the lid's underside showing).
        for lids, corners, closure in zip((_RIGHT_EYELIDS, _LEFT_EYELIDS), EYE_CORNERS, blinks):
            kept = float(smoothstep(0.35, 0.6, closure))
            carried = pose_free[lids] + corner_shift(pose_free, desired, corners, lids)
            desired[lids] = (1.0 - kept) * desired[lids] + kept * carried
    gap_now = pose_free[LOWER_LIP_INNER_MID, 1] - pose_free[UPPER_LIP_INNER_MID, 1]
    gap_ref = reference[LOWER_LIP_INNER_MID, 1] - reference[UPPER_LIP_INNER_MID, 1]
    opening = max(0.0, float(gap_now - gap_ref))  # (texture: teeth may show)
    if keep_speech:
        # Keep the jaw's movement, nothing else of the mouth: the lower lip and chin (fully on the jaw) keep their
        # current height; points partly on the jaw (mouth corners, lower cheeks) move as the reference's own would
        # with the mouth this far open (the learned jaw motion; without it, in proportion to the lower lip's
        # drop), not as they do now, which a smile or frown also moves. Mouth width, the upper lip and the brows
        # still go to the reference.
        lip_drop = float((pose_free[LOWER_LIP, 1] - desired[LOWER_LIP, 1]).mean())
        if jaw_motion is not None:
            # How far the jaw is open, from the whole lower lip's drop (one lip gap alone is noisier).
            desired[:, 1:] += max(0.0, lip_drop / float(jaw_motion[LOWER_LIP, 1].mean())) * jaw_motion[:, 1:]
            follow: float | np.ndarray = 0.0
        else:
            follow = jaw_share * lip_drop
        own = pose_free[:, 1] - desired[:, 1]
        desired[:, 1] += np.where(jaw_share >= 1.0, own, follow)
    moved = pose_free + (strength * pull)[:, None] * (desired - pose_free)
    back = to_ref.inverse()
    # The anchors sit outside the reference's outline, or the current one's where that reaches further: a jaw
    # dropped wide open comes close to the reference's ring under the chin, and closing it would stretch the thin
    # strip left there (the jaw's edge and the collar) over the whole rise. Between the outline and the anchors,
    # the border rings (mesh.border_points) fade the outline's movement out.
    ring = anchor_ring(reference)
    ring_now = anchor_ring(pose_free)
    centre = reference[FACE_OVAL].mean(axis=0)
    further = np.linalg.norm(ring_now[:, :2] - centre[:2], axis=1) > np.linalg.norm(ring[:, :2] - centre[:2], axis=1)
    ring = back.apply(np.where(further[:, None], ring_now, ring))[:, :2]
    moved_px = back.apply(moved)[:, :2]
    target_px = np.vstack([moved_px, border_points(moved_px[FACE_OVAL], ring)])
    current_px = np.vstack([current[:, :2], border_points(current[FACE_OVAL, :2], ring)])
    return Targets(current_px, target_px, turn, residual, opening)
