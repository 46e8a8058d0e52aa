"""Running the client under test once per scenario, and playing the person at its prompt.

The command gets the scenario's URL (for `{url}` in its arguments, else as its last argument, and in
`HANDOFF_CHECK_URL`) and `BROWSER` naming the browser stand-in. Everything it prints is kept with the
time it came, so the verdicts can tell what the person saw before a link was answered or opened. When
told how (`accept`/`decline` answers), the checker answers each link the client shows, on its stdin;
told what the client takes for "I'm done in the browser", it says so when the client, having had its
link opened, still waits for a word that is not coming (a manual retry, which the spec asks clients
to offer).
"""

from __future__ import annotations

import contextlib
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
from ._client_requirements import LEGACY
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
    dones: list[float] = field(default_factory=list)
    """When the person said the browser step was done."""
    gone_at: float | None = None
    exit_code: int | None = None
    killed: bool = False

    def text_before(self, at: float) -> str:
        return "".join(chunk for when, chunk in self.output if when <= at)

    def answer_to(self, link: Link) -> Answer | None:
        return next((a for a in self.answers if a.link is link), None)


@dataclass
class Person:
    """How the checker answers a consent prompt, what it types first (a REPL command, say), and what
    it types to say the browser step is done."""

    accept: str | None = None
    decline: str | None = None
    first: tuple[str, ...] = ()
    done: str | None = None

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
        answering = _Answering(scenario, person, observed, process, tg)
        assert process.stdout is not None and process.stderr is not None
        tg.start_soon(answering.read, process.stdout)
        tg.start_soon(answering.read, process.stderr)
        if person.done is not None and scenario.era == LEGACY:
            tg.start_soon(answering.watch_for_done)
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
        tasks: anyio.abc.TaskGroup,
    ) -> None:
        self.scenario = scenario
        self.person = person
        self.observed = observed
        self.process = process
        self.tasks = tasks
        self.text = ""
        self.answered: set[str] = set()
        self.insisting: dict[str, int] = {}
        """Links that must not open which the person accepted, with the output's length then: if the
        client prints more and waits while its answer is still due, it refused the accept and asks
        again, and the person declines (unless another link was answered since)."""
        self.last: str | None = None
        """The link the person answered last."""

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
        if any(len(self.text) > length for length in self.insisting.values()):
            self.tasks.start_soon(self._insisted_when_quiet, len(self.text))
        for link in list(self.scenario.links):
            if link.token in self.answered or (link.url not in self.text and link.token not in self.text):
                continue
            if link.url not in self.text:
                self.tasks.start_soon(self._when_quiet, len(self.text))
                continue
            await self._say(link)

    async def _when_quiet(self, length: int) -> None:
        await anyio.sleep(QUIET)
        if len(self.text) != length:
            return  # more came: that chunk's own look decides
        for link in list(self.scenario.links):
            if link.token not in self.answered and link.token in self.text:
                await self._say(link)

    async def _insisted_when_quiet(self, length: int) -> None:
        await anyio.sleep(QUIET)
        if len(self.text) != length:
            return
        for link in list(self.scenario.links):
            then = self.insisting.get(link.token)
            if then is not None and length > then and self.last == link.token and self.scenario.awaits(link):
                del self.insisting[link.token]
                self.observed.answers.append(Answer(time.monotonic(), link, "decline", link.url in self.text))
                await self.type(self.person.decline or "")

    async def _say(self, link: Link) -> None:
        if link.token in self.answered:
            return
        self.answered.add(link.token)
        self.last = link.token
        said = self.person.accept if link.answer == "accept" else self.person.decline
        assert said is not None
        self.observed.answers.append(Answer(time.monotonic(), link, link.answer, link.url in self.text))
        if link.kind == "blocked" and link.answer == "accept":
            self.insisting[link.token] = len(self.text)
        await self.type(said)

    async def watch_for_done(self) -> None:
        """Watch each link the client is to open, to say the step is done if it waits in vain."""
        watched: set[str] = set()
        links = self.scenario.links
        while True:
            await self.scenario.hub.changes.until(lambda: any(k.token not in watched for k in links), 3600)
            for link in list(links):
                if link.token not in watched:
                    watched.add(link.token)
                    if link.kind == "page":
                        self.tasks.start_soon(self._done_when_waiting, link)

    async def _done_when_waiting(self, link: Link) -> None:
        """Once `link` opened, and the client called nothing since for twice `grace` past the opening
        and every notice its server sent, the person says the browser step is done."""
        hub, trace, grace = self.scenario.hub, self.scenario.trace, self.scenario.setting.grace
        if not await hub.wait_open(link.url, self.scenario.setting.limit):
            return
        opened = hub.opened(link.url)[0].at
        while True:
            last = max([opened, *(at for at, _ in trace.notes)])
            await anyio.sleep(max(0.0, last + 2 * grace - time.monotonic()))
            if any(c.at > opened for c in trace.calls()) or trace.finished.is_set():
                return
            if self.process.returncode is not None:
                return
            if max([opened, *(at for at, _ in trace.notes)]) == last:
                break
        assert self.person.done is not None
        self.observed.dones.append(time.monotonic())
        await self.type(self.person.done)

    async def type(self, line: str) -> None:
        if self.process.stdin is None:
            return
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self.process.stdin.send((line + "\n").encode())

    async def close_input(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await self.process.stdin.aclose()
