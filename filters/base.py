"""The one protocol every filter implements, and the plain data type filters receive.

Filters are pure numpy/OpenCV (no Qt, nothing from ``app``) so they run the same in the live loop,
in ``deadpan process`` and in the measuring lab.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

# MediaPipe Face Landmarker's 52 blendshape names, in the order the model emits them.
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)  # fmt: skip
BLENDSHAPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}

NUM_LANDMARKS = 478


@dataclass(frozen=True)
class Face:
    """One tracked face in one frame, in the frame's pixel coordinates.

    ``landmarks``: (478, 3) float32; x and y in pixels, z in the same scale as x (MediaPipe's z times width).
    ``blendshapes``: (52,) float32 scores in ``BLENDSHAPE_NAMES`` order (zeros if the tracker gave none).
    ``pose``: 4x4 float32 facial transformation matrix (canonical face model to camera space).
    ``face_id``: stable index of the face within a stream, so per-face state (references, smoothing) follows it.
    """

    landmarks: np.ndarray
    blendshapes: np.ndarray = field(default_factory=lambda: np.zeros(len(BLENDSHAPE_NAMES), np.float32))
    pose: np.ndarray = field(default_factory=lambda: np.eye(4, dtype=np.float32))
    face_id: int = 0

    @property
    def points(self) -> np.ndarray:
        """(478, 2) float32 pixel positions."""
        return self.landmarks[:, :2]

    def blendshape(self, name: str) -> float:
        return float(self.blendshapes[BLENDSHAPE_INDEX[name]])


class Filter(ABC):
    """A privacy filter: a BGR frame and the tracked faces in, a BGR frame of the same shape out.

    ``strength`` runs from 0 (the frame is returned unchanged) to 1 (the filter's full effect; for the
    obscuring filters nothing recognisable of the face is left). Subclasses implement :meth:`apply` only;
    per-stream state (references, temporal smoothing) is dropped by :meth:`reset`.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    # A few words for the user about the last apply, when the filter did less than asked (for example blurred a
    # face it could not neutralise); "" otherwise. The pipeline shows it beside the face status.
    notice: str = ""

    def __init__(self, strength: float = 1.0) -> None:
        self.strength = strength

    @property
    def strength(self) -> float:
        return self._strength

    @strength.setter
    def strength(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"strength must be between 0 and 1, got {value}")
        self._strength = value

    @abstractmethod
    def apply(self, frame: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """Return the filtered frame. May modify and return ``frame`` itself; must not keep a reference to it."""

    def reset(self) -> None:
        """Forget per-stream state (called when the source changes)."""

    def carry_over(self, previous: Filter) -> None:
        """Take over what the user set up on ``previous``, the filter this one replaces after an option
        change (for example a calibrated reference). Default: nothing to carry."""
