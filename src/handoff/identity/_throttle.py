"""How sign-ins are slowed down after failures, for every replica alike."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from .._entries import Entries, KeptIn
from .._i18n import ngettext

WaitOf = Callable[[list[float], float], float]
"""How long a counter makes a sign-in wait, given its recent tries and the time now."""


class Throttle(KeptIn):
    """Slows password guessing without letting a stranger lock anyone out.

    The scheme is OWASP's "slow down online guessing attacks with device cookies":

    - failures for one user from one source back off exponentially after `free` tries (1 s, 2 s,
      4 s, … up to `max_wait`); the source is the browser when it has signed in as that user before
      (its device cookie), else the address;
    - failures for one user from sources that never signed in as them share one budget
      (`untrusted_limit` within `window`); once it is spent, only such sources wait: the person's
      own browser still gets in with the right password;
    - failures from one address across all users (`address_limit` within `window`) slow that address
      down (password spraying).

    The counters live in the store's entries (`keep_in`), so every replica counts the same failures
    and a guesser gains nothing by landing on another one; each counter is forgotten `window` after
    its last failure.
    """

    SPACE = "signin.failures"

    def __init__(
        self,
        *,
        free: int = 5,
        max_wait: float = 300.0,
        untrusted_limit: int = 50,
        address_limit: int = 100,
        window: float = 900.0,
        store: Entries | None = None,
    ) -> None:
        self.free = free
        self.max_wait = max_wait
        self.untrusted_limit = untrusted_limit
        self.address_limit = address_limit
        self.window = window
        self.tally = {"counted": 0, "throttled": 0, "succeeded": 0}
        """Sign-in tries of this process: counted (their password checked), throttled (made to wait
        first), succeeded (the right password), for the metrics."""
        super().__init__(store)

    @staticmethod
    def _keys(user: str, address: str, device: bool) -> tuple[str, str | None, str]:
        """The counters' keys, hashed: a name typed at the sign-in form may be a password typed in the
        wrong field, and is kept nowhere as typed."""

        def key(*parts: str) -> str:
            return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

        source = key("source", user, "device" if device else address)
        return source, None if device else key("user", user), key("address", address)

    def _recent(self, value: dict[str, Any] | None, now: float) -> list[float]:
        return [t for t in (value or {}).get("times", []) if t > now - self.window]

    async def _times(self, key: str, now: float) -> list[float]:
        return self._recent(await self.store.get(self.SPACE, key), now)

    async def _record(self, key: str, now: float, keep: int) -> None:
        def add(value: dict[str, Any] | None) -> tuple[dict[str, Any], float]:
            return {"times": [*self._recent(value, now), now][-keep:]}, now + self.window

        await self.store.change(self.SPACE, key, add)

    def _checks(self, user: str, address: str, device: bool) -> list[tuple[str, int, WaitOf]]:
        """Each counter of this sign-in: its key, how many times it keeps, and its wait for them."""
        source, untrusted, spray = self._keys(user, address, device)
        checks: list[tuple[str, int, WaitOf]] = [(source, self.free + 16, self._backoff)]
        if untrusted is not None:
            checks.append((untrusted, self.untrusted_limit, self._budget(self.untrusted_limit)))
        checks.append((spray, self.address_limit, self._budget(self.address_limit)))
        return checks

    async def wait(self, user: str, address: str, *, device: bool = False) -> float:
        """Seconds this sign-in must wait before a password is even checked (0 when it may go on)."""
        now = time.time()
        checks = self._checks(user, address, device)
        return max([0.0] + [wait_of(await self._times(key, now), now) for key, _, wait_of in checks])

    async def failed(self, user: str, address: str, *, device: bool = False) -> None:
        now = time.time()
        for key, keep, _limit in self._checks(user, address, device):
            await self._record(key, now, keep)

    async def attempt(self, user: str, address: str, *, device: bool = False) -> tuple[float, float]:
        """Count this sign-in before its password is checked, or say how long it must wait first.

        Each counter's check and count are one step (`Entries.change`), so guesses sent in parallel,
        to one replica or to several, cannot all pass before the first failure is counted. Returns
        (seconds to wait, 0 when it may go on; the try's stamp): after the right password,
        `succeeded(..., stamp=)` takes the try back."""
        now = time.time()
        counted: list[str] = []
        for key, keep, wait_of in self._checks(user, address, device):
            waited = 0.0

            def count(
                value: dict[str, Any] | None, keep: int = keep, wait_of: WaitOf = wait_of
            ) -> tuple[dict[str, Any] | None, float]:
                nonlocal waited
                times = self._recent(value, now)
                waited = wait_of(times, now)
                if waited > 0:  # refused: the counter stays as it was
                    return ({"times": times}, times[-1] + self.window) if times else (None, 0.0)
                return {"times": [*times, now][-keep:]}, now + self.window

            await self.store.change(self.SPACE, key, count)
            if waited > 0:
                for done in counted:
                    await self._take_back(done, now)
                self.tally["throttled"] += 1
                return waited, now
            counted.append(key)
        self.tally["counted"] += 1
        return 0.0, now

    def _backoff(self, times: list[float], now: float) -> float:
        if len(times) < self.free:
            return 0.0
        return max(0.0, times[-1] + min(self.max_wait, 2.0 ** (len(times) - self.free)) - now)

    def _budget(self, limit: int) -> WaitOf:
        return lambda times, now: max(0.0, times[0] + self.window - now) if len(times) >= limit else 0.0

    async def _take_back(self, key: str, stamp: float) -> None:
        def remove(value: dict[str, Any] | None) -> tuple[dict[str, Any] | None, float]:
            times = list((value or {}).get("times", []))
            if stamp in times:
                times.remove(stamp)
            return ({"times": times}, max(times) + self.window) if times else (None, 0.0)

        await self.store.change(self.SPACE, key, remove)

    async def succeeded(
        self, user: str, address: str, *, device: bool = False, stamp: float | None = None
    ) -> None:
        """The right password: the source starts afresh, and the try `attempt` counted (`stamp`) is
        taken back from the shared budgets."""
        self.tally["succeeded"] += 1
        source, untrusted, spray = self._keys(user, address, device)
        await self.store.delete(self.SPACE, source)
        if stamp is not None:
            for key in (untrusted, spray):
                if key is not None:
                    await self._take_back(key, stamp)


def duration(seconds: float) -> str:
    """A wait in the person's words: "3 seconds", "2 minutes"."""
    if seconds < 60:
        n = max(1, int(seconds + 0.999))
        return ngettext("%(num)d second", "%(num)d seconds", n)
    n = int(seconds // 60) + 1
    return ngettext("%(num)d minute", "%(num)d minutes", n)
