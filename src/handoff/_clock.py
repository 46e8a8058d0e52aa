"""How far the wall clock may have stepped back, for every "issued at" handoff checks.

An NTP correction can set a host's clock back by minutes. A sealed request state or an access token
issued before such a step then carries an "issued at" that lies in the future, and refusing it would
refuse a person who did nothing wrong. "Issued at" may therefore lie up to `CLOCK_STEP` seconds
ahead of now. Expiry stays strict (no tolerance at all), and single use is enforced by the store,
never by time, so the tolerance widens neither a lifetime nor replay.
"""

from __future__ import annotations

import math
import time

CLOCK_STEP = 600.0
"""Seconds of backward step of the wall clock tolerated for an "issued at" time."""


def issued_in_time(issued_at: object, now: float | None = None) -> bool:
    """Whether `issued_at` can have been issued by this clock, allowing a step back of `CLOCK_STEP`."""
    if isinstance(issued_at, bool) or not isinstance(issued_at, int | float) or not math.isfinite(issued_at):
        return False
    return issued_at <= (time.time() if now is None else now) + CLOCK_STEP
