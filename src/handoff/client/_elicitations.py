"""The client's side of URL elicitation: consent, opening, de-duplication, limits, completion tracking."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal

import anyio
from mcp_types import (
    INVALID_PARAMS,
    ElicitationCapability,
    ElicitCompleteNotification,
    ElicitRequestURLParams,
    ElicitResult,
    ErrorData,
    FormElicitationCapability,
    UrlElicitationCapability,
)

from ._consent import Consent, ConsentRequest, Decision, plain
from ._opener import Opener, system_browser
from ._urlcheck import check_url

logger = logging.getLogger("handoff.client")

Mode = Literal["url", "form"]
Outcome = Literal["completed", "done", "cancelled", "timeout"]
Waiter = Callable[[], Awaitable[Literal["done", "cancel"]]]
"""Resolves when the person says they are done in the browser, or cancels."""


class _Ask:
    """One consent prompt in flight; identical requests wait for its decision."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.decision = Decision.CANCEL


class Elicitations:
    """One per connection to a server: answers its URL elicitations and tracks their completion.

    Plug `handle_request` in as the SDK client's `elicitation_callback` and
    `on_message` as its `message_handler` (or use `HandoffClient`, which does).
    """

    def __init__(
        self,
        consent: Consent,
        *,
        server: str = "this server",
        opener: Opener = system_browser,
        modes: Iterable[Mode] = ("url",),
        max_prompts: int = 5,
        per_seconds: float = 60.0,
        allow_http_loopback: bool = True,
    ) -> None:
        self.consent = consent
        self.server = server
        self.opener = opener
        self.modes = frozenset(modes)
        self.max_prompts = max_prompts
        self.per_seconds = per_seconds
        self.allow_http_loopback = allow_http_loopback
        self._recent: deque[float] = deque()
        self._inflight: dict[tuple[str, str], _Ask] = {}
        self._pending: dict[str, anyio.Event] = {}
        self.completed: set[str] = set()
        self.ignored: list[str] = []
        self.refused_for_flooding = 0

    @property
    def capability(self) -> ElicitationCapability:
        """Exactly the modes this client supports, as declared to the server."""
        return ElicitationCapability(
            form=FormElicitationCapability() if "form" in self.modes else None,
            url=UrlElicitationCapability() if "url" in self.modes else None,
        )

    # SDK hooks

    async def handle_request(self, context: Any, params: Any) -> ElicitResult | ErrorData:
        """`elicitation/create`, in a request (2025) or inside an InputRequiredResult (2026)."""
        mode = getattr(params, "mode", None) or "form"
        if mode not in self.modes or not isinstance(params, ElicitRequestURLParams):
            return ErrorData(
                code=INVALID_PARAMS, message=f"this client does not support {mode} mode elicitation"
            )
        decision = await self.consider(params.url, params.message, params.elicitation_id)
        return ElicitResult(action=decision.value)

    async def on_message(self, message: object) -> None:
        """Completion notices: wake whoever waits on that id; ignore unknown or repeated ids."""
        if not isinstance(message, ElicitCompleteNotification):
            return
        elicitation_id = message.params.elicitation_id
        event = self._pending.get(elicitation_id)
        if event is None or event.is_set():
            self.ignored.append(elicitation_id)
            logger.debug("ignored completion notice for unknown or finished elicitation %r", elicitation_id)
            return
        self.completed.add(elicitation_id)
        event.set()

    # What the retry wrapper and the terminal use

    async def consider(self, url: str, message: str, elicitation_id: str | None) -> Decision:
        """Ask for consent (once for identical concurrent requests), open the URL on accept."""
        key = (url, message)
        if key in self._inflight:
            same = self._inflight[key]
            await same.done.wait()
            return same.decision
        if not self._allow_prompt():
            self.refused_for_flooding += 1
            logger.warning(
                "declined a URL elicitation from %s: too many prompts in a short time", self.server
            )
            return Decision.DECLINE
        ask = self._inflight[key] = _Ask()
        try:
            report = check_url(url, allow_http_loopback=self.allow_http_loopback)
            request = ConsentRequest(self.server, plain(message), url, report, elicitation_id)
            decision = await self.consent.ask(request)
            if decision is Decision.ACCEPT and not request.may_accept:
                decision = Decision.DECLINE  # a blocked URL is never opened, whatever the consent said
            if decision is Decision.ACCEPT:
                if elicitation_id:
                    self.track(elicitation_id)
                await self.opener(report.href or url)
            ask.decision = decision
            return decision
        finally:
            ask.done.set()
            del self._inflight[key]

    def track(self, elicitation_id: str) -> None:
        if elicitation_id not in self._pending:
            self._pending[elicitation_id] = anyio.Event()

    async def wait(self, ids: Iterable[str], timeout: float, waiter: Waiter | None = None) -> Outcome:
        """Until every id has its completion notice, the person says done or cancel, or `timeout`."""
        events = [self._pending[i] for i in ids if i in self._pending]
        outcome: list[Outcome] = []
        with anyio.move_on_after(timeout):
            async with anyio.create_task_group() as tg:

                async def all_completed() -> None:
                    for event in events:
                        await event.wait()
                    outcome.append("completed")
                    tg.cancel_scope.cancel()

                async def person() -> None:
                    assert waiter is not None
                    said = await waiter()
                    outcome.append("done" if said == "done" else "cancelled")
                    tg.cancel_scope.cancel()

                tg.start_soon(all_completed)
                if waiter is not None:
                    tg.start_soon(person)
        return outcome[0] if outcome else "timeout"

    def _allow_prompt(self) -> bool:
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - self.per_seconds:
            self._recent.popleft()
        if len(self._recent) >= self.max_prompts:
            return False
        self._recent.append(now)
        return True
