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
        caps = self.request.client_capabilities
        return bool(caps and caps.elicitation and caps.elicitation.url is not None)

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
        return Refusal(
            f"The request for {_your(need)} was {record.status.value}, so {self.tool} did not run. "
            "Call the tool again to start over."
        )

    def link_only(self, opened: list[tuple[Record, str]]) -> Refusal:
        """For clients without URL mode: a tool error that tells the person where to go."""
        lines = [f"{self.tool} needs something only you can provide, in your own browser:"]
        lines += [f"- {record.params['label']}: open {url}" for record, url in opened]
        lines.append("You will be asked to sign in first. When you are done, call the tool again.")
        return Refusal("\n".join(lines))


def _your(need: Need) -> str:
    return f"your {need.label}" if need.kind == "secret" else f"{need.label!r}"
