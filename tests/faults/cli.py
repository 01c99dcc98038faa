"""Run ``deadpan`` in-process as a user would from a shell: the exit status, also when argparse exits."""

from __future__ import annotations

from collections.abc import Sequence

from app import cli


def run_cli(argv: Sequence[str]) -> int:
    try:
        return int(cli.main(list(argv)))
    except SystemExit as exc:  # argparse reports option errors by exiting
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
