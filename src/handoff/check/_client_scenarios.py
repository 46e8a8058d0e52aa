"""The scenarios a client under test walks through: one scripted server (one path, one tool) each.

A scenario plays its server's side as the tool is called (and called again), keeps what it sent, and
afterwards scores what only it can judge: a notice's effect, the retry's fields, the answer to an
undeclared mode. What holds across scenarios (consent, the URL shown, nothing pre-fetched, blocked
links never opened) is scored once, over every link, by `_client_verdicts`.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from ._client_requirements import (
    HONOURS_URL,
    INPUTS_BUILT,
    LEGACY,
    MODERN,
    NEW_ID,
    NO_STATE,
    NOTICE_REPEATED,
    NOTICE_UNKNOWN,
    RETRY_BOUNDED,
    RETRY_ONCE,
    STATE_ECHOED,
    UNDECLARED_MODE,
    WAIT_BOUNDED,
)
from ._client_server import INVALID_PARAMS, Hub, RpcError, Seen, ToolCall, Trace
from ._report import Report, Requirement

URL_ELICITATION_REQUIRED = -32042
COMPLETE = "notifications/elicitation/complete"
CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
LOOP_STOP = 25
"""Calls after which a looping scenario stops answering with browser steps (the client loops)."""
RETRIES_ALLOWED = 10
"""Retries of a looping scenario's call a client may make before it counts as a retry loop (the
official SDKs' own bound on InputRequiredResult rounds)."""


@dataclass
class Setting:
    """What every scenario of one run shares: the hub, the timing, and who plays the person."""

    hub: Hub
    limit: float = 20.0
    """Seconds the checker gives the client for one step (to open a link, to give up waiting)."""
    grace: float = 0.5
    """Seconds the checker watches for something that must not happen (a retry on a bogus notice)."""
    person: bool = False
    """The checker answers the client's consent prompt (so consent can be observed)."""
    blocked: tuple[str, ...] = ()
    """Links the client must never open (handoff's link check blocks them)."""
    lookalikes: tuple[str, ...] = ()
    """Look-alikes of well-known domains (handoff's link check warns about them)."""


@dataclass
class Link:
    """One link a scenario sent, and what the person (when the checker plays one) answers to it."""

    url: str
    message: str
    token: str
    answer: str = "accept"
    """What the person says at the prompt: `accept` or `decline`."""
    kind: str = "page"
    """`page` (the checker's own page), `blocked` or `lookalike`."""
    elicitation_id: str | None = None
    answered_at: float | None = None
    """When the client gave its answer to this link (kept where a scenario's verdict needs it)."""


@dataclass(frozen=True)
class Played:
    """What running the client showed of one scenario beyond its server's trace (a client served
    with --serve has none)."""

    gone_at: float | None = None
    """When the client exited (or was stopped)."""
    asked: bool = False
    """The person answered a prompt of the client."""
    dones: tuple[float, ...] = ()
    """When the person said the browser step was done."""


def marked(url: str, token: str) -> str:
    """`url` made the link's own (a comment in a javascript: link, else a fragment), so that what
    opens is told apart from the same example sent in another scenario."""
    return f"{url}//hc-{token}" if url.startswith("javascript:") else f"{url}#hc-{token}"


def declared_modes(elicitation: Any) -> set[str]:
    """The modes an `elicitation` capability declares (`{}` alone means form, for compatibility)."""
    if not isinstance(elicitation, dict):
        return set()
    modes = {mode for mode in ("form", "url") if mode in elicitation}
    return modes or {"form"}


