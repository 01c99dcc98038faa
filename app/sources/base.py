"""The shape every frame source has: ``start()``, ``read()``, ``stop()`` (as in vidgear)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CapturedFrame:
    """A BGR uint8 frame and when it was captured (``time.monotonic()`` seconds) and its running index."""

    image: np.ndarray
    captured_at: float
    index: int


@dataclass(frozen=True)
class SourceInfo:
    name: str
    width: int
    height: int
    fps: float
    frame_count: int | None = None  # None for live sources


class SourceError(RuntimeError):
    """A source could not be opened or read; the message says what to do. ``problem`` is the message without
    ``cli_hint``, the way out on the command line (the window offers its own: another camera, "Video file…")."""

    def __init__(self, problem: str, cli_hint: str = "") -> None:
        super().__init__(f"{problem} ({cli_hint})" if cli_hint else problem)
        self.problem = problem


class Source(ABC):
    """A frame source. ``read()`` returns the newest frame not yet handed out, waiting up to ``timeout`` s;
    ``None`` if none arrived in time or the source has ended (then ``ended`` is True). Live sources never
    queue: a frame that was not read before the next one arrived is dropped and counted in ``dropped``."""

    dropped: int = 0

    @abstractmethod
    def start(self) -> Source: ...

    @abstractmethod
    def read(self, timeout: float | None = None) -> CapturedFrame | None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @property
    @abstractmethod
    def info(self) -> SourceInfo: ...

    @property
    def ended(self) -> bool:
        return False

    def __enter__(self) -> Source:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
