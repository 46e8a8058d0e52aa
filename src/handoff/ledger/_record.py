"""Elicitation records and the state machine they follow."""

from __future__ import annotations

import enum
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .._errors import RateLimited


class Status(enum.StrEnum):
    """Where a record is in its life. Only `PENDING` can change, and only once."""

    PENDING = "pending"
    COMPLETED = "completed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    """Ended by an error outside the person's choice (a provider refused the code exchange)."""


FINAL_STATUSES = frozenset({Status.COMPLETED, Status.DECLINED, Status.CANCELLED, Status.FAILED})


def new_record_id() -> str:
    """192 random bits, URL-safe: the only thing an elicitation URL carries."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Record:
    """One URL elicitation, bound to the verified principal it was created for."""

    id: str
    principal: str
    kind: str
    params: dict[str, Any]
    status: Status
    created_at: float
    expires_at: float
    client_id: str | None = None
    completed_at: float | None = None
    key: str = ""
    acknowledged: bool = False
    trace: str = ""
    """The W3C traceparent of the tool call that made the link ("" when nothing traced it)."""

    @property
    def pending(self) -> bool:
        return self.status is Status.PENDING

    def seen_at(self, now: float) -> Record:
        """This record as it stands at `now`: a pending record past its expiry reads as expired."""
        if self.status is Status.PENDING and now >= self.expires_at:
            return replace(self, status=Status.EXPIRED, completed_at=self.expires_at)
        return self


CLOCK_SKEW = 5.0
"""Seconds a stored time may lie in the future and still count as now (clocks drift and step)."""


@dataclass(frozen=True)
class Limits:
    """Per-principal caps that stop one user (or one runaway agent) flooding the ledger."""

    max_pending: int = 20
    max_per_minute: int = 30

    def check(self, pending: int, last_minute: int) -> None:
        if pending >= self.max_pending:
            raise RateLimited(
                f"you already have {pending} elicitations waiting in the browser; "
                "finish or decline some of them, or wait for them to expire, then try again"
            )
        if last_minute >= self.max_per_minute:
            raise RateLimited(
                f"too many elicitations started in the last minute ({last_minute}); wait a minute and retry",
                retry_after=60.0,
            )


@dataclass
class Draft:
    """What a caller asks the ledger to create."""

    principal: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    client_id: str | None = None
    key: str = ""
    """What the record is for (say `secret:github_token`), to find the latest one for a need."""
    trace: str = ""
    """The W3C traceparent of the tool call asking (see `handoff._tracing`)."""


class Ledger(Protocol):
    """Storage for elicitation records; every transition is atomic and happens once.

    `finish` moves a pending record to a final status and returns it; when the
    record is not pending any more (or has expired in the meantime) it raises
    `TransitionRefused`, so of two racing completions exactly one wins.
    """

    ttl: float

    async def create(self, draft: Draft, *, ttl: float | None = None) -> Record: ...

    async def get(self, record_id: str) -> Record: ...

    async def finish(self, record_id: str, status: Status) -> Record: ...

    async def expire_due(self, limit: int = 500) -> list[Record]: ...

    async def latest(self, principal: str, key: str) -> Record | None:
        """The newest record of this principal for this key, in any status."""
        ...

    async def acknowledge(self, record_id: str) -> bool:
        """Mark a finished record as reported to its tool; True only for the first caller."""
        ...

    async def count_pending(self, principal: str) -> int: ...

    async def claim_once(self, token_id: str, expires_at: float) -> bool:
        """Record that a one-time token was used; True only the first time (until it expires)."""
        ...

    async def close(self) -> None: ...


def now() -> float:
    return time.time()
