"""Completion routing: tell the session that started an elicitation, and no other, that it ended."""

from __future__ import annotations

import logging
import time
from typing import Any

from .ledger import Record, Status

logger = logging.getLogger("handoff.notifier")

_NOTIFY = (Status.COMPLETED, Status.DECLINED)


class Notifier:
    """Remembers which session is waiting on which record; sends the notice on a finish event.

    Entries live until the record finishes or its expiry passes; a session that
    vanished in between is harmless (sending is best effort, the client can retry).
    """

    def __init__(self) -> None:
        self._watching: dict[str, tuple[Any, float]] = {}

    def watch(self, record_id: str, session: Any, *, until: float | None = None) -> None:
        self._prune()
        self._watching[record_id] = (session, until or time.time() + 3600)

    async def on_record(self, record: Record) -> None:
        entry = self._watching.pop(record.id, None)
        if entry is None or record.status not in _NOTIFY:
            return
        session, _ = entry
        try:
            await session.send_elicit_complete(record.id)
        except Exception:  # the client may be gone; it can still retry on its own
            logger.debug("completion notice for %s… not delivered", record.id[:8], exc_info=True)

    def _prune(self) -> None:
        now = time.time()
        for record_id in [k for k, (_, until) in self._watching.items() if until < now]:
            del self._watching[record_id]
