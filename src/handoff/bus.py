"""The bus: "record X changed" events, so whoever waits on a record wakes at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio

from .ledger import Record

Listener = Callable[[Record], Awaitable[None]]


class Bus(Protocol):
    """Publishes a record after each of its transitions.

    `listen` registers a coroutine called for every published record;
    `wait` blocks until the given record is published (or the timeout passes).
    """

    async def publish(self, record: Record) -> None: ...

    def listen(self, listener: Listener) -> None: ...

    async def wait(self, record_id: str, timeout: float) -> Record | None: ...


class LocalBus:
    """In-process bus: listeners are called inline, waiters woken by events."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._waiters: dict[str, list[tuple[anyio.Event, list[Record]]]] = defaultdict(list)

    async def publish(self, record: Record) -> None:
        for event, box in self._waiters.pop(record.id, []):
            box.append(record)
            event.set()
        for listener in list(self._listeners):
            await listener(record)

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def wait(self, record_id: str, timeout: float) -> Record | None:
        event = anyio.Event()
        box: list[Record] = []
        entry = (event, box)
        self._waiters[record_id].append(entry)
        try:
            with anyio.move_on_after(timeout):
                await event.wait()
        finally:
            waiting = self._waiters.get(record_id)
            if waiting and entry in waiting:
                waiting.remove(entry)
                if not waiting:
                    del self._waiters[record_id]
        return box[0] if box else None
