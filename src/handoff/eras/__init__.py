"""The one place where the 2025-11-25 and 2026-07-28 protocols differ.

The gate hands an era the needs a call is missing; the era talks to the
client in its own protocol and either returns once every need is met, or
raises what that protocol expects. Nothing else in handoff reads the
protocol version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ._call import Call
from ._legacy import LegacyEra
from ._modern import ModernEra
from ._state import StateRejected, StateSealer, SteppedClockCodec, call_digest

if TYPE_CHECKING:
    from .._need import Need


class Era(Protocol):
    async def obtain(self, call: Call, missing: list[Need]) -> Any | None:
        """None once every need is met; otherwise a result to answer the call with, or raise."""
        ...


def era_for(call: Call) -> Era:
    """The era of the connection this call arrived on."""
    if call.request.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return ModernEra()
    return LegacyEra()


__all__ = [
    "Call",
    "Era",
    "LegacyEra",
    "ModernEra",
    "StateRejected",
    "StateSealer",
    "SteppedClockCodec",
    "call_digest",
    "era_for",
]
