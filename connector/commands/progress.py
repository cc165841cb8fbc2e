"""Progress lines on stderr for long CLI work (imports, reconciliations, workbook exports).

Why stderr: stdout stays the command's result (a summary line, JSON) that scripts parse, while a person
at the terminal sees that thousands of sessions are moving. Lines, not a redrawn bar: they survive logs
and CI output.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def reporter(command: str, noun: str, total: int | None = None,
             stream: TextIO | None = None) -> Callable[[int], None]:
    """A ``progress(done)`` callback printing ``command: 500/2000 sessions (1.2 s)`` to stderr."""
    started = time.monotonic()
    out = stream or sys.stderr

    def progress(done: int) -> None:
        of = f"/{total}" if total is not None else ""
        print(f"{command}: {done}{of} {noun} ({time.monotonic() - started:.1f} s)", file=out, flush=True)

    return progress
