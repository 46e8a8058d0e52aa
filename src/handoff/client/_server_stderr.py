"""What a server started over stdio prints on its stderr, passed on to ours as plain text.

The SDK hands the child our own stderr, so a hostile server could clear the screen, retitle the window
or set the clipboard with escape sequences. Here the child writes into a pipe instead, and each line
it prints reaches the person through `printable`, every control character named.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import TextIO

from .._exact import printable

_LINE_LIMIT = 4000
"""Characters of one line of a server's stderr shown; the rest of the line is cut with an ellipsis."""


@contextlib.contextmanager
def relayed_stderr(to: TextIO | None = None) -> Iterator[TextIO]:
    """A file for a child's stderr whose lines reach `to` (our stderr) made printable."""
    read_fd, write_fd = os.pipe()
    out = to if to is not None else sys.stderr

    def relay() -> None:
        with open(read_fd, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                print(printable(line.rstrip("\n"), limit=_LINE_LIMIT), file=out, flush=True)

    thread = threading.Thread(target=relay, name="handoff-server-stderr", daemon=True)
    thread.start()
    errlog = open(write_fd, "w", encoding="utf-8")
    try:
        yield errlog
    finally:
        errlog.close()
        thread.join(timeout=2)  # a grandchild that keeps the pipe open must not hold us up
