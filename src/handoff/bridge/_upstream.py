"""The bridge's connection to the server behind it, made again when it drops (the server restarted,
or was stopped for a while), so that the client in front keeps its bridge."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from anyio.abc import TaskStatus

from .._errors import HandoffError, expected
from ..client import Elicitations, HandoffClient
from ..client._connect import connect, is_url
from ..client._failures import one_line

logger = logging.getLogger("handoff.bridge")

AGAIN_EVERY = 1.0
"""Seconds between attempts to connect again."""


class ConnectionLost(HandoffError):
    """The connection to the server dropped while a call was under way."""


class Upstream:
    """Holds the current `HandoffClient`. A server at a URL is connected to again whenever the
    connection drops (the calls under way then are told, through `lost`); a stdio server that
    ended stays ended, and each call says how."""

    def __init__(
        self,
        spec: Sequence[str],
        elicitations: Elicitations,
        *,
        lost: Callable[[ConnectionLost], None],
        connected: Callable[[HandoffClient], None],
        **options: Any,
    ) -> None:
        self.spec = spec
        self.elicitations = elicitations
        self.lost = lost
        self.connected = connected
        self.options = options
        self.where = spec[0] if len(spec) == 1 else " ".join(spec)
        self._client: HandoffClient | None = None

    @property
    def client(self) -> HandoffClient:
        assert self._client is not None, "used before the first connection"
        return self._client

    async def run(self, *, task_status: TaskStatus[HandoffClient] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect (the first failure is raised: nothing to serve yet), then keep connected."""
        first, quiet = True, False
        while True:
            try:
                async with connect(self.spec, self.elicitations, **self.options) as client:
                    self._client = client
                    self.connected(client)
                    if first:
                        first = False
                        task_status.started(client)
                    else:
                        logger.info("connected again to %s", self.where)
                    quiet = False
                    await anyio.sleep_forever()
            except Exception as exc:
                if first or expected(exc) is None:
                    raise
                if not is_url(self.spec):
                    await anyio.sleep_forever()  # the calls say how the command ended
                line = one_line(exc, self.where)
                if not quiet:
                    logger.warning("%s (connecting again every %g s)", line, AGAIN_EVERY)
                    quiet = True
                self.lost(
                    ConnectionLost(
                        f"the connection to {self.where} was lost while the call was under way ({line}); "
                        "call the tool again"
                    )
                )
            await anyio.sleep(AGAIN_EVERY)
