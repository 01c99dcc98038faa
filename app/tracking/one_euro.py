"""One Euro filter (Casiez, Roussel, Vogel, CHI 2012), vectorised over all landmark coordinates.

Slow movement gets strong smoothing (no jitter on a still face); fast movement raises the cut-off so the
mask or warp does not lag behind a turning head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    min_cutoff: float = 1.0  # Hz; lower = smoother when still
    beta: float = 0.05  # how fast the cut-off rises with speed (per pixel/s)
    d_cutoff: float = 1.0  # Hz; cut-off for the speed estimate

    def __post_init__(self) -> None:
        if self.min_cutoff <= 0 or self.d_cutoff <= 0 or self.beta < 0:
            raise ValueError("One Euro parameters must be positive (beta may be 0)")


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Smooths a fixed-shape float array over time. ``__call__(value, t_seconds)`` returns the smoothed value."""

    def __init__(self, params: OneEuroParams | None = None) -> None:
        self.params = params or OneEuroParams()
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def __call__(self, value: np.ndarray, t: float) -> np.ndarray:
        value = np.asarray(value, dtype=np.float32)
        if self._x is None or self._x.shape != value.shape or self._t is None or t <= self._t:
            self._x, self._dx, self._t = value.copy(), np.zeros_like(value), t
            return value.copy()
        dt = t - self._t
        p = self.params
        dx = (value - self._x) / dt
        self._dx = self._dx + _alpha(p.d_cutoff, dt) * (dx - self._dx)
        cutoff = p.min_cutoff + p.beta * np.abs(self._dx)
        a = _alpha(cutoff, dt)
        self._x = self._x + a * (value - self._x)
        self._t = t
        return self._x.copy()
