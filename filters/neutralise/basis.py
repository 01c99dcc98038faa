"""A generic linear model of how expressions move the face (blendshape scores -> pose-free landmark shifts),
fitted by ``scripts/fit_expression_basis.py``. It lets the auto reference guess a person's neutral face from an
expressive frame: ``neutral ~ shape - basis(scores - relaxed scores)``."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from filters.base import BLENDSHAPE_INDEX, NUM_LANDMARKS

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
