"""The client's side of URL elicitation: consent, opening, de-duplication, limits, completion tracking."""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from mcp_types import (
    INVALID_PARAMS,
    ElicitationCapability,
    ElicitCompleteNotification,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    ErrorData,
    FormElicitationCapability,
    UrlElicitationCapability,
)

from .._exact import printable
from ._consent import Consent, ConsentRequest, Decision
from ._opener import Opener, system_browser
from ._urlcheck import UrlReport, check_url, on_loopback_server

logger = logging.getLogger("handoff.client")
_MESSAGE_LIMIT = 2000
"""Characters of a server's message kept for the consent screen; the rest is cut with an ellipsis."""

Mode = Literal["url", "form"]
Outcome = Literal["completed", "done", "cancelled", "timeout"]
Waiter = Callable[[], Awaitable[Literal["done", "cancel"]]]
"""Resolves when the person says they are done in the browser, or cancels."""
Because = Literal["consent", "blocked", "limit"]
FormHandler = Callable[[ElicitRequestFormParams], Awaitable[ElicitResult | ErrorData]]
"""Answers a form mode elicitation (a proxy passes it on to its own client)."""


@dataclass(frozen=True)
class Considered:
    """What became of one link a server sent: where it goes, what the check found, what was decided."""

    server: str
    url: str
    message: str
    """The server's reason, as plain text."""
    report: UrlReport
    decision: Decision
    because: Because
    """Who decided: the consent (a person or a policy); the URL check (`blocked`: never opened,
    whatever the consent said); or the limit on links (`limit`: too many, declined unseen)."""
    elicitation_id: str | None = None


class _Ask:
    """One consent prompt in flight; identical requests wait for its outcome."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.considered: Considered | None = None


class Elicitations:
    """One per connection to a server: answers its URL elicitations and tracks their completion.

    Plug `handle_request` in as the SDK client's `elicitation_callback` and
    `on_message` as its `message_handler` (or use `HandoffClient`, which does).

    One limit holds for links however they arrive (the entries of one -32042 error, the input
    requests of one InputRequiredResult, separate `elicitation/create` requests): the first
    `max_prompts` links within `per_seconds` go to the consent, in the order they come, and each
    link beyond is declined without being shown, counted in `refused_for_flooding` and reported.
    `on_link` hears about every link considered, before anything is opened. `server_url` is the
    MCP endpoint of this connection (`HandoffClient` sets it): when it is on loopback, links to that
    same origin are the server's own pages, so their port and IP address are not held against them.
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
        on_link: Callable[[Considered], None] | None = None,
        server_url: str | None = None,
        forms: FormHandler | None = None,
    ) -> None:
        self.consent = consent
        self.forms = forms
        """Where form mode requests go (handoff itself never fills a form): declared only when set."""
        self.server = server
        self.opener = opener
        self.modes = frozenset(modes)
        self.max_prompts = max_prompts
        self.per_seconds = per_seconds
        self.allow_http_loopback = allow_http_loopback
        self.on_link = on_link
        self.server_url = server_url
        self._recent: deque[float] = deque()
        self._inflight: dict[tuple[str, str], _Ask] = {}
        self._pending: dict[str, anyio.Event] = {}
        self.completed: set[str] = set()
        self.ignored: list[str] = []
        self.refused_for_flooding = 0
        self._watching_opens: list[Callable[[], None]] = []

    @property
    def capability(self) -> ElicitationCapability:
        """Exactly the modes this client supports, as declared to the server."""
        return ElicitationCapability(
            form=FormElicitationCapability() if "form" in self.modes or self.forms else None,
            url=UrlElicitationCapability() if "url" in self.modes else None,
        )

    # SDK hooks

    async def handle_request(self, context: Any, params: Any) -> ElicitResult | ErrorData:
        """`elicitation/create`, in a request (2025) or inside an InputRequiredResult (2026)."""
        mode = getattr(params, "mode", None) or "form"
        if self.forms is not None and isinstance(params, ElicitRequestFormParams):
            return await self.forms(params)
        if mode not in self.modes or not isinstance(params, ElicitRequestURLParams):
            return ErrorData(
                code=INVALID_PARAMS, message=f"this client does not support {mode} mode elicitation"
            )
        considered = await self.consider(params.url, params.message, params.elicitation_id)
        return ElicitResult(action=considered.decision.value)

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

    async def consider(self, url: str, message: str, elicitation_id: str | None) -> Considered:
        """Check the link, ask for consent (once for identical concurrent requests), open it on accept."""
        message = printable(message, limit=_MESSAGE_LIMIT)  # kept and shown as plain text from here on
        key = (url, message)
        if key in self._inflight:
            same = self._inflight[key]
            await same.done.wait()
            assert same.considered is not None
            return same.considered
        report = self.check(url)
        if not self._allow_prompt():
            self.refused_for_flooding += 1
            logger.log(  # a listener on `on_link` tells the person already
                logging.DEBUG if self.on_link else logging.WARNING,
                "declined a URL elicitation from %s: too many links in a short time",
                printable(self.server, lines=False),
            )
            return self._told(url, message, report, Decision.DECLINE, "limit", elicitation_id)
        ask = self._inflight[key] = _Ask()
        try:
            request = ConsentRequest(self.server, message, url, report, elicitation_id)
            decision = await self.consent.ask(request)
            because: Because = "consent"
            if not request.may_accept and decision is not Decision.CANCEL:
                decision, because = Decision.DECLINE, "blocked"  # never opened, whatever was said
            ask.considered = self._told(url, message, report, decision, because, elicitation_id)
            if decision is Decision.ACCEPT:
                if elicitation_id:
                    self.track(elicitation_id)
                await self.opener(report.href or url)
                for opened in list(self._watching_opens):
                    opened()
            return ask.considered
        finally:
            if ask.considered is None:
                ask.considered = Considered(
                    self.server, url, message, report, Decision.CANCEL, "consent", elicitation_id
                )
            ask.done.set()
            del self._inflight[key]

    @contextlib.contextmanager
    def watching_opens(self, opened: Callable[[], None]) -> Iterator[None]:
        """Within the block, `opened()` is called each time a link is opened."""
        self._watching_opens.append(opened)
        try:
            yield
        finally:
            self._watching_opens.remove(opened)

    def check(self, url: str) -> UrlReport:
        """The URL check for a link from this server (its own loopback pages are not suspicious)."""
        report = check_url(url, allow_http_loopback=self.allow_http_loopback)
        return on_loopback_server(report, self.server_url) if self.server_url else report

    def _told(
        self,
        url: str,
        message: str,
        report: UrlReport,
        decision: Decision,
        because: Because,
        elicitation_id: str | None,
    ) -> Considered:
        considered = Considered(self.server, url, message, report, decision, because, elicitation_id)
        if self.on_link is not None:
            self.on_link(considered)
        return considered

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
