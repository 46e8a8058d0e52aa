"""In-process ledger: fast, for tests and single-process servers that may lose records on restart."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import replace

from .._errors import RecordNotFound, TransitionRefused
from ._record import CLOCK_SKEW, FINAL_STATUSES, Draft, Limits, Record, Status, new_record_id, now


class MemoryLedger:
    """Records in a dict. Safe within one event loop: no operation awaits mid-change."""

    def __init__(self, *, ttl: float = 600.0, limits: Limits | None = None) -> None:
        self.ttl = ttl
        self.limits = limits or Limits()
        self._records: dict[str, Record] = {}
        self._pending: dict[str, set[str]] = defaultdict(set)
        self._created: dict[str, deque[float]] = defaultdict(deque)
        self._latest: dict[tuple[str, str], str] = {}
        self._claimed: dict[str, float] = {}

    async def create(self, draft: Draft, *, ttl: float | None = None) -> Record:
        t = now()
        recent = self._created[draft.principal]
        while recent and (recent[0] <= t - 60 or recent[0] > t + CLOCK_SKEW):
            recent.popleft()
        self.limits.check(self._live(draft.principal, t), len(recent))
        record = Record(
            id=new_record_id(),
            principal=draft.principal,
            kind=draft.kind,
            params=dict(draft.params),
            status=Status.PENDING,
            created_at=t,
            expires_at=t + (self.ttl if ttl is None else ttl),
            client_id=draft.client_id,
            key=draft.key,
            trace=draft.trace,
        )
        self._records[record.id] = record
        self._latest[(record.principal, record.key)] = record.id
        self._pending[record.principal].add(record.id)
        recent.append(t)
        return record

    async def get(self, record_id: str) -> Record:
        record = self._records.get(record_id)
        if record is None:
            raise RecordNotFound(record_id)
        return record.seen_at(now())

    async def finish(self, record_id: str, status: Status) -> Record:
        if status not in FINAL_STATUSES:
            raise ValueError(f"a record can only finish as one of {sorted(FINAL_STATUSES)}")
        record = await self.get(record_id)
        if not record.pending:
            raise TransitionRefused(record_id, record.status)
        done = replace(record, status=status, completed_at=now())
        self._records[record_id] = done
        self._pending[record.principal].discard(record_id)
        return done

    async def expire_due(self, limit: int = 500) -> list[Record]:
        """Mark up to `limit` overdue pending records expired and return them (for the audit log)."""
        t = now()
        expired: list[Record] = []
        for ids in self._pending.values():
            for record_id in list(ids):
                seen = self._records[record_id].seen_at(t)
                if not seen.pending:
                    self._records[record_id] = seen
                    ids.discard(record_id)
                    expired.append(seen)
                    if len(expired) >= limit:
                        return expired
        return expired

    async def latest(self, principal: str, key: str) -> Record | None:
        record_id = self._latest.get((principal, key))
        return None if record_id is None else await self.get(record_id)

    async def acknowledge(self, record_id: str) -> bool:
        record = await self.get(record_id)
        if record.pending or record.acknowledged:
            return False
        self._records[record_id] = replace(record, acknowledged=True)
        return True

    async def claim_once(self, token_id: str, expires_at: float) -> bool:
        t = now()
        if len(self._claimed) > 10_000:
            self._claimed = {k: v for k, v in self._claimed.items() if v > t}
        if self._claimed.get(token_id, 0) > t:
            return False
        self._claimed[token_id] = expires_at
        return True

    async def count_pending(self, principal: str) -> int:
        return self._live(principal, now())

    async def close(self) -> None:
        return None

    def _live(self, principal: str, t: float) -> int:
        return sum(1 for i in self._pending[principal] if self._records[i].expires_at > t)
