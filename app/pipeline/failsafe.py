"""The fail-closed policy: what goes out when the filtered frame cannot be trusted.

Nothing in here ever returns the raw frame. No face (start-up, face lost, a flicker), a stage that raised,
a filter that returned something that is not a frame of the right shape, panic: the output is the whole
frame obscured, the last good output ("hold"), or a plain card, by the user's choice.
"""

from __future__ import annotations

import numpy as np

from filters.obscure import card_frame, obscure_frame

__all__ = ["FailSafe", "FaceGate", "card_frame", "is_valid_output", "obscure_frame"]


def is_valid_output(output: object, raw: np.ndarray) -> bool:
    """A filter's result is usable only if it is a frame of exactly the input's shape and dtype."""
    return isinstance(output, np.ndarray) and output.shape == raw.shape and output.dtype == raw.dtype


class FailSafe:
    """Produces the replacement frame for the ``on_face_lost`` policy and remembers the last good output."""

    def __init__(self, policy: str = "obscure") -> None:
        self.policy = policy
        self._last_good: np.ndarray | None = None
        self._card: np.ndarray | None = None

    def remember(self, output: np.ndarray) -> None:
        self._last_good = output

    def forget(self) -> None:
        """Drop the held frame (a new source: its picture must not be replaced by the old one's)."""
        self._last_good = None

    def replacement(self, raw: np.ndarray) -> np.ndarray:
        if self.policy == "card":
            return self.card(*raw.shape[:2])
        if self.policy == "hold" and self._last_good is not None and self._last_good.shape == raw.shape:
            return self._last_good
        return obscure_frame(raw)  # "obscure", and "hold" before there is anything to hold

    def card(self, height: int, width: int) -> np.ndarray:
        if self._card is None or self._card.shape[:2] != (height, width):
            self._card = card_frame(height, width)
        return self._card


class FaceGate:
    """Decides frame by frame whether filtered output may be sent.

    At start-up (or after a new source) the first frame with a face opens the gate. After a face was lost,
    ``reacquire_frames`` consecutive frames with a face are needed, so a one-frame flicker of detection (often
    with a badly placed mesh) cannot leak a face through a filter drawn in the wrong place.
    """

    def __init__(self, reacquire_frames: int = 2) -> None:
        self.reacquire_frames = reacquire_frames
        self.started = False  # a face has been seen since the last reset
        self._lost = False
        self._streak = 0

    def reset(self) -> None:
        self.started = False
        self._lost = False
        self._streak = 0

    def lose(self) -> None:
        """Something other than "no face" broke trust (an error, panic): require re-acquisition."""
        self._streak = 0
        self._lost = self.started

    def observe(self, face_found: bool) -> bool:
        if not face_found:
            self.lose()
            return False
        self._streak += 1
        needed = self.reacquire_frames if self._lost else 1
        if self._streak >= needed:
            self.started, self._lost = True, False
            return True
        return False
