"""Completion routing: tell the session that started an elicitation, and no other, that it ended."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import anyio

from ._logs import NOTIFIED, lifecycle
from ._tracing import Attributes, joined
from .audit import Entry
from .ledger import Record, Status

if TYPE_CHECKING:
    from ._metrics import Metrics

logger = logging.getLogger("handoff.notifier")

_NOTIFY = (Status.COMPLETED, Status.DECLINED, Status.EXPIRED)
"""An expiry is told too: the client stops waiting, and its retry gets a fresh link or a clear error."""


FLUSH_WAIT = 0.2
"""Seconds a notice handed to the SDK is given to reach its connection before the outbox forgets it."""


async def written_out() -> None:
    """Give the notices just handed to the SDK time to be written to their connections: the SDK
    passes a notice through a few tasks of its transport before it reaches the socket, and returns
    before they ran. A crash in that time leaves the outbox row, and the sweep tells again. (A timer,
    not a scan of every task: a busy server finishes many records at once.)"""
    await anyio.sleep(FLUSH_WAIT)


class Notifier:
    """Remembers which sessions wait on which record; sends each of them the notice on a finish event.

    One person's sessions can share a pending record (the same need, asked from two
    connections): every session that was handed its id is told, and no other. Entries
    live until the record finishes or its expiry passes; a session that vanished in
    between is harmless (sending is best effort, the client can retry).
    """

    MAX_SESSIONS = 32
    """Sessions told about one record at most (one person's connections)."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self._watching: dict[str, tuple[list[Any], float]] = {}
        self.metrics = metrics

    def watch(self, record_id: str, session: Any, *, until: float | None = None) -> None:
        self._prune()
        sessions, _ = self._watching.get(record_id, ([], 0.0))
        if not any(known is session for known in sessions):
            sessions = [*sessions, session][-self.MAX_SESSIONS :]
        self._watching[record_id] = (sessions, until or time.time() + 3600)

    def unwatch(self, record_id: str, session: Any) -> None:
        """`session` is not told about `record_id` after all (the others waiting on it still are)."""
        sessions, until = self._watching.get(record_id, ([], 0.0))
        left = [known for known in sessions if known is not session]
        if left:
            self._watching[record_id] = (left, until)
        else:
            self._watching.pop(record_id, None)

    def watching(self, record_id: str) -> bool:
        return record_id in self._watching

    async def on_record(self, record: Record) -> None:
        entry = self._watching.pop(record.id, None)
        if entry is None or record.status not in _NOTIFY:
            return
        attributes: Attributes = {"handoff.record_id": record.id, "handoff.sessions": len(entry[0])}
        with joined("handoff.notice", record.trace, attributes):
            for session in entry[0]:
                try:
                    await session.send_elicit_complete(record.id)
                    if self.metrics is not None:
                        self.metrics.since_completion(self.metrics.completion_to_notice, record)
                except Exception:  # the client may be gone; it can still retry on its own
                    logger.debug("completion notice for %s… not delivered", record.id[:8], exc_info=True)
        told = f"{len(entry[0])} session{'s' if len(entry[0]) > 1 else ''}"
        lifecycle(Entry(time.time(), NOTIFIED, record.principal, record.client_id, record.id, detail=told))

    def _prune(self) -> None:
        now = time.time()
        for record_id in [k for k, (_, until) in self._watching.items() if until < now]:
            del self._watching[record_id]
