"""How many requests this process may hold open while people finish in the browser.

Each held wait keeps its client's connection, one file descriptor. At the usual soft limit of 1,024 a
process would stall at about a thousand waiting flows, and then nobody could open a page to finish
one. So at startup the soft limit is raised to the hard limit where allowed, a reserve is kept for
the pages, the database, logs and the listening socket, and held waits beyond the rest are refused
with `Busy` before the process runs out.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator

from ._errors import Busy

try:
    import resource
except ImportError:  # not on Windows: no descriptor limit to raise or read
    resource = None  # type: ignore[assignment]

logger = logging.getLogger("handoff")

CEILING = 65_536
"""The soft limit asked for when the hard limit is unlimited."""
RESERVE_MIN = 64
RESERVE_SHARE = 0.10
BUSY_LOG_INTERVAL = 60.0
_FD_DIR = "/proc/self/fd"


def descriptor_limit() -> int | None:
    """The soft RLIMIT_NOFILE of this process, or None where there is none to read."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def raise_descriptor_limit() -> int | None:
    """Raise the soft descriptor limit to the hard limit (at most `CEILING` when the hard one is
    unlimited), logging what was done; never fails: a refusal is logged and the old limit kept.
    Returns the soft limit in force afterwards."""
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            logger.info(
                "file descriptor limit stays at %d: raising it to %d was refused (%s)", soft, wanted, exc
            )
        else:
            logger.info("file descriptor limit raised from %d to %d", soft, wanted)
    limit = descriptor_limit()
    if limit is not None:
        logger.info("file descriptors: limit %d, up to %d held waits", limit, hold_capacity(limit))
    return limit


def reserve(limit: int) -> int:
    """Descriptors kept back for pages, the database, logs and the listening socket."""
    return max(RESERVE_MIN, int(limit * RESERVE_SHARE))


def hold_capacity(limit: int) -> int:
    """Held waits a process with this descriptor limit may keep: one descriptor each."""
    return max(0, limit - reserve(limit))


def open_descriptors() -> int | None:
    """How many descriptors this process has open, where the system says (Linux), else None."""
    try:
        return len(os.listdir(_FD_DIR)) - 1  # listing the directory opens one itself
    except OSError:
        return None


class Holds:
    """Counts held waits and refuses one more with `Busy` when the process could run out.

    Two checks, because each alone misses something. The count (at most `capacity`, by default the
    limit less the reserve) is what held waits themselves may take. But descriptors are also used by
    other things this process does: page requests, outgoing calls to identity providers, the store,
    whatever the server author's tools open. So where the open descriptors can be counted (Linux's
    /proc/self/fd), a wait is also refused once fewer than the reserve are left, which keeps the pages
    reachable however the descriptors came to be used. Listing that directory costs well under a
    millisecond, so it is done only once half the capacity is held.
    """

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity
        """Held waits allowed at once; None computes it from the descriptor limit in force."""
        self.held = 0
        self.refused = 0
        self._last_warning = -BUSY_LOG_INTERVAL

    def allowed(self) -> int | None:
        """How many held waits may be kept at once right now (None: no limit known)."""
        if self.capacity is not None:
            return self.capacity
        limit = descriptor_limit()
        return None if limit is None else hold_capacity(limit)

    def _full(self) -> bool:
        allowed = self.allowed()
        if allowed is None:
            return False
        if self.held >= allowed:
            return True
        limit = descriptor_limit()
        if limit is None or self.held < allowed // 2:
            return False
        used = open_descriptors()
        return used is not None and used >= limit - reserve(limit)

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Count one held wait for the block, or raise `Busy` when no more may be held."""
        if self._full():
            self.refused += 1
            now = time.monotonic()
            if now - self._last_warning >= BUSY_LOG_INTERVAL:
                self._last_warning = now
                logger.warning(
                    "busy: %d requests held open while people finish in the browser; refusing more "
                    "(%d refused so far) so that the pages stay reachable. Raise the file descriptor "
                    "limit (ulimit -n) or run more processes.",
                    self.held,
                    self.refused,
                )
            raise Busy("the server holds as many waiting requests as it can; try again in a moment")
        self.held += 1
        try:
            yield
        finally:
            self.held -= 1
