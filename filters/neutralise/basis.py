"""A generic linear model of how expressions move the face (blendshape scores -> pose-free landmark shifts),
fitted by ``scripts/fit_expression_basis.py``. It lets the auto reference guess a person's neutral face from an
expressive frame: ``neutral ~ shape - basis(scores - relaxed scores)``."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from filters.base import NUM_LANDMARKS

BASIS_PATH = Path(__file__).with_name("expression_basis.npz")


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray] | None:
    if not BASIS_PATH.exists():
        return None
    with np.load(BASIS_PATH) as data:
        return data["basis"].astype(np.float32), data["relaxed"].astype(np.float32)


def neutral_estimate(pose_free: np.ndarray, blendshapes: np.ndarray) -> np.ndarray:
    """The pose-free shape with the expression the scores describe taken out (unchanged without a basis)."""
    model = _load()
    if model is None:
        return pose_free
    basis, relaxed = model
    shift = (np.asarray(blendshapes, np.float32) - relaxed) @ basis
    return (pose_free - shift.reshape(NUM_LANDMARKS, 3)).astype(np.float32)
