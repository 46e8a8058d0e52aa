"""The server under check, who the checker is there, and how a browser step gets finished."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread

from ._server_browser import Finished, FormBrowser
from ._server_wire import Connection

NO_BROWSER = (
    "no browser to finish the step: pass --user/--password (the checker signs in as a scripted "
    "browser) or --login (you finish it when asked)"
)


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


@dataclass
class Target:
    url: str
    first: User
    second: User | None = None
    person: bool = False
    """--login: the person finishes browser steps when the checker asks."""
    value: str | None = None
    """The throwaway value to enter in a secret form (else a random test value)."""
    notice_wait: float = 10.0
    """Seconds to wait for a completion notice once the browser step is finished."""
    settle: float = 1.0
    """Seconds to watch for a notice that must not come (another session, an anonymous visit)."""
    person_wait: float = 600.0

    @property
    def known_secrets(self) -> list[str]:
        users = [u for u in (self.first, self.second) if u is not None]
        return [s for u in users for s in (u.token, u.password) if s]

    @property
    def people(self) -> list[str]:
        return [u.name for u in (self.first, self.second) if u is not None and u.name]

    async def finish(self, url: str, initiator: Connection | None = None) -> Finished:
        """Finish the browser step at `url` as the first user: scripted when a password was given,
        by the person with --login (done when they press Enter or the notice arrives), else not."""
        browser = self.first.browser
        if browser is not None and self.first.password is not None:
            return await browser.finish(url, self.value)
        if not self.person:
            return Finished(False, NO_BROWSER)
        print(
            f"\nOpen this link in your browser and finish the step there (enter a throwaway test "
            f"value if it asks for a secret):\n  {url}\nPress Enter when you are done.",
            file=sys.stderr,
        )
        finished = False
        with anyio.move_on_after(self.person_wait):
            async with anyio.create_task_group() as tg:

                async def enter() -> None:
                    await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
                    tg.cancel_scope.cancel()

                async def notice() -> None:
                    if initiator is not None:
                        await initiator.wait_for(lambda: bool(initiator.notices), self.person_wait)
                        if initiator.notices:
                            tg.cancel_scope.cancel()

                tg.start_soon(enter)
                tg.start_soon(notice)
            finished = True
        if not finished:
            return Finished(False, f"nobody finished the step within {self.person_wait:g} s")
        return Finished(True, "finished by the person in their browser")
