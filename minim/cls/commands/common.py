"""Helpers the train, test and infer entry points share: warnings, and who prints."""

from __future__ import annotations

from minim.errors import warning_line


def warn(message: str, console: bool) -> None:
    if console:
        import sys

        print(warning_line(message), file=sys.stderr, flush=True)


def is_main(setup) -> bool:
    return setup is None or setup.rank == 0
