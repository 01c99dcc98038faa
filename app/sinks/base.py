"""The shape every output has: ``start()``, ``write()``, ``stop()``, mirroring the sources."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class SinkError(RuntimeError):
    """A sink could not be opened or written; the message says what to do."""


class Sink(ABC):
    """An output for filtered BGR uint8 frames of a fixed size."""

    @abstractmethod
    def start(self, width: int, height: int, fps: float) -> Sink: ...

    @abstractmethod
    def write(self, frame_bgr: np.ndarray) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @property
    def device(self) -> str:
        """What the user should look for (the virtual camera's name, the output path)."""
        return type(self).__name__
