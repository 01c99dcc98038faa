"""A generic linear model of how expressions move the face (blendshape scores -> pose-free landmark shifts),
fitted by ``scripts/fit_expression_basis.py``. It lets the auto reference guess a person's neutral face from an
expressive frame: ``neutral ~ shape - basis(scores - relaxed scores)``."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from filters.base import BLENDSHAPE_INDEX, NUM_LANDMARKS
from filters.neutralise.regions import LOWER_LIP_INNER_MID, NOSE_TIP, UPPER_LIP_INNER_MID

BASIS_PATH = Path(__file__).with_name("expression_basis.npz")

# Scores whose resting level differs from person to person (relaxed eyes score as squinting on some people): for
# these the person's own lowest score so far is the baseline, not the population's relaxed level, or "correcting"
# them would invent an expression (wide eyes on someone whose relaxed eyes squint).
PERSONAL_BASELINE_INDEX = np.array(
    [i for n, i in BLENDSHAPE_INDEX.items() if n.startswith(("eyeSquint", "cheekSquint"))], dtype=np.intp
)
# Scores used to correct at all: everything that is expression (not blinks, not gaze).
CORRECTED_INDEX = np.array(
    [i for n, i in BLENDSHAPE_INDEX.items() if n != "_neutral" and not n.startswith(("eyeBlink", "eyeLook"))],
    dtype=np.intp,
)
# Unmistakable expressions (calibration rejects frames showing any of these; squints are not among them).
STRONG_EXPRESSION_INDEX = np.array(
    [
        BLENDSHAPE_INDEX[n]
        for n in (
            "mouthSmileLeft", "mouthSmileRight", "jawOpen", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
            "browDownLeft", "browDownRight", "mouthFrownLeft", "mouthFrownRight", "eyeWideLeft", "eyeWideRight",
            "mouthPucker", "mouthFunnel", "mouthStretchLeft", "mouthStretchRight", "noseSneerLeft", "noseSneerRight",
        )
    ],
    dtype=np.intp,
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray] | None:
    if not BASIS_PATH.exists():
        return None
    with np.load(BASIS_PATH) as data:
        return data["basis"].astype(np.float32), data["relaxed"].astype(np.float32)


def neutral_estimate(pose_free: np.ndarray, blendshapes: np.ndarray, lowest: np.ndarray | None = None) -> np.ndarray:
    """The pose-free shape with the expression the scores describe taken out (unchanged without a basis).
    ``lowest``: the person's lowest score per blendshape so far (the baseline for the personal-level scores)."""
    model = _load()
    if model is None:
        return pose_free
    basis, relaxed = model
    baseline = relaxed.copy()
    if lowest is not None:
        baseline[PERSONAL_BASELINE_INDEX] = np.maximum(relaxed, lowest)[PERSONAL_BASELINE_INDEX]
    excess = (np.asarray(blendshapes, np.float32) - baseline)[CORRECTED_INDEX]
    shift = excess @ basis[CORRECTED_INDEX]
    return (pose_free - shift.reshape(NUM_LANDMARKS, 3)).astype(np.float32)


def jaw_motion(shape: np.ndarray) -> np.ndarray | None:
    """(478, 3): how the landmarks of the pose-free ``shape`` move as its jaw opens, per eye distance of inner lip
    gap, or None without a basis. It is the basis' jawOpen row, learned from real faces: the lips part most
    mid-mouth and least at the corners, and the corners, cheeks and chin move with them. Only below the nose and
    only up-down and in depth: its small shifts elsewhere are fitting noise, and a population's asymmetries must
    not move the person's mouth sideways."""
    model = _load()
    if model is None:
        return None
    jaw = model[0][BLENDSHAPE_INDEX["jawOpen"]].reshape(NUM_LANDMARKS, 3)
    gap = float(jaw[LOWER_LIP_INNER_MID, 1] - jaw[UPPER_LIP_INNER_MID, 1])
    if gap <= 1e-6:
        return None
    below_nose = np.clip((shape[:NUM_LANDMARKS, 1] - shape[NOSE_TIP, 1]) / 0.1, 0.0, 1.0)
    motion = np.zeros((NUM_LANDMARKS, 3), np.float32)
    motion[:, 1:] = jaw[:, 1:] / gap * below_nose[:, None]
    return motion
