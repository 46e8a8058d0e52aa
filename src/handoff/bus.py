"""The bus: "record X changed" events, so whoever waits on a record wakes at once, on any replica."""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import anyio
from anyio.abc import TaskStatus

from ._errors import ConfigError
from .ledger import Record

if TYPE_CHECKING:
    from ._postgres import PostgresDatabase
    from ._sql import Tx
    from .ledger import SqlLedger

Listener = Callable[[Record], Awaitable[None]]
Interest = Callable[[str], bool]
"""Whether a listener cares about the record with this id."""
logger = logging.getLogger("handoff.bus")


class Bus(Protocol):
    """Publishes a record after each of its transitions.

    `listen` registers a coroutine called for every published record;
    `wait` blocks until the given record is published (or the timeout passes).
    """

    async def publish(self, record: Record, *, announced: bool = False) -> None:
        """Deliver `record` to this process's waiters and listeners, and to the other processes'
        unless `announce` already told them in the transaction that made the change."""
        ...

    async def announce(self, tx: Tx, record_ids: Sequence[str]) -> None:
        """Tell the other processes that these records changed, as part of `tx`: they hear it when it
        commits, and never if it rolls back (in one process there is no one else to tell)."""
        ...

    def listen(self, listener: Listener, *, interest: Interest | None = None) -> None:
        """Call `listener` for published records (only those `interest` names, when given: a replica
        then skips reading what nobody here waits for)."""
        ...

    async def wait(self, record_id: str, timeout: float) -> Record | None: ...

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Hear other processes' events until cancelled (in one process there are none to hear)."""
        ...

    @property
    def listening(self) -> bool:
        """Whether events of other processes reach this one now (always, in one process)."""
        ...


_Waiter = tuple[anyio.Event, list[Record]]


class LocalBus:
    """In-process bus: listeners are called inline, waiters woken by events."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._interests: list[Interest] | None = []
        self._waiters: dict[str, list[_Waiter]] = defaultdict(list)

    async def publish(self, record: Record, *, announced: bool = False) -> None:
        for event, box in self._waiters.pop(record.id, []):
            box.append(record)
            event.set()
        for listener in list(self._listeners):
            await listener(record)

    async def announce(self, tx: Tx, record_ids: Sequence[str]) -> None:
        return None

    def listen(self, listener: Listener, *, interest: Interest | None = None) -> None:
        self._listeners.append(listener)
        if interest is None:
            self._interests = None  # this listener hears everything
        elif self._interests is not None:
            self._interests.append(interest)

    def wants(self, record_id: str) -> bool:
        """Whether anything here waits for or listens to `record_id`."""
        if record_id in self._waiters or self._interests is None:
            return True
        return any(interest(record_id) for interest in self._interests)

    def waiting(self) -> int:
        """How many waits are registered (for tests and benchmarks)."""
        return sum(len(w) for w in self._waiters.values())

    def register(self, record_id: str) -> _Waiter:
        entry: _Waiter = (anyio.Event(), [])
        self._waiters[record_id].append(entry)
        return entry

    async def until(self, record_id: str, entry: _Waiter, timeout: float) -> Record | None:
        event, box = entry
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

    async def wait(self, record_id: str, timeout: float) -> Record | None:
        return await self.until(record_id, self.register(record_id), timeout)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await anyio.sleep_forever()

    @property
    def listening(self) -> bool:
        return True


CHANNEL = "handoff_records"
CATCH_UP_MARGIN = 30.0
"""How far before a lost connection the catch-up reads: replicas' clocks differ by a little."""


