"""Retrying a tool call after error -32042, once the browser steps it asked for are done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.shared.exceptions import MCPError, UrlElicitationRequiredError
from mcp_types import URL_ELICITATION_REQUIRED

from .._errors import HandoffError
from ._consent import Decision
from ._elicitations import Considered, Elicitations, Waiter

T = TypeVar("T")


class ElicitationFailed(HandoffError):
    """A tool call could not go on: declined, cancelled, timed out, looping, or flooding."""


async def retry_after_elicitation(
    call: Callable[[], Awaitable[T]],
    elicitations: Elicitations,
    *,
    waiter: Waiter | None = None,
    timeout: float = 600.0,
    max_rounds: int = 3,
    rejoined: Callable[[], bool] | None = None,
) -> T:
    """Run `call`; on -32042, get consent for each URL, wait for completion, and run it again.

    The links of one -32042 go through `elicitations.consider` in order, under the same limit as
    links that arrive any other way; the first one not accepted (declined, blocked, over the limit,
    cancelled) stops the call, so no further link is shown for a call that cannot go on. The loop
    guard stops when the server asks again for an elicitation it already asked for in this call;
    `max_rounds` bounds the retries. `rejoined` says (once) that the call was just made on a new
    session: the server names the same steps to it again, already consented to, so they are
    waited for again, not shown again.
    """
    seen: set[str] = set()
    for round_number in range(max_rounds + 1):
        try:
            return await call()
        except MCPError as error:
            if error.code != URL_ELICITATION_REQUIRED:
                raise
            items = _elicitations_of(error)
        consented = seen if rejoined is not None and rejoined() else set()
        if consented:
            seen = set()
        if round_number == max_rounds:
            raise ElicitationFailed(
                f"the server still asked for browser steps after {max_rounds} rounds; stopped"
            )
        again = [i.elicitation_id for i in items if i.elicitation_id in seen]
        if again:
            raise ElicitationFailed(
                "the server asked again for a browser step that was already opened "
                f"({again[0][:12]}…): it is probably not finished yet. Finish it, then call the tool again"
            )
        for index, item in enumerate(items):
            if item.elicitation_id in consented:
                seen.add(item.elicitation_id)
                continue
            considered = await elicitations.consider(item.url, item.message, item.elicitation_id)
            if considered.decision is not Decision.ACCEPT:
                raise ElicitationFailed(_not_run(considered, elicitations, len(items), index))
            seen.add(item.elicitation_id)
        outcome = await elicitations.wait([i.elicitation_id for i in items], timeout, waiter)
        if outcome == "cancelled":
            raise ElicitationFailed("cancelled while waiting for the browser")
        if outcome == "timeout":
            raise ElicitationFailed(
                f"no word from the server within {timeout:.0f} s that the browser step finished; "
                "call the tool again when it is done"
            )
    raise AssertionError("unreachable")


def _not_run(considered: Considered, elicitations: Elicitations, asked: int, opened: int) -> str:
    """Why the call stops at this link, which was not accepted after `opened` links were."""
    if considered.decision is Decision.CANCEL:
        return "the browser step was cancelled, so the tool was not run"
    if considered.because == "blocked":
        problem = next((r.text for r in considered.report.reasons if r.severity == "block"), "")
        return f"the link was blocked ({problem.rstrip('.')}), so the tool was not run"
    if considered.because == "limit":
        limit = f"{elicitations.max_prompts} links per {elicitations.per_seconds:g} s"
        if opened == 0:
            return f"too many links from {elicitations.server} in a short time (at most {limit}), so " + (
                "the browser step was declined and the tool was not run"
                if asked == 1
                else f"the {asked} browser steps it asked for were declined and the tool was not run"
            )
        return (
            f"the server asked for {asked} browser steps at once; {opened} were opened, then the limit of "
            f"{limit} was reached, so the rest were declined and the tool was not run"
        )
    return "the browser step was declined, so the tool was not run"


def _elicitations_of(error: MCPError) -> list[Any]:
    try:
        items = UrlElicitationRequiredError.from_error(error.error).elicitations
    except (ValueError, TypeError) as exc:
        raise ElicitationFailed(f"the server sent a malformed -32042 error: {exc}") from None
    if not items:
        raise ElicitationFailed("the server sent -32042 without any elicitation")
    return items