def done(text: str, era: str, *, error: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": error}
    if era == MODERN:
        result["resultType"] = "complete"
    return result


def url_params(link: Link) -> dict[str, Any]:
    params: dict[str, Any] = {"mode": "url", "message": link.message, "url": link.url}
    if link.elicitation_id is not None:
        params["elicitationId"] = link.elicitation_id
    return params


def required(links: list[Link]) -> RpcError:
    """Error -32042 (2025-11-25) listing `links`."""
    return RpcError(
        URL_ELICITATION_REQUIRED,
        "This request needs a step in your browser first.",
        {"elicitations": [url_params(link) for link in links]},
    )


def input_required(links: dict[str, Link], state: str | None) -> dict[str, Any]:
    """An `InputRequiredResult` (2026-07-28) asking for `links`, with `state` if given."""
    result: dict[str, Any] = {"resultType": "input_required"}
    if links:
        result["inputRequests"] = {
            key: {"method": "elicitation/create", "params": url_params(link)} for key, link in links.items()
        }
    if state is not None:
        result["requestState"] = state
    return result


@dataclass
class Scenario:
    """Base of every scenario: its links, its trace, and the setting it runs in."""

    setting: Setting
    era: str = LEGACY
    name: str = ""
    plays: str = ""
    """What the scenario's server does, in a sentence (shown in --serve mode)."""
    needs_person: bool = False
    trace: Trace = field(init=False)
    links: list[Link] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.trace = Trace(self.setting.hub.changes)

    @property
    def hub(self) -> Hub:
        return self.setting.hub

    def link(
        self, purpose: str, *, url: str | None = None, kind: str = "page", answer: str = "accept"
    ) -> Link:
        token = secrets.token_hex(6)
        link = Link(
            url=marked(url, token) if url else self.hub.page(f"{self.name}-{token}"),
            message=f"{purpose} [handoff check {token}]",
            token=token,
            answer=answer,
            kind=kind,
            elicitation_id=f"hc-{token}" if self.era == LEGACY else None,
        )
        self.links.append(link)
        return link

    def url_declared(self, call: ToolCall) -> bool:
        if self.era == LEGACY:
            capabilities = call.session.capabilities if call.session else {}
        else:
            capabilities = call.meta.get(CAPABILITIES_KEY) or {}
        return "url" in declared_modes(
            capabilities.get("elicitation") if isinstance(capabilities, dict) else None
        )

    def calls(self) -> list[Seen]:
        return self.trace.calls()

    def awaits(self, link: Link) -> bool:
        """The server still waits for the client's answer to `link` (so the person may be asked again)."""
        return False

    async def call(self, call: ToolCall) -> dict[str, Any]:
        if not self.url_declared(call):
            self.trace.finish()
            return done("This client did not declare url mode elicitation: nothing to check.", self.era)
        return await self.play(call, len(self.calls()))

    async def play(self, call: ToolCall, number: int) -> dict[str, Any]:
        """The tool's answer to its `number`-th call (from 1)."""
        raise NotImplementedError

    def score(self, report: Report, played: Played | None) -> None:
        """Add this scenario's own results (`played`: what the run showed, None with --serve)."""

    def notify_later(
        self,
        call: ToolCall,
        link: Link,
        *notices: tuple[str, str | None],
        after: str | None = None,
        watch: bool = False,
    ) -> None:
        """Once `link` is opened (and the notice `after` was sent), send each `(note, elicitation
        id)` notice, `grace` apart; with `watch`, the first `grace` after the opening too, so that a
        retry that waits for no notice is seen before any."""
        session = call.session
        assert session is not None

        async def send() -> None:
            if not await self.hub.wait_open(link.url, self.setting.limit):
                self.trace.note(f"not-opened:{link.token}")
                self.trace.finish()
                return
            if after is not None:  # keep the order of the notices whatever the client's timing
                await self.trace.changes.until(
                    lambda: self.trace.noted(after) is not None, self.setting.limit
                )
            for index, (note, elicitation_id) in enumerate(notices):
                if index or watch:
                    await anyio.sleep(self.setting.grace)
                session.notify(
                    COMPLETE, {"elicitationId": elicitation_id or f"hc-unknown-{secrets.token_hex(6)}"}
                )
                self.trace.note(note)

        self.hub.later(send)

    def no_notice_stream(self) -> bool:
        return all(session.streams == 0 for session in self.trace.sessions.values())


def calls_between(calls: list[Seen], start: float | None, end: float | None) -> list[Seen]:
    return [c for c in calls if (start is None or c.at > start) and (end is None or c.at < end)]


class Notices(Scenario):
    """2025-11-25: -32042 twice; bogus notices (an unknown id, then a repeated one) come first."""

    def __init__(self, setting: Setting) -> None:
        super().__init__(
            setting,
            LEGACY,
            "notices",
            "answers -32042; once the page opens, a notice for an unknown id, then the right one; the "
            "retry gets -32042 for a second step, whose opening brings a repeat of the first notice, then "
            "the right one",
        )

    async def play(self, call: ToolCall, number: int) -> dict[str, Any]:
        if number == 1:
            first = self.link("Sign in to the first service in your browser.")
            self.notify_later(
                call, first, ("notice:unknown", None), ("notice:first", first.elicitation_id), watch=True
            )
            raise required([first])
        if number == 2:
            first, second = self.links[0], self.link("Approve the second step in your browser.")
            self.notify_later(
                call,
                second,
                ("notice:repeat", first.elicitation_id),
                ("notice:second", second.elicitation_id),
                after="notice:first",
            )
            raise required([second])
        if number == 3:  # a call that came before the second link's notices: watch them still
            self.hub.later(self._finish_after_notices)
        return done("Both browser steps are done: the tool ran.", self.era)

    async def _finish_after_notices(self) -> None:
        await self.trace.changes.until(
            lambda: self.trace.noted("notice:second") is not None, self.setting.limit
        )
        self.trace.finish()

    def score(self, report: Report, played: Played | None) -> None:
        calls, note = self.calls(), self.trace.noted
        if not calls:
            return
        if self.no_notice_stream():
            why = "the client opened no GET stream for server messages, so no notice could reach it"
            for requirement in (NOTICE_UNKNOWN, NOTICE_REPEATED, RETRY_ONCE):
                report.skipped(requirement, why, LEGACY)
            return
        dones = played.dones if played else ()
        manual = [c for before, c in itertools.pairwise(calls) if any(before.at < d < c.at for d in dones)]
        automatic = [c for c in calls[1:] if c not in manual]
        opened = self.hub.opened(self.links[0].url) if self.links else []
        unprompted = bool(opened) and bool(calls_between(automatic, opened[0].at, note("notice:unknown")))
        gone_at = played.gone_at if played else None
        first, repeat, second = note("notice:first"), note("notice:repeat"), note("notice:second")
        self._ignored(
            report, NOTICE_UNKNOWN, automatic, unprompted, gone_at, note("notice:unknown"), first, "unknown"
        )
        self._ignored(
            report, NOTICE_REPEATED, automatic, unprompted, gone_at, repeat, second, "already-completed"
        )
        if first is None:
            report.skipped(RETRY_ONCE, "the first link was never opened, so no notice was sent", LEGACY)
            return
        early = [c for c in automatic if c.at < first]
        after_first = calls_between(automatic, first, second)
        after_second = calls_between(automatic, second, None) if second is not None else []
        if early and played is None:
            report.skipped(
                RETRY_ONCE,
                "retried before the notice said the browser step was done; with --serve the checker "
                "cannot see whether the person asked for it (the spec asks clients to offer a manual retry)",
                LEGACY,
            )
        elif early:
            report.failed(
                RETRY_ONCE,
                "retried by itself before the notice said the browser step was done (the person had not "
                "said it was)",
                LEGACY,
            )
        elif not after_first:
            why = "did not retry on the notice (the spec allows, not asks, it)"
            if manual:
                why += "; it retried when the person said the step was done, a manual retry as the spec asks"
            report.skipped(RETRY_ONCE, why, LEGACY)
        elif len(after_first) > 1 or len(after_second) > 1:
            most = max(len(after_first), len(after_second))
            report.failed(RETRY_ONCE, f"called the tool {most} times after one notice", LEGACY)
        elif second is not None and not after_second:
            report.skipped(RETRY_ONCE, "retried after the first notice, not after the second", LEGACY)
        else:
            report.passed(
                RETRY_ONCE,
                f"retried once after each of {1 + (second is not None)} notices, "
                f"{after_first[0].at - first:.2f} s after the first, never before",
                LEGACY,
            )

    def _ignored(
        self,
        report: Report,
        requirement: Requirement,
        automatic: list[Seen],
        unprompted: bool,
        gone_at: float | None,
        bogus: float | None,
        right: float | None,
        what: str,
    ) -> None:
        """No call between the bogus notice and the right one, and one after the right one (else
        the client takes no notice at all, and ignoring this one tells nothing). `automatic`: the
        calls the person did not ask for; `unprompted`: one came between the first link's opening
        and the first notice (sent `grace` after it), so the client retries without waiting for
        notices, and a call after a bogus one tells nothing."""
        if bogus is None:
            report.skipped(requirement, f"the link before the {what} notice was never opened", LEGACY)
            return
        reacted = calls_between(automatic, bogus, right)
        if not reacted and gone_at is not None and gone_at <= bogus:
            report.skipped(requirement, f"the client had ended before the {what} notice came", LEGACY)
        elif unprompted:
            report.skipped(
                requirement,
                "retried before any notice came (the first came "
                f"{self.setting.grace:g} s after the link opened), so a retry after the {what} notice "
                "does not tell whether it was taken",
                LEGACY,
            )
        elif reacted:
            gap = reacted[0].at - bogus
            report.failed(requirement, f"retried {gap:.2f} s after a notice for an {what} id", LEGACY)
        elif right is None:
            report.skipped(requirement, "the run ended before the right notice was sent", LEGACY)
        elif not (taken := [c for c in automatic if c.at > right]):
            report.skipped(
                requirement,
                "the client made no call after the right notice either, so that it made none after the "
                f"{what} one tells nothing",
                LEGACY,
            )
        else:
            report.passed(
                requirement,
                f"no call in the {self.setting.grace:g} s between the {what} notice and the right one; "
                f"a retry {taken[0].at - right:.2f} s after the right one",
                LEGACY,
            )


class Request(Scenario):
    """2025-11-25: `elicitation/create` in url mode inside the tool call; a notice after the page opens."""

    def __init__(self, setting: Setting) -> None:
        super().__init__(setting, LEGACY, "request", "sends elicitation/create (url mode) during the call")
        self.answer: dict[str, Any] | None = None

    async def play(self, call: ToolCall, number: int) -> dict[str, Any]:
        if number > 1:
            return done("Already done.", self.era)
        link = self.link("Enter your API key in your browser.")
        self.answer = await call.ask("elicitation/create", url_params(link), self.setting.limit)
        action = (self.answer or {}).get("result", {}).get("action")
        if action == "accept" and await self.hub.wait_open(link.url, self.setting.limit):
            assert call.session is not None
            call.session.notify(COMPLETE, {"elicitationId": link.elicitation_id})
        self.trace.finish()
        return done(f"The browser step ended: {action}.", self.era)

    def score(self, report: Report, played: Played | None) -> None:
        if not self.links:
            return
        if self.answer is None:
            report.failed(
                HONOURS_URL,
                f"no answer to a url mode elicitation/create within {self.setting.limit:g} s",
                LEGACY,
            )
        elif "error" in self.answer:
            code = self.answer["error"].get("code") if isinstance(self.answer["error"], dict) else None
            report.failed(
                HONOURS_URL, f"declared url mode, then answered a url request with error {code}", LEGACY
            )
        else:
            action = self.answer.get("result", {}).get("action")
            if action in ("accept", "decline", "cancel"):
                report.passed(HONOURS_URL, f"answered {action}", LEGACY)
            else:
                report.failed(
                    HONOURS_URL,
                    f"answered with an action that is not accept, decline or cancel: {action!r}",
                    LEGACY,
                )


class Undeclared(Scenario):
    """2025-11-25: `elicitation/create` in the mode the client did not declare."""

    def __init__(self, setting: Setting) -> None:
        super().__init__(
            setting, LEGACY, "undeclared", "sends elicitation/create in a mode the client did not declare"
        )
        self.sent: str | None = None
        self.both = False
        self.answer: dict[str, Any] | None = None

    async def call(self, call: ToolCall) -> dict[str, Any]:
        modes = declared_modes((call.session.capabilities if call.session else {}).get("elicitation"))
        if len(self.calls()) > 1 or not modes:
            return done("Already done.", self.era)
        if modes == {"form", "url"}:
            self.both = True
        elif "url" in modes:
            self.sent = "form"
            params: dict[str, Any] = {
                "mode": "form",
                "message": "Your name? [handoff check]",
                "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}},
            }
            self.answer = await call.ask("elicitation/create", params, self.setting.limit)
        else:
            self.sent = "url"
            link = self.link("A url mode request this client did not declare.", answer="decline")
            self.answer = await call.ask("elicitation/create", url_params(link), self.setting.limit)
        self.trace.finish()
        return done("Done.", self.era)

    def score(self, report: Report, played: Played | None) -> None:
        if self.both:
            report.skipped(
                UNDECLARED_MODE, "the client declares both modes: there is no undeclared one", LEGACY
            )
        elif self.sent is None:
            return
        elif self.answer is None:
            report.failed(
                UNDECLARED_MODE,
                f"no answer to a {self.sent} mode request within {self.setting.limit:g} s",
                LEGACY,
            )
        elif "error" not in self.answer:
            report.failed(
                UNDECLARED_MODE,
                f"answered a {self.sent} mode request it did not declare with a result",
                LEGACY,
            )
        else:
            code = self.answer["error"].get("code") if isinstance(self.answer["error"], dict) else None
            if code == INVALID_PARAMS:
                report.passed(UNDECLARED_MODE, f"{self.sent} mode (undeclared) answered -32602", LEGACY)
            else:
                report.failed(
                    UNDECLARED_MODE,
                    f"{self.sent} mode (undeclared) answered error {code}, not -32602",
                    LEGACY,
                )


class Blocked(Scenario):
    """Both eras: links that must not open (javascript:, data:, file:) and look-alikes, one by one.

    The person (when the checker plays one) accepts each link that must not open: the requirement is
    that it never opens, even then. A client that refuses the accept and asks again is then declined.
    Look-alikes are declined: the person saw them, which is what their check asks."""

    def __init__(self, setting: Setting, era: str) -> None:
        super().__init__(
            setting,
            era,
            "blocked",
            "asks the client to open javascript:, data: and file: links and look-alikes",
        )
        self.asking: Link | None = None

    def _links(self) -> list[Link]:
        links = [
            self.link("Open this link to continue.", url=u, kind="blocked", answer="accept")
            for u in self.setting.blocked
        ]
        links += [
            self.link("Sign in to your account.", url=u, kind="lookalike", answer="decline")
            for u in self.setting.lookalikes
        ]
        return links

    def awaits(self, link: Link) -> bool:
        if self.era == LEGACY:
            return self.asking is link
        return link in self.links and link.answered_at is None

    async def play(self, call: ToolCall, number: int) -> dict[str, Any]:
        if number == 1 and self.era == LEGACY:
            for link in self._links():
                self.asking = link
                if await call.ask("elicitation/create", url_params(link), self.setting.limit) is not None:
                    link.answered_at = time.monotonic()
                self.asking = None
        elif number == 1:
            return input_required(
                {f"link{i}": link for i, link in enumerate(self._links())}, secrets.token_urlsafe(16)
            )
        elif number == 2 and self.era == MODERN:
            for link in self.links:  # the retry: the client is done with every link it was given
                link.answered_at = call.seen.at
        self.trace.finish()
        return done("Done.", self.era)


class Declined(Scenario):
    """Both eras, with the checker at the prompt: the person declines; nothing may open."""

    def __init__(self, setting: Setting, era: str) -> None:
        super().__init__(
            setting, era, "decline", "asks for a browser step that the person declines", needs_person=True
        )

    async def play(self, call: ToolCall, number: int) -> dict[str, Any]:
        if number == 1:
            link = self.link("Approve a payment in your browser.", answer="decline")
            if self.era == MODERN:
                return input_required({"step": link}, secrets.token_urlsafe(16))
            await call.ask("elicitation/create", url_params(link), self.setting.limit)
        self.trace.finish()
        return done("Done.", self.era)


class Silent(Scenario):
    """2025-11-25: -32042, and the completion notice never comes."""

    def __init__(self, setting: Setting) -> None:
        super().__init__(setting, LEGACY, "silent", "answers -32042 and never sends the completion notice")

    async def play(self, call: ToolCall, number: int) -> dict[str, Any]:
        if number == 1:
            raise required([self.link("Connect your calendar in your browser.")])
        self.trace.finish()
        return done("Retried without a notice.", self.era)

    def deadline(self) -> float | None:
        """When the run of this scenario may end: `limit` after its link opened."""
        opened = self.hub.opened(self.links[0].url) if self.links else []
        return opened[0].at + self.setting.limit if opened else None

    def score(self, report: Report, played: Played | None) -> None:
        opened = self.hub.opened(self.links[0].url) if self.links else []
        if not opened:
            if self.links:
                report.skipped(
                    WAIT_BOUNDED, "the link was never opened, so there was nothing to wait for", LEGACY
                )
            return
        start, limit = opened[0].at, self.setting.limit
        retried = self.calls()[1:]
        gone_at = played.gone_at if played else None
        dones = [d for d in (played.dones if played else ()) if d > start]
        moved = [at for at in ([retried[0].at] if retried else []) + [gone_at] if at is not None]
        if moved and min(moved) - start <= limit:
            after = min(moved) - start
            if not retried or retried[0].at != min(moved):
                report.passed(
                    WAIT_BOUNDED, f"gave up {after:.1f} s after the link opened, with no notice", LEGACY
                )
            elif dones and dones[0] < retried[0].at:
                report.passed(
                    WAIT_BOUNDED,
                    f"retried {after:.1f} s after the link opened, when the person said the browser step "
                    "was done (no notice came): it lets the person retry by hand",
                    LEGACY,
                )
            else:
                report.passed(
                    WAIT_BOUNDED, f"retried {after:.1f} s after the link opened, with no notice", LEGACY
                )
        elif dones:
            report.failed(
                WAIT_BOUNDED,
                f"still waiting {limit:g} s after the link opened, though the person said the browser "
                f"step was done {dones[0] - start:.1f} s after it opened",
                LEGACY,
            )
        elif played is not None and played.asked:
            report.skipped(
                WAIT_BOUNDED,
                f"still waiting {limit:g} s after the link opened; a terminal client may leave the end of "
                'the wait to the person: give --done-with (what the client takes for "done") to let the '
                "checker say it",
                LEGACY,
            )
        else:
            report.failed(
                WAIT_BOUNDED, f"still waiting {limit:g} s after the link opened, with no notice", LEGACY
            )


class Loop(Scenario):
    """Both eras: every call (or retry) is answered with a new browser step, completed at once."""

    def __init__(self, setting: Setting, era: str) -> None:
        super().__init__(setting, era, "loop", "answers every call with a new browser step, forever")

    async def play(self, call: ToolCall, number: int) -> dict[str, Any]:
        if number > LOOP_STOP:
            self.trace.finish()
            return done(
                f"Stopped after {LOOP_STOP} calls: the client retries in a loop.", self.era, error=True
            )
        link = self.link(f"Browser step number {number}.")
        if self.era == MODERN:
            return input_required({f"step{number}": link}, secrets.token_urlsafe(16))
        self.notify_later(call, link, (f"notice:{number}", link.elicitation_id))
        raise required([link])

    def score(self, report: Report, played: Played | None) -> None:
        count = len(self.calls())
        if count == 0:
            return
        if count == 1:
            report.skipped(
                RETRY_BOUNDED,
                "the client did not retry the call at all, so whether it would stop retrying is not known",
                self.era,
            )
        elif count - 1 > RETRIES_ALLOWED:
            report.failed(
                RETRY_BOUNDED,
                f"retried {count - 1} times (more than {RETRIES_ALLOWED}); every answer asked for a new step",
                self.era,
            )
        else:
            report.passed(RETRY_BOUNDED, f"stopped after {count - 1} retries", self.era)


class Rounds(Scenario):
    """2026-07-28: an InputRequiredResult with a state, then one without; the retries' fields scored."""

    def __init__(self, setting: Setting) -> None:
        super().__init__(
            setting,
            MODERN,
            "rounds",
            "answers InputRequiredResult (a url request and a requestState), then one with a url "
            "request only",
        )
        self.state = secrets.token_urlsafe(24) + "=="

    async def play(self, call: ToolCall, number: int) -> dict[str, Any]:
        if number == 1:
            return input_required({"first": self.link("Sign in to the service in your browser.")}, self.state)
        if number == 2:
            await self._opened_if_accepted(call, "first", self.links[0])
            return input_required({"second": self.link("Approve the second step in your browser.")}, None)
        if number == 3:
            await self._opened_if_accepted(call, "second", self.links[1])
            self.trace.finish()
        return done("Both browser steps are done: the tool ran.", self.era)

    async def _opened_if_accepted(self, call: ToolCall, key: str, link: Link) -> None:
        responses = call.params.get("inputResponses")
        answer = responses.get(key) if isinstance(responses, dict) else None
        if isinstance(answer, dict) and answer.get("action") == "accept":
            await self.hub.wait_open(link.url, self.setting.limit)

    def score(self, report: Report, played: Played | None) -> None:
        calls = self.calls()
        if not calls:
            return
        if len(calls) < 2:
            for requirement in (NEW_ID, INPUTS_BUILT, STATE_ECHOED, NO_STATE):
                report.skipped(requirement, "the client did not retry after the InputRequiredResult", MODERN)
            return
        ids = [c.message.get("id") for c in calls[:3]]
        if len(set(map(repr, ids))) == len(ids):
            report.passed(NEW_ID, f"each retry had an id of its own ({len(ids)} requests)", MODERN)
        else:
            report.failed(NEW_ID, f"a retry reused a JSON-RPC id: {ids}", MODERN)
        params = [c.message.get("params") or {} for c in calls[:3]]
        missing = [
            key
            for key, p in zip(("first", "second"), params[1:], strict=False)
            if not isinstance(p.get("inputResponses"), dict) or key not in p["inputResponses"]
        ]
        if missing:
            report.failed(INPUTS_BUILT, f"the retry did not answer the input request {missing[0]!r}", MODERN)
        else:
            report.passed(INPUTS_BUILT, "each retry answered every input request", MODERN)
        echoed = params[1].get("requestState")
        if echoed == self.state:
            report.passed(STATE_ECHOED, "the requestState came back exactly", MODERN)
        elif echoed is None:
            report.failed(STATE_ECHOED, "the retry carried no requestState", MODERN)
        else:
            report.failed(STATE_ECHOED, "the retry carried a different requestState", MODERN)
        if len(params) < 3:
            report.skipped(
                NO_STATE, "the client did not retry after the InputRequiredResult without a state", MODERN
            )
        elif "requestState" in params[2]:
            report.failed(NO_STATE, "the retry carried a requestState the server never sent", MODERN)
        else:
            report.passed(NO_STATE, "no requestState in the retry, as none was given", MODERN)


def scenarios(setting: Setting, eras: tuple[str, ...], only: tuple[str, ...] = ()) -> list[Scenario]:
    """Every scenario for `eras`, in the order a run walks them (`only`: just these names)."""
    chosen: list[Scenario] = []
    if LEGACY in eras:
        chosen += [Request(setting), Notices(setting), Undeclared(setting), Blocked(setting, LEGACY)]
        chosen += [Declined(setting, LEGACY), Silent(setting), Loop(setting, LEGACY)]
    if MODERN in eras:
        chosen += [
            Rounds(setting),
            Blocked(setting, MODERN),
            Declined(setting, MODERN),
            Loop(setting, MODERN),
        ]
    chosen = [s for s in chosen if setting.person or not s.needs_person]
    return [s for s in chosen if not only or s.name in only]


NAMES = ("request", "notices", "undeclared", "blocked", "decline", "silent", "loop", "rounds")
