"""A changing status line on stderr that reads well both in a terminal and in a log.

In a terminal the line is redrawn in place (carriage return, erase to the end of the line). Written to a file, a
pipe or the system journal those control characters would pile up as one unreadable line, so there each update
is a plain line of its own, at most once every ``log_every_s`` seconds (the first one at once).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

ERASE_LINE = "\r\033[K"


class StatusLine:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        log_every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every_s = log_every_s
        self._clock = clock
        self._logged_at: float | None = None
        self._open = False  # a redrawn line is on screen without its newline

    def update(self, text: str) -> None:
        """Figures that change all the time: redrawn in a terminal, logged now and then elsewhere."""
        if self.terminal:
            self.stream.write(ERASE_LINE + text)
            self._open = True
        else:
            now = self._clock()
            if self._logged_at is not None and now - self._logged_at < self.log_every_s:
                return
            self._logged_at = now
            self.stream.write(text + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        """A line that stays (a state change, the final figures), always written."""
        self.stream.write((ERASE_LINE if self.terminal else "") + text + "\n")
        self._open = False
        self.stream.flush()

    def end(self) -> None:
        """Leave the redrawn line, so what is printed next starts on its own."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
