"""The one place where the 2025-11-25 and 2026-07-28 protocols differ.

The gate hands an era the needs a call is missing; the era talks to the
client in its own protocol and either returns once every need is met, or
raises what that protocol expects. Nothing else in handoff reads the
protocol version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ._call import Call
from ._legacy import LegacyEra

if TYPE_CHECKING:
    from .._need import SecretNeed


class Era(Protocol):
    async def obtain(self, call: Call, missing: list[SecretNeed]) -> None:
        """Return when every need is met, or raise the protocol's answer for "not yet"."""
        ...


def era_for(call: Call) -> Era:
    """The era of the connection this call arrived on."""
    return LegacyEra()


__all__ = ["Call", "Era", "LegacyEra", "era_for"]
