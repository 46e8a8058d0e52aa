"""The person at the terminal (`--login`): told what to do in their own browser, answering with Enter.

The checker never opens a link the server under check handed out (that server is what is being
checked): it shows the link with handoff's link check and the person opens it. Answers are lines on
standard input, a terminal or a pipe alike, read by one reader for the whole run so that an Enter
typed for one prompt is never taken for the next; the end of input means nobody will answer.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import IO

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._exact import printable
from ..client._urlcheck import check_url
from ._server_browser import Finished


@dataclass(frozen=True)
class Step:
    """What a browser step is for, as the prompt names it."""

    era: str
    tool: str
    message: str | None = None
    """What the server said the step is for (its elicitation message)."""


class Person:
    """Prompts on `out` (stderr), answers from `lines` (stdin)."""

    def __init__(self, who: str, *, lines: IO[str] | None = None, out: IO[str] | None = None) -> None:
        self.who = who
        """Who to sign in as on the server's pages, in the person's words."""
        self.lines = lines if lines is not None else sys.stdin
        self.out = out if out is not None else sys.stderr
        self._send: MemoryObjectSendStream[str | None] | None = None
        self._receive: MemoryObjectReceiveStream[str | None] | None = None
        self._ended = False

    def say(self, text: str) -> None:
        print(printable(text), file=self.out, flush=True)

    def start(self) -> MemoryObjectReceiveStream[str | None]:
        """Begin reading answers (when the check starts, so that a line typed before a prompt is
        known as such and never answers it)."""
        if self._receive is not None:
            return self._receive
        send, receive = anyio.create_memory_object_stream[str | None](64)
        self._send, self._receive = send, receive
        token = anyio.lowlevel.current_token()

        def read() -> None:  # a daemon thread: a read from a terminal cannot be cancelled
            try:
                for line in self.lines:
                    anyio.from_thread.run_sync(send.send_nowait, line, token=token)
                anyio.from_thread.run_sync(send.send_nowait, None, token=token)
            except Exception:  # the run ended (its loop is gone) or the stream broke: stop reading
                return

        threading.Thread(target=read, name="handoff-check-stdin", daemon=True).start()
        return receive

    def _drain(self, receive: MemoryObjectReceiveStream[str | None]) -> None:
        """Forget lines typed before this prompt (an Enter meant for an earlier one)."""
        while True:
            try:
                if receive.receive_nowait() is None:
                    self._ended = True
            except anyio.WouldBlock:
                return

    async def finish(
        self, url: str, step: Step, notice: Callable[[], Awaitable[bool]] | None, wait: float
    ) -> Finished:
        """Ask the person to finish the step at `url`; done when they press Enter, or when `notice`
        (the server's completion notice, 2025-11-25) comes first."""
        link = check_url(url)
        receive = self.start()
        self._drain(receive)
        head = f"\n── Your turn in the browser: {step.tool} ({step.era}) " + "─" * 20
        lines = [head]
        if step.message:
            lines.append(f"The server says: {step.message}")
        lines += ["handoff's check of the link:", *("  " + line for line in link.as_text().splitlines())]
        if link.verdict == "block":
            self.say("\n".join([*lines, "Do not open it: the checker goes on without this step."]))
            return Finished(False, "handoff's link check blocks the URL, so nobody was asked to open it")
        if self._ended:
            self.say("\n".join(lines))
            return Finished(False, "nobody can answer: standard input has ended")
        lines += [
            "1. Open the link yourself, in your browser (the checker never opens it).",
            f"2. If the page asks you to sign in, sign in as {self.who}.",
            "3. Finish the step as a tester would: a throwaway test value where it asks for a secret "
            "(never a real one), Approve or Allow where it asks (never Decline).",
            "4. Come back here and press Enter"
            + (
                " (or wait: the checker goes on by itself when the server says it is done)."
                if notice
                else "."
            ),
        ]
        self.say("\n".join(lines))
        how: list[str] = []
        with anyio.move_on_after(wait):
            async with anyio.create_task_group() as tg:

                async def enter() -> None:
                    line = await receive.receive()
                    how.append("enter" if line is not None else "ended")
                    tg.cancel_scope.cancel()

                async def told() -> None:
                    if notice is not None and await notice():
                        how.append("notice")
                        tg.cancel_scope.cancel()

                tg.start_soon(enter)
                tg.start_soon(told)
        if not how:
            return Finished(False, f"nobody finished the step within {wait:g} s")
        if how[0] == "ended":
            self._ended = True
            return Finished(False, "standard input ended before Enter was pressed")
        if how[0] == "notice":
            self.say("The server says the step is done (its completion notice came): no need to press Enter.")
            return Finished(True, "finished by the person in their browser (the server's notice came)")
        return Finished(True, "finished by the person in their browser")
