"""How to run handoff from here, for the hints and banners that tell a person what to type next.

`pip install` into a virtual environment puts `handoff` in the environment's `bin`, which is on PATH
only once the environment is activated; a hint that says a bare `handoff …` is then a dead end.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from functools import cache
from pathlib import Path

DISTRIBUTION = "mcp-handoff"
"""The name handoff is published under (`pip install mcp-handoff`); it is imported as `handoff`, and its
command is `handoff`."""


@cache
def program() -> str:
    """The shortest command that runs this handoff: `handoff` when PATH finds this one, else the
    script next to this Python (relative to the working directory when it is below it), else
    `python -m handoff`."""
    script = Path(sys.executable).parent / ("handoff.exe" if os.name == "nt" else "handoff")
    found = shutil.which("handoff")
    if found and Path(found).resolve() == script.resolve():
        return "handoff"
    if script.exists():
        try:
            return str(script.absolute().relative_to(Path.cwd()))
        except ValueError:
            return str(script)
    return f"{shlex.quote(sys.executable)} -m handoff"


def install(extra: str) -> str:
    """The pip command that adds one of handoff's extras (`postgresql`, `fastmcp`)."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def command(*args: str) -> str:
    """`handoff ARGS…` as the person should type it here, in backquotes (arguments quoted for the shell
    where they need it; `…` placeholders left as they are)."""
    words = [program(), *(arg if arg in {"…", "..."} else shlex.quote(arg) for arg in args)]
    return f"`{' '.join(words)}`"
