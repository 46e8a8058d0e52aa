"""Retrying a tool call after error -32042, once the browser steps it asked for are done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.shared.exceptions import MCPError, UrlElicitationRequiredError
from mcp_types import URL_ELICITATION_REQUIRED

from .._errors import HandoffError
from ._consent import Decision
from ._elicitations import Elicitations, Waiter

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
) -> T:
    """Run `call`; on -32042, get consent for each URL, wait for completion, and run it again.

    The loop guard stops when the server asks again for an elicitation it
    already asked for in this call; `max_rounds` bounds the retries.
    """
    seen: set[str] = set()
    for round_number in range(max_rounds + 1):
        try:
            return await call()
        except MCPError as error:
            if error.code != URL_ELICITATION_REQUIRED:
                raise
            items = _elicitations_of(error)
        if round_number == max_rounds:
            raise ElicitationFailed(
                f"the server still asked for browser steps after {max_rounds} rounds; stopped"
            )
        if len(items) > elicitations.max_prompts:
            elicitations.refused_for_flooding += 1
            raise ElicitationFailed(
                f"the server asked for {len(items)} browser steps at once; at most "
                f"{elicitations.max_prompts} are shown, so nothing was opened"
            )
        again = [i.elicitation_id for i in items if i.elicitation_id in seen]
        if again:
            raise ElicitationFailed(
                "the server asked again for a browser step that was already opened "
                f"({again[0][:12]}…): it is probably not finished yet. Finish it, then call the tool again"
            )
        for item in items:
            decision = await elicitations.consider(item.url, item.message, item.elicitation_id)
            if decision is not Decision.ACCEPT:
                raise ElicitationFailed(
                    f"the browser step was {decision.value}d, so the tool was not run"
                    if decision is Decision.DECLINE
                    else "the browser step was cancelled, so the tool was not run"
                )
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


def _elicitations_of(error: MCPError) -> list[Any]:
    try:
        items = UrlElicitationRequiredError.from_error(error.error).elicitations
    except (ValueError, TypeError) as exc:
        raise ElicitationFailed(f"the server sent a malformed -32042 error: {exc}") from None
    if not items:
        raise ElicitationFailed("the server sent -32042 without any elicitation")
    return items
