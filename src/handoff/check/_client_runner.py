"""Running the client under test once per scenario, and playing the person at its prompt.

The command gets the scenario's URL (for `{url}` in its arguments, else as its last argument, and in
`HANDOFF_CHECK_URL`) and `BROWSER` naming the browser stand-in. Everything it prints is kept with the
time it came, so the verdicts can tell what the person saw before a link was answered or opened. When
told how (`accept`/`decline` answers), the checker answers each link the client shows, on its stdin.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.abc
from anyio.streams.text import TextReceiveStream

from .._command_line import displayed
from ._client_scenarios import Link, Scenario, Silent

STAND_IN = Path(__file__).with_name("_client_browser.py")
QUIET = 0.3
"""Seconds without output after which a client that showed a link's message is taken to be waiting
for the person's answer (when the full URL is not on the screen)."""


def browser_command() -> str:
    """The BROWSER value that makes a client hand its links to the checker's stand-in."""
    return f"{shlex.join([sys.executable, '-I', str(STAND_IN)])} %s"


@dataclass(frozen=True)
class Answer:
    at: float
    link: Link
    said: str
    url_seen: bool
    """The full URL was on the client's screen when the person answered."""


@dataclass
class Observed:
    """What the client printed, what the person answered, and when it went."""

    output: list[tuple[float, str]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    gone_at: float | None = None
    exit_code: int | None = None
    killed: bool = False

    def text_before(self, at: float) -> str:
        return "".join(chunk for when, chunk in self.output if when <= at)

    def answer_to(self, link: Link) -> Answer | None:
        return next((a for a in self.answers if a.link is link), None)


@dataclass
class Person:
    """How the checker answers a consent prompt, and what it types first (a REPL command, say)."""

    accept: str | None = None
    decline: str | None = None
    first: tuple[str, ...] = ()

    @property
    def plays(self) -> bool:
        return self.accept is not None and self.decline is not None


def command_for(command: Sequence[str], url: str) -> list[str]:
    if any("{url}" in part for part in command):
        return [part.replace("{url}", url) for part in command]
    return [*command, url]


def environment(url: str, report_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "BROWSER": browser_command(),
            "HANDOFF_CHECK_URL": url,
            "HANDOFF_CHECK_BROWSER_REPORT": report_url,
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "4000",
            "NO_COLOR": "1",
        }
    )
    return env


async def run(command: Sequence[str], scenario: Scenario, person: Person, url: str) -> Observed:
    """Run `command` against `scenario` until the client exits or the scenario is over."""
    observed = Observed()
    setting = scenario.setting
    try:
        process = await anyio.open_process(
            command_for(command, url),
            env=environment(url, scenario.hub.report_url),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise OSError(f"cannot start the client {displayed(command)!r}: {exc.strerror or exc}") from None
    async with process, anyio.create_task_group() as tg:
        answering = _Answering(scenario, person, observed, process)
        assert process.stdout is not None and process.stderr is not None
        tg.start_soon(answering.read, process.stdout)
        tg.start_soon(answering.read, process.stderr)
        for line in person.first:
            await answering.type(line)
        bound = time.monotonic() + 3 * setting.limit + 10 * setting.grace
        with anyio.move_on_after(max(0.0, bound - time.monotonic())):
            async with anyio.create_task_group() as waiting:

                async def exited() -> None:
                    await process.wait()
                    waiting.cancel_scope.cancel()

                async def over() -> None:
                    await _over(scenario)
                    if person.first:  # an interactive client: its input ends with the scenario
                        await answering.close_input()
                    with anyio.move_on_after(setting.grace * 4 + (3 if person.first else 0)):
                        await process.wait()
                    waiting.cancel_scope.cancel()

                waiting.start_soon(exited)
                waiting.start_soon(over)
        if process.returncode is None and person.first:
            await answering.close_input()  # a terminal client leaves when its input ends
            with anyio.move_on_after(3):
                await process.wait()
        if process.returncode is None:
            observed.killed = True
            _kill(process)
            await process.wait()
        observed.gone_at = time.monotonic()
        observed.exit_code = process.returncode
        tg.cancel_scope.cancel()
    return observed


async def _over(scenario: Scenario) -> None:
    """The scenario has nothing more to show the client: its script ended, or its deadline passed."""
    if isinstance(scenario, Silent):
        await scenario.hub.changes.until(
            lambda: scenario.deadline() is not None or scenario.trace.finished.is_set(),
            scenario.setting.limit * 2,
        )
        end = scenario.deadline()
        with anyio.move_on_after(max(0.0, (end or 0) - time.monotonic())):
            await scenario.trace.finished.wait()
        return
    await scenario.trace.finished.wait()


def _kill(process: anyio.abc.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class _Answering:
    """Reads the client's output; answers each link it shows once, as the person would."""

    def __init__(
        self,
        scenario: Scenario,
        person: Person,
        observed: Observed,
        process: anyio.abc.Process,
    ) -> None:
        self.scenario = scenario
        self.person = person
        self.observed = observed
        self.process = process
        self.text = ""
        self.answered: set[str] = set()

    async def read(self, stream: anyio.abc.ByteReceiveStream) -> None:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            async for chunk in TextReceiveStream(stream, errors="replace"):
                self.observed.output.append((time.monotonic(), chunk))
                self.text += chunk
                self.scenario.hub.changes.touch()
                await self._answer()

    async def _answer(self) -> None:
        """Answer each link once its full URL is on the screen, or once the client, having shown its
        message, has printed nothing more for a moment (it waits for the person, URL or not)."""
        if not self.person.plays:
            return
        for link in list(self.scenario.links):
            if link.token in self.answered or (link.url not in self.text and link.token not in self.text):
                continue
            if link.url not in self.text:
                self.scenario.hub.later(functools.partial(self._when_quiet, len(self.text)))
                continue
            await self._say(link)

    async def _when_quiet(self, length: int) -> None:
        await anyio.sleep(QUIET)
        if len(self.text) != length:
            return  # more came: that chunk's own look decides
        for link in list(self.scenario.links):
            if link.token not in self.answered and link.token in self.text:
                await self._say(link)

    async def _say(self, link: Link) -> None:
        if link.token in self.answered:
            return
        self.answered.add(link.token)
        said = self.person.accept if link.answer == "accept" else self.person.decline
        assert said is not None
        self.observed.answers.append(Answer(time.monotonic(), link, link.answer, link.url in self.text))
        await self.type(said)

    async def type(self, line: str) -> None:
        if self.process.stdin is None:
            return
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self.process.stdin.send((line + "\n").encode())

    async def close_input(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await self.process.stdin.aclose()
