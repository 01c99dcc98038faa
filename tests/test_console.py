"""The command line's status line: redrawn in place on a terminal, plain lines now and then in a log."""

from __future__ import annotations

import io

from app.console import ERASE_LINE, StatusLine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_line_redrawn_in_place():
    screen = Terminal()
    line = StatusLine(screen)
    line.update("10 fps")
    line.update("12 fps")
    line.say("stopped")
    line.update("13 fps")
    line.end()
    line.end()  # once only
    assert screen.getvalue() == f"{ERASE_LINE}10 fps{ERASE_LINE}12 fps{ERASE_LINE}stopped\n{ERASE_LINE}13 fps\n"


def test_a_log_gets_plain_lines_every_few_seconds_and_every_lasting_one():
    log, now = io.StringIO(), [100.0]
    line = StatusLine(log, log_every_s=10.0, clock=lambda: now[0])
    for second in range(25):  # the engine's figures, once a second
        now[0] = 100.0 + second
        line.update(f"at {second} s")
        if second == 12:
            line.say("face lost")
    line.end()
    assert log.getvalue().splitlines() == ["at 0 s", "at 10 s", "face lost", "at 20 s"]
    assert "\r" not in log.getvalue() and "\033" not in log.getvalue()
