"""Locks by name, in this process: created when first taken, forgotten when nobody holds or waits."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio


class NamedLocks:
    """`async with locks("refresh:alice"):` lets one task in at a time for each name."""

    def __init__(self) -> None:
        self._held: dict[str, anyio.Lock] = {}

    @contextlib.asynccontextmanager
    async def __call__(self, name: str) -> AsyncIterator[None]:
        lock = self._held.setdefault(name, anyio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._held.pop(name, None)

    def __len__(self) -> int:
        return len(self._held)
