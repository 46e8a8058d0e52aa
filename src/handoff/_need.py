"""What a tool can need from the user's browser, how a need becomes a record, and how it is met."""

from __future__ import annotations

import abc
import hashlib
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .frameworks import Refusal
from .ledger import Record, Status

if TYPE_CHECKING:
    from ._handoff import Handoff

Validator = Callable[[str], "Awaitable[str | None] | str | None"]
"""Checks an entered value on the server: returns None to accept, or a message for the user."""

Describer = Callable[[Mapping[str, Any]], Mapping[str, object]]
"""Turns a call's arguments into the lines an approval page shows (label → value)."""

Delivery = Literal["error", "request"]
"""How a 2025-11-25 client is told: error -32042 (the client retries), or an `elicitation/create`
request inside the call, which then waits for the browser step."""


APPROVAL_LIFE = 600.0
"""Seconds an approval stays good for once given: after that the tool asks again."""
MAX_SHOWN = 16 * 1024
"""Characters of arguments an approval page may show: beyond it a person cannot check them all."""


@dataclass(frozen=True)
class Invocation:
    """What a gated call is: which server, which tool, with which arguments."""

    server: str
    tool: str
    arguments: Mapping[str, Any]


def arguments_digest(invocation: Invocation) -> str:
    """What an approval is bound to: the server, the tool and the exact arguments, canonically encoded."""
    canonical = json.dumps(
        [invocation.server, invocation.tool, invocation.arguments],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class Need(abc.ABC):
    """Something a tool call needs that only the person, in their browser, can give."""

    kind: str
    name: str
    label: str
    message: str | None
    single_use = False
    """Whether meeting the need once is good for one run only (an approval)."""

    @property
    def ref(self) -> str:
        """`kind:name`, how handoff and the gate's values know this need."""
        return f"{self.kind}:{self.name}"

    def key(self, invocation: Invocation) -> str:
        """What the ledger record is for; a pending record with the same key is reused."""
        return f"{self.kind}:{self.name}"

    def prompt(self) -> str:
        """The sentence the MCP client shows next to the URL. Never carries a value."""
        fallback = f"Enter your {self.label} in your browser; it is stored encrypted on the server."
        return self.message or fallback

    def params(self, invocation: Invocation) -> dict[str, Any]:
        """What the record keeps for its page: never a value the person will enter."""
        return {"name": self.name, "label": self.label, "tool": invocation.tool, "message": self.prompt()}

    @abc.abstractmethod
    async def peek(self, handoff: Handoff, principal: str, invocation: Invocation) -> Any | None:
        """The value if the need is met now (without using it up), else None."""

    async def take(self, handoff: Handoff, principal: str, invocation: Invocation) -> Any | None:
        """The value for this run; single-use needs are used up here."""
        return await self.peek(handoff, principal, invocation)


@dataclass(frozen=True, eq=False)
class SecretNeed(Need):
    """A named per-user secret (an API key, a token) that only ever travels through the browser."""

    name: str
    label: str
    help: str = ""
    message: str | None = None
    validate: Validator | None = None
    kind: str = "secret"

    def params(self, invocation: Invocation) -> dict[str, Any]:
        return {**super().params(invocation), "help": self.help}

    async def peek(self, handoff: Handoff, principal: str, invocation: Invocation) -> str | None:
        return await handoff.read_secret(principal, self.name)

    async def check(self, value: str) -> str | None:
        if self.validate is None:
            return None
        verdict = self.validate(value)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return verdict


def approval_life(record: Record, default: float = APPROVAL_LIFE) -> float:
    """Seconds the approval of `record` stays good for once given: what the record keeps (what its
    page said), else `default`."""
    kept = record.params.get("lifetime")
    return float(kept) if isinstance(kept, int | float) else default


@dataclass(frozen=True, eq=False)
class ApprovalNeed(Need):
    """A person's yes to one specific call (a payment, a deletion): bound to the server, the tool and
    its exact arguments, used by one run, within `lifetime` seconds of being given."""

    name: str
    label: str
    describe: Describer | None = None
    message: str | None = None
    lifetime: float = APPROVAL_LIFE
    kind: str = "approval"
    single_use = True

    def key(self, invocation: Invocation) -> str:
        return f"{self.kind}:{self.name}:{arguments_digest(invocation)}"

    def prompt(self) -> str:
        return self.message or f"Review and approve in your browser: {self.label}."

    def params(self, invocation: Invocation) -> dict[str, Any]:
        arguments = invocation.arguments
        shown = self.describe(arguments) if self.describe else {k: arguments[k] for k in sorted(arguments)}
        summary = [[str(k), str(v)] for k, v in shown.items()]
        size = sum(len(k) + len(v) for k, v in summary)
        if size > MAX_SHOWN:
            raise Refusal(
                f"{invocation.tool} cannot ask for approval: what it would show is {size:,} characters, "
                f"more than a person can check ({MAX_SHOWN:,} at most). Call it with less."
            )
        return {
            **super().params(invocation),
            "server": invocation.server,
            "summary": summary,
            "digest": arguments_digest(invocation),
            "lifetime": self.lifetime,
        }

    async def _approved(self, handoff: Handoff, principal: str, invocation: Invocation) -> Record | None:
        record = await handoff.ledger.latest(principal, self.key(invocation))
        if record is None or record.status is not Status.COMPLETED or record.acknowledged:
            return None
        if (record.completed_at or 0.0) + approval_life(record, self.lifetime) < time.time():
            return None  # given too long ago: ask again
        return record

    async def peek(self, handoff: Handoff, principal: str, invocation: Invocation) -> bool | None:
        return True if await self._approved(handoff, principal, invocation) else None

    async def take(self, handoff: Handoff, principal: str, invocation: Invocation) -> bool | None:
        record = await self._approved(handoff, principal, invocation)
        if record is None:
            return None
        return True if await handoff.ledger.acknowledge(record.id) else None


@dataclass(frozen=True, eq=False)
class ConnectionNeed(Need):
    """A usable access token for a third-party provider, obtained through the person's own browser."""

    name: str
    label: str
    scopes: tuple[str, ...] = ()
    message: str | None = None
    kind: str = "connection"

    def key(self, invocation: Invocation) -> str:
        return f"{self.kind}:{self.name}:{' '.join(sorted(self.scopes))}"

    def prompt(self) -> str:
        return self.message or f"Connect your {self.label} account in your browser."

    def params(self, invocation: Invocation) -> dict[str, Any]:
        return {**super().params(invocation), "scopes": list(self.scopes)}

    async def peek(self, handoff: Handoff, principal: str, invocation: Invocation) -> str | None:
        tokens = await handoff.connections.usable(principal, handoff.provider(self.name), self.scopes)
        return None if tokens is None else tokens.access_token
