"""One gated tool call, as the eras see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..frameworks import Refusal
from ..ledger import Record, Status

if TYPE_CHECKING:
    from .._handoff import Handoff
    from .._need import Delivery, Invocation, Need
    from ..frameworks import ToolRequest


URL_MODE_SINCE = "2025-11-25"
"""The first protocol version with URL mode: a client on an older one has none, whatever it declares."""

_ENDED = {
    Status.DECLINED: "the person declined it",
    Status.CANCELLED: "it was cancelled before it was finished",
    Status.EXPIRED: "its link expired before it was finished",
    Status.FAILED: "it failed",
}


@dataclass
class Call:
    """A tool call that is missing something, with who made it and how to reach them."""

    handoff: Handoff
    request: ToolRequest
    """The call as the framework received it."""
    principal: str
    client_id: str | None
    invocation: Invocation
    delivery: Delivery

    @property
    def tool(self) -> str:
        return self.invocation.tool

    @property
    def params(self) -> dict[str, Any]:
        """The raw `tools/call` params (name, arguments) of this call."""
        return self.request.params

    @property
    def arguments(self) -> dict[str, Any]:
        return dict(self.invocation.arguments)

    @property
    def remote(self) -> str | None:
        return self.request.remote

    @property
    def supports_url(self) -> bool:
        """The client declared URL mode, on a protocol version that has it (versions are dates)."""
        caps = self.request.client_capabilities
        declared = bool(caps and caps.elicitation and caps.elicitation.url is not None)
        return declared and self.request.protocol_version >= URL_MODE_SINCE

    async def report_refusal(self, need: Need) -> None:
        """Turn a recent decline or cancel of this need into one clear tool error."""
        ledger = self.handoff.ledger
        latest = await ledger.latest(self.principal, need.key(self.invocation))
        if latest is None or latest.status not in (Status.DECLINED, Status.CANCELLED, Status.FAILED):
            return
        if await ledger.acknowledge(latest.id):
            raise self._refusal(latest, need)

    async def refuse(self, record: Record, need: Need) -> None:
        """Raise the tool error for a record that ended without the value."""
        await self.handoff.ledger.acknowledge(record.id)
        raise self._refusal(record, need)

    def _refusal(self, record: Record, need: Need) -> Refusal:
        """What happened, said to the model as well as the person: a refusal is the person's choice,
        so the tool is called again only when the person asks for it."""
        ended = _ENDED.get(record.status, f"it ended as {record.status.value}")
        return Refusal(
            f"{self.tool} did not run: it asked for {_your(need)}, and {ended}. "
            f"Do not call {self.tool} again unless the person asks you to; it will ask them again then."
        )

    def link_only(self, opened: list[tuple[Record, str]]) -> Refusal:
        """For clients without URL mode: a tool error that tells the person where to go."""
        lines = [f"{self.tool} needs something only you can provide, in your own browser:"]
        lines += [f"- {record.params['label']}: open {url}" for record, url in opened]
        lines.append("You will be asked to sign in first. When you are done, call the tool again.")
        return Refusal("\n".join(lines))


def _your(need: Need) -> str:
    return f"your {need.label}" if need.kind == "secret" else f"{need.label!r}"