class PostgresBus:
    """Events across replicas through PostgreSQL LISTEN/NOTIFY.

    A record published here is delivered to this process's waiters at once and sent to the others
    as a notification carrying its id (a replica reads the record itself, so it sees the committed
    row whatever the notification says). One connection per process listens; when it drops (the
    database restarted, the network blinked) it reconnects with backoff and then reads every record
    that finished since a little before the drop, so no completion falls into the gap. Waits check
    the record after registering, so one that finished just before is not waited for in vain.
    """

    def __init__(self, db: PostgresDatabase, ledger: SqlLedger) -> None:
        self.db = db
        self.ledger = ledger
        self.local = LocalBus()
        self.replica = secrets.token_hex(8)
        """This process's name on the channel: its own notifications come back to it, and are skipped."""
        self.reconnects = 0
        self.caught_up = 0
        """Records read by catch-ups after a reconnect."""
        self._listening = False
        self._delivering = anyio.Semaphore(64)

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is up (False before `run`, and from a drop to the catch-up)."""
        return self._listening

    async def publish(self, record: Record, *, announced: bool = False) -> None:
        await self.local.publish(record)
        if not announced:
            await self.db.run(lambda tx: self.announce(tx, [record.id]))

    async def announce(self, tx: Tx, record_ids: Sequence[str]) -> None:
        notes = [(CHANNEL, f"{self.replica} {record_id}") for record_id in record_ids]
        if len(notes) == 1:
            await tx.send("SELECT pg_notify(?, ?)", notes[0])
        else:
            await tx.executemany("SELECT pg_notify(?, ?)", notes)

    def listen(self, listener: Listener, *, interest: Interest | None = None) -> None:
        self.local.listen(listener, interest=interest)

    async def wait(self, record_id: str, timeout: float) -> Record | None:
        entry = self.local.register(record_id)
        try:
            record = await self.ledger.get(record_id)
        except BaseException:
            await self.local.until(record_id, entry, 0)  # unregister, whatever went wrong
            raise
        if not record.pending:
            await self.local.until(record_id, entry, 0)
            return record
        return await self.local.until(record_id, entry, timeout)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen until cancelled; reports started once the first connection listens, or raises
        `ConfigError` naming the database when even that one cannot be made."""
        try:
            await self._listen_forever(task_status)
        finally:
            self._listening = False

    async def _listen_forever(self, task_status: TaskStatus[None]) -> None:
        started = False
        lost_at: float | None = None
        backoff = 0.05
        while True:
            try:
                conn = await self.db.connect()
            except Exception as exc:
                if not started:
                    raise ConfigError(
                        f"cannot reach database {self.db.describe()} to listen: {self.db.say(exc)}"
                    ) from None
                lost_at = lost_at or time.time()
                logger.warning("bus: cannot reach %s (%s); retrying", self.db.describe(), self.db.say(exc))
                await anyio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            try:
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if not started:
                        started = True
                        task_status.started()
                    if lost_at is not None:
                        self.reconnects += 1
                        await self._catch_up(lost_at - CATCH_UP_MARGIN)
                        logger.warning("bus: listening again on %s; caught up", self.db.describe())
                    lost_at, backoff = None, 0.05
                    self._listening = True
                    async with anyio.create_task_group() as tg:
                        while True:
                            async for note in conn.notifies(timeout=5.0):
                                replica, _, record_id = note.payload.partition(" ")
                                if replica != self.replica and self.local.wants(record_id):
                                    await self._delivering.acquire()
                                    tg.start_soon(self._deliver, record_id)
                            await conn.execute("SELECT 1")  # quiet for 5 s: is the connection still alive?
            except Exception as exc:
                self._listening = False
                if not started:
                    raise ConfigError(
                        f"cannot listen on database {self.db.describe()}: {self.db.say(exc)}"
                    ) from None
                lost_at = lost_at or time.time()
                logger.warning("bus: lost %s (%s); reconnecting", self.db.describe(), self.db.say(exc))
                await anyio.sleep(backoff)

    async def _deliver(self, record_id: str) -> None:
        try:
            await self.local.publish(await self.ledger.get(record_id))
        except Exception:
            logger.warning("bus: could not deliver %s…", record_id[:8], exc_info=True)
        finally:
            self._delivering.release()

    async def _catch_up(self, since: float) -> None:
        for record in await self.ledger.finished_since(since):
            self.caught_up += 1
            await self.local.publish(record)
