"""Progress for one downstream request: upstream progress relayed, and a heartbeat while a person
is in the browser, so that a client with a tool-call timeout keeps waiting."""

from __future__ import annotations

import logging

from mcp.server.session import ServerSession

logger = logging.getLogger("handoff.bridge")


class Progress:
    """`notifications/progress` for the request whose context gave `session` (a no-op when that
    request carried no progress token).

    Values only go up, as the protocol asks: an upstream value that does not (the upstream call was
    started by an earlier request) goes on from the last value sent, without its total."""

    def __init__(self, session: ServerSession) -> None:
        self.session = session
        self.last = 0.0

    async def send(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if progress <= self.last:
            progress, total = self.last + 1, None
        self.last = progress
        try:
            await self.session.report_progress(progress, total, message)
        except Exception as exc:  # the request was answered or its client went away: nothing to tell
            logger.debug("progress not sent: %s", type(exc).__name__)

    async def beat(self, message: str) -> None:
        """One more sign of life: the call still waits, and why."""
        await self.send(self.last + 1, None, message)
