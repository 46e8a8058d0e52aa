"""The server under check, who the checker is there, and how a browser step gets finished."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..client._timeouts import MAX_ANSWER_BYTES
from ._server_browser import Finished, FormBrowser, Leash
from ._server_person import Person, Step
from ._server_stdio import Command
from ._server_url import without_userinfo
from ._server_wire import Connection, connect

NO_BROWSER = (
    "no browser to finish the step: pass --user/--password (the checker signs in as a scripted "
    "browser) or --login (you finish it when asked)"
)
NO_BROWSER_STDIO = (
    "no browser to finish the step: pass --password (the passphrase or password the server's pages "
    "ask for; the checker types it in a scripted browser) or --login (you finish it when asked)"
)
ONE_USER_STDIO = "a server on stdio has one user (whoever runs it): there is no second user to refuse"


@dataclass
class User:
    """One user the checker acts as: the access token its MCP connections carry and, with a user
    name and password, a scripted browser signed in as that user."""

    token: str | None
    name: str | None = None
    password: str | None = field(default=None, repr=False)
    browser: FormBrowser | None = None


@dataclass
class Gated:
    """A tool that needs a browser step, the arguments it is called with, and how it asked:
    "error" (-32042), "request" (elicitation/create) or "input_required" (2026-07-28)."""

    name: str
    arguments: dict[str, Any]
    delivery: str
    schema: dict[str, Any] = field(default_factory=dict)
    """The tool's input schema, for checks that call it with other arguments."""


class EraClock:
    """The deadline of one era's checks (`--era-deadline`), which a person's turn in the browser
    does not count against, and what the checker was doing, to say where the deadline came."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.scope = anyio.CancelScope()
        self.doing = "before its first check"

    def start(self) -> anyio.CancelScope:
        self.scope.deadline = anyio.current_time() + self.seconds
        return self.scope

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        left = self.scope.deadline - anyio.current_time()
        self.scope.deadline = math.inf
        try:
            yield
        finally:
            self.scope.deadline = anyio.current_time() + left

    @property
    def reached(self) -> str:
        """Why the checks not reached are skipped."""
        return f"the era deadline of {self.seconds:g} s (--era-deadline) came {self.doing}"


@dataclass
class Target:
    server: str | Command
    """The MCP endpoint's URL, or the command of a server on stdio (each session its own process)."""
    first: User
    second: User | None = None
    value: str | None = None
    """The throwaway value to enter in a secret form (else a random test value)."""
    notice_wait: float = 10.0
    """Seconds to wait for a completion notice once the browser step is finished."""
    settle: float = 1.0
    """Seconds to watch for a notice that must not come (another session, an anonymous visit)."""
    unattended: float = 6.0
    """Seconds to watch a step nobody opened, for a completion notice that must not come."""
    person_wait: float = 600.0
    person: Person | None = None
    """With --login: the person at the terminal, who finishes browser steps when asked."""
    connect_timeout: float = 10.0
    """Seconds for each connection's handshake, all its answers together, and its first tools/list."""
    max_answer_bytes: int = MAX_ANSWER_BYTES
    clock: EraClock = field(default_factory=lambda: EraClock(math.inf))
    """The era under way's deadline."""
    leash: Leash = field(default_factory=Leash)
    """Where the checker's browsers may go."""
    finished_before: dict[str, str] = field(default_factory=dict)
    """The tool whose browser step an earlier era finished, by era ("2025-11-25": "forecast"): what
    was entered then may be kept, and the tool not ask the same user again."""

    def browser(self, user: str | None = None, password: str | None = None) -> FormBrowser:
        """A new scripted browser (no cookies), as `user` when given."""
        return FormBrowser(user, password, self.leash)

    @property
    def stdio(self) -> bool:
        return isinstance(self.server, Command)

    @property
    def name(self) -> str:
        """How reports name the server: its command, or its URL without any user name or password."""
        return str(self.server) if isinstance(self.server, Command) else without_userinfo(self.server)

    def connect(self, mode: str, user: User | None = None, **options: Any) -> Any:
        """A connection to the server as `user` (the first by default); see `connect`."""
        return connect(
            self.server,
            mode=mode,
            token=(user or self.first).token,
            connect_timeout=self.connect_timeout,
            max_answer_bytes=self.max_answer_bytes,
            **options,
        )

    def doing(self, what: str) -> None:
        """Say what the era's checks are doing now (where its deadline came, if it does)."""
        self.clock.doing = what

    @property
    def no_second_user(self) -> str:
        """Why the checks that need a second user cannot run."""
        if self.stdio:
            return ONE_USER_STDIO
        return "no second user: pass --second-user and --second-password"

    @property
    def known_secrets(self) -> list[str]:
        users = [u for u in (self.first, self.second) if u is not None]
        return [s for u in users for s in (u.token, u.password) if s]

    @property
    def people(self) -> list[str]:
        return [u.name for u in (self.first, self.second) if u is not None and u.name]

    async def finish(self, url: str, step: Step, initiator: Connection | None = None) -> Finished:
        """Finish the browser step at `url` as the first user: scripted when a password was given,
        by the person with --login (done when they press Enter or the notice arrives), else not."""
        browser = self.first.browser
        if browser is not None and self.first.password is not None:
            self.doing("while finishing the browser step")
            return await browser.finish(url, self.value)
        if self.person is None:
            return Finished(False, NO_BROWSER_STDIO if self.stdio else NO_BROWSER)
        notice = None
        if initiator is not None:
            conn = initiator

            async def notice() -> bool:
                return await conn.wait_for(lambda: bool(conn.notices), self.person_wait)

        with self.clock.paused():  # the person's time is not the era's
            return await self.person.finish(url, step, notice, self.person_wait)
