"""A second worker of one server on a SQLite file stands by, instead of taking its siblings down.

`uvicorn --workers N` starts N processes on one socket. A SQLite file serves one process, so every
worker but the first is refused. But uvicorn stops every worker when one fails to start, and starts
again any worker that exits, so a refused worker that failed or exited would take the healthy one
down, or come back again and again. A worker refused because a sibling serves does neither: it says
so in one line and waits before its start-up ends, so it never accepts a connection; when the
serving worker ends, it takes over. Any other second server is still refused at once.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import anyio

from ._db import ServedElsewhere

POLL = 0.5
"""Seconds between a standby worker's tries to take the file over."""


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command's name: state, then the parent's pid
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None


def beside_a_sibling(refused: ServedElsewhere) -> bool:
    """Whether this process is a worker of a supervisor (started by `multiprocessing`, as uvicorn's
    workers are) and the process that serves the file is another worker of the same one."""
    if refused.holder is None or multiprocessing.parent_process() is None:
        return False
    return _parent_of(refused.holder) == os.getppid()


@contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """An event set when the process is told to stop (SIGTERM, SIGINT), the handlers in place kept."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    kept: dict[int, Any] = {}

    def noted(sig: int, frame: FrameType | None) -> None:
        stop.set()
        handler = kept.get(sig)
        if callable(handler):
            handler(sig, frame)

    for sig in (signal.SIGTERM, signal.SIGINT):
        kept[int(sig)] = signal.signal(sig, noted)
    try:
        yield stop
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)


async def stand_by(claim: Callable[[], None], refused: ServedElsewhere, path: Path) -> None:
    """Say in one line that this worker stands by, then wait until `claim` succeeds (the serving
    worker ended). Told to stop meanwhile, the worker ends at once: it holds nothing."""
    print(
        f"handoff: worker {os.getpid()} stands by: its sibling worker {refused.holder} serves from "
        f"{path}, and a SQLite file serves one process; it serves nothing until that one ends "
        "(run one worker, or PostgreSQL for several: HANDOFF_DATABASE_URL=postgresql://…)",
        file=sys.stderr,
        flush=True,
    )
    with _stop_signals() as stop:
        while True:
            if stop.is_set():
                os._exit(0)
            try:
                claim()
                return
            except ServedElsewhere:
                await anyio.sleep(POLL)
