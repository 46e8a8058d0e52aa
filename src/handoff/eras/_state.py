"""handoff's own sealed `requestState` for 2026-07-28 retries.

The SDK already wraps every `requestState` in its own envelope; handoff seals
what it puts inside with its own keys too, so its guarantees hold however the
server's SDK policy is configured: the state names the ledger records, the
principal, an expiry, a digest of the original method and arguments, and a
one-time id the ledger consumes on use.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcp.server.request_state import AESGCMRequestStateCodec, InvalidRequestState
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from .._clock import issued_in_time


class StateRejected(MCPError):
    """A retry's `requestState` failed a check. The wire message is fixed; the reason goes to the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            INVALID_PARAMS, "Invalid or expired requestState", {"reason": "invalid_request_state"}
        )
        self.reason = reason


def call_digest(method: str, params: Mapping[str, Any]) -> str:
    """What the state is valid for: the method, the tool name and its exact arguments."""
    salient = {"m": method, "n": params.get("name"), "a": params.get("arguments") or {}}
    return hashlib.sha256(json.dumps(salient, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class State:
    records: tuple[str, ...]
    principal: str
    digest: str
    expires_at: float
    once: str
    round: int = 0
    """How many times this retry was answered "still pending" before (the client counts rounds)."""


class StateSealer:
    """AES-256-GCM over the state, under a rotatable key ring (the first key seals, all open)."""

    def __init__(self, keys: Sequence[bytes], *, ttl: float = 600.0) -> None:
        self._codec = AESGCMRequestStateCodec(list(keys))
        self.ttl = ttl

    def seal(
        self, records: Sequence[str], principal: str, digest: str, *, round: int = 0
    ) -> tuple[str, State]:
        state = State(
            tuple(records), principal, digest, time.time() + self.ttl, secrets.token_urlsafe(16), round
        )
        payload = {
            "n": round,
            "v": 1,
            "r": list(state.records),
            "p": principal,
            "d": digest,
            "e": state.expires_at,
            "o": state.once,
        }
        return "handoff." + self._codec.seal(json.dumps(payload, separators=(",", ":")).encode()), state

    def open(self, token: str, *, principal: str, digest: str) -> State:
        """Verify everything but single use (the ledger enforces that); raise `StateRejected`."""
        if not token.startswith("handoff."):
            raise StateRejected("not a handoff state")
        try:
            payload = json.loads(self._codec.unseal(token.removeprefix("handoff.")))
            state = State(
                tuple(payload["r"]),
                payload["p"],
                payload["d"],
                float(payload["e"]),
                payload["o"],
                int(payload.get("n", 0)),
            )
        except (InvalidRequestState, ValueError, KeyError, TypeError) as exc:
            raise StateRejected(f"seal: {exc}") from None
        if payload.get("v") != 1 or not state.records:
            raise StateRejected("malformed")
        if not time.time() < state.expires_at:
            raise StateRejected("expired")
        if state.principal != principal:
            raise StateRejected("another principal")
        if state.digest != digest:
            raise StateRejected("other method or arguments")
        return state


class SteppedClockCodec:
    """The SDK's AES-256-GCM request-state codec, tolerating a clock stepped back by `CLOCK_STEP`.

    The SDK refuses a state whose "issued at" is more than a minute ahead of now. Once a state is
    authenticated, an "issued at" within `CLOCK_STEP` ahead is presented to the SDK as now; anything
    further ahead is left as it was, and the SDK refuses it. Expiry is left untouched.
    """

    def __init__(self, keys: list[bytes]) -> None:
        self._codec = AESGCMRequestStateCodec(keys)

    def seal(self, payload: bytes) -> str:
        return self._codec.seal(payload)

    def unseal(self, token: str) -> bytes:
        plaintext = self._codec.unseal(token)
        try:
            claims = json.loads(plaintext)
        except ValueError:
            raise InvalidRequestState("malformed") from None
        now = time.time()
        if isinstance(claims, dict) and issued_in_time(claims.get("iat"), now) and claims["iat"] > now:
            claims["iat"] = now
            return json.dumps(claims, separators=(",", ":")).encode()
        return plaintext
