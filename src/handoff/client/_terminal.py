"""The terminal client: consent screens, a live waiting state, and a small command loop, with Rich."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
import shlex
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

import anyio
from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.status import Status
from rich.table import Table
from rich.text import Text

from .._errors import leaves
from .._exact import printable
from ._arguments import arguments
from ._consent import ConsentRequest, Decision
from ._failures import one_line
from ._retry import ElicitationFailed
from ._timeouts import MAX_ANSWER_BYTES
from ._urlcheck import UrlReport

_VERDICT_STYLE = {"ok": "green", "warn": "yellow", "block": "bold red"}
_SEVERITY = {"block": ("BLOCKED", "bold red"), "warn": ("Warning", "yellow"), "note": ("Note", "dim")}


def shown(value: object, style: str = "", *, lines: bool = True) -> Text:
    """Text that came from elsewhere, for the terminal: every hidden character named, never markup."""
    return Text(printable(value, lines=lines), style=style)


def marked_url(report: UrlReport) -> Text:
    """The full URL, with the registrable domain (who the person really deals with) highlighted."""
    url = printable(report.href or report.url, lines=False)
    text = Text(url)
    domain = report.registrable_domain
    host = report.host or ""
    if domain and host:
        start = url.find(host)
        if start >= 0:
            offset = start + len(host.rstrip(".")) - len(domain)
            text.stylize("bold black on bright_yellow", offset, offset + len(domain))
    return text


def consent_panel(request: ConsentRequest) -> Panel:
    report = request.report
    body = Text()
    body.append_text(shown(request.server, "bold", lines=False))
    body.append(" asks you to open a link in your browser.\n\n")
    body.append("Its message: ", style="dim")
    body.append_text(shown(request.message) if request.message else Text("(none)"))
    body.append("\n\nLink: ", style="dim")
    body.append_text(marked_url(report))
    if report.host_unicode and report.host and report.host_unicode != report.host:
        body.append_text(shown(f"\nSite: {report.host_unicode} ({report.host})"))
    if report.registrable_domain:
        body.append("\nRegistered domain: ", style="dim")
        body.append_text(shown(report.registrable_domain, "bold", lines=False))
    for reason in report.reasons:
        label, style = _SEVERITY[reason.severity]
        body.append(f"\n{label}: ", style=style)
        body.append_text(shown(reason.text))
    verdict = report.verdict
    title = {
        "ok": "Open this link?",
        "warn": "Open this link? Check the warnings",
        "block": "This link is blocked",
    }
    return Panel(body, title=title[verdict], border_style=_VERDICT_STYLE[verdict], expand=False)


def tools_view(tools: list[Any]) -> Group:
    """Each tool: its name and the first line of its description, then its arguments (name, type,
    required or optional, default and description), all as the server's plain text."""
    parts: list[Any] = []
    for tool in tools:
        head = shown(tool.name, "bold", lines=False)
        first = (tool.description or "").strip().splitlines()
        if first:
            head += Text("  ") + shown(first[0], lines=False)
        parts.append(head)
        listed, left_out = arguments(tool.input_schema)
        if not listed:
            parts.append(Padding(Text("no arguments", style="dim"), (0, 0, 1, 4)))
            continue
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column()
        grid.add_column(no_wrap=True)
        grid.add_column()
        for argument in listed:
            about = shown(argument.description, lines=False)
            if argument.default is not None:
                about += Text(" (default " if argument.description else "(default ", style="dim")
                about += shown(argument.default, "dim", lines=False) + Text(")", style="dim")
            grid.add_row(
                shown(argument.name, "cyan", lines=False),
                shown(argument.type, lines=False),
                Text("required", style="bold") if argument.required else Text("optional", style="dim"),
                about,
            )
        if left_out:
            grid.add_row(Text(f"… and {left_out} more", style="dim"), "", "", "")
        parts.append(Padding(grid, (0, 0, 1, 4)))
    return Group(*parts)


class TerminalUI:
    """Reads lines from stdin without blocking the event loop and routes them to whoever asks.

    While a call runs, a line is for it (Enter: done in the browser; c: cancel) unless a consent
    screen asks. Ctrl-C cancels the call (or, at a consent screen, answers cancel), never the session;
    at the prompt it says how to leave. The end of the input (Ctrl-D, or the end of a pipe) lets a
    call in progress finish, then ends the session."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._status: Status | None = None
        self._done = anyio.Event()
        self._cancel_call: Callable[[], None] | None = None
        self._on_interrupt: Callable[[], None] | None = None
        self._prompting = False
        self._prompt = ""

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[TerminalUI]:
        loop = asyncio.get_running_loop()
        stdin = sys.stdin
        decoder = codecs.getincrementaldecoder(getattr(stdin, "encoding", None) or "utf-8")("replace")
        partial = ""

        def readable() -> None:
            # Straight from the descriptor: lines a pipe delivers together are all routed now, not
            # left in a buffer the event loop cannot see.
            nonlocal partial
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if chunk:
                *lines, partial = (partial + decoder.decode(chunk)).split("\n")
                for line in lines:
                    self._route(line)
                return
            loop.remove_reader(fd)  # the end: an ended descriptor would wake the loop forever
            rest = partial + decoder.decode(b"", final=True)
            if rest:
                self._route(rest)
            self._route(None)

        try:
            fd = stdin.fileno()
            loop.add_reader(fd, readable)
        except (AttributeError, OSError, ValueError):
            # A file, /dev/null or no stdin at all: nothing to wait for (the event loop cannot wait on
            # a file, which is always readable), so every line is read now, then the end.
            for line in stdin or ():
                self._route(line.rstrip("\n"))
            self._route(None)
            yield self
            return
        try:
            yield self
        finally:
            loop.remove_reader(fd)

    def _route(self, line: str | None) -> None:
        if self._cancel_call is not None and not self._prompting and line is not None:
            if line.strip().lower() in ("c", "cancel"):
                self._cancel_call()
            else:
                self._done.set()
            return
        self._lines.put_nowait(line)

    async def readline(self, prompt: str) -> str | None:
        """The next line, or None once the input has ended (for every later reader too)."""
        self._prompt = prompt
        self.console.print(prompt, end="", markup=False)
        line = await self._lines.get()
        if line is None:
            self._lines.put_nowait(None)
        return line

    @contextlib.contextmanager
    def interrupts(self) -> Iterator[None]:
        """Ctrl-C handled by this terminal while the session runs (see the class); as before after it."""
        loop = asyncio.get_running_loop()
        before = signal.getsignal(signal.SIGINT)
        try:
            loop.add_signal_handler(signal.SIGINT, self._interrupted)
        except (NotImplementedError, RuntimeError, ValueError):  # no signals here (Windows, a thread)
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, before)

    @contextlib.contextmanager
    def cancellable(self, cancel: Callable[[], None]) -> Iterator[None]:
        """Ctrl-C calls `cancel` while this lasts."""
        before, self._on_interrupt = self._on_interrupt, cancel
        try:
            yield
        finally:
            self._on_interrupt = before

    def _interrupted(self) -> None:
        if self._prompting:
            # The consent screen's own cancel: the server (or the retry) is told, and the call ends
            # the way a cancelled step ends it.
            self._lines.put_nowait("c")
            return
        if self._on_interrupt is not None:
            self._on_interrupt()
            return
        self.console.print()
        self.console.print("(Ctrl-C cancels a call; type quit or press Ctrl-D to leave)", style="dim")
        self.console.print(self._prompt, end="", markup=False)

    # Consent and waiting

    async def ask(self, request: ConsentRequest) -> Decision:
        self._pause_status()
        self._prompting = True
        try:
            self.console.print(consent_panel(request))
            choices = "[d]ecline / [c]ancel" if not request.may_accept else "[a]ccept / [d]ecline / [c]ancel"
            while True:
                answer = await self.readline(f"{choices}: ")
                if answer is None:
                    return Decision.CANCEL
                picked = {"a": Decision.ACCEPT, "d": Decision.DECLINE, "c": Decision.CANCEL}.get(
                    answer.strip().lower()[:1]
                )
                if picked is Decision.ACCEPT and not request.may_accept:
                    self.console.print("[red]A blocked link cannot be opened.[/red]")
                    continue
                if picked is not None:
                    if picked is Decision.ACCEPT:
                        self.console.print("Opening it in your browser…")
                    return picked
        finally:
            self._prompting = False
            self._resume_status()

    async def wait_for_person(self) -> Literal["done", "cancel"]:
        """The retry loop's waiter: Enter means done (cancel is handled by the call itself)."""
        self._done = anyio.Event()
        await self._done.wait()
        return "done"

    @contextlib.contextmanager
    def running_call(self, cancel: Callable[[], None]) -> Any:
        self._cancel_call = cancel
        self._status = self.console.status(
            "Waiting for the server and your browser… press Enter when you are done there, "
            "or type c and Enter to cancel"
        )
        self._status.start()
        try:
            with self.cancellable(cancel):
                yield
        finally:
            self._status.stop()
            self._status = None
            self._cancel_call = None

    def _pause_status(self) -> None:
        if self._status is not None:
            self._status.stop()

    def _resume_status(self) -> None:
        if self._status is not None:
            self._status.start()


async def repl(
    client: Any, ui: TerminalUI, server: str, *, signed_in: bool = False
) -> Literal["quit", "logout"]:
    """`tools`, `call NAME {json}`, `logout` (when `signed_in`), `help`, `quit`; says how it ended."""
    console = ui.console
    console.print(
        Text("Connected to ") + shown(server, "bold", lines=False) + Text(". Type help for commands.")
    )
    while True:
        line = await ui.readline("handoff> ")
        if line is None or line.strip() in ("quit", "exit"):
            return "quit"
        words = line.strip().split(maxsplit=2)
        if not words:
            continue
        if words[0] == "help":
            console.print(
                "tools                      list the server's tools\n"
                'call NAME [JSON-ARGUMENTS]  call a tool, e.g. call forecast {"city": "Oslo"}\n'
                "logout                     sign out (revoke and forget this server's tokens) and leave\n"
                "quit                       leave (or Ctrl-D; Ctrl-C cancels a call in progress)"
            )
        elif words[0] == "logout":
            if signed_in:
                return "logout"
            console.print("This server runs as a command here: there is no sign-in to end.")
        elif words[0] == "tools":
            with anyio.CancelScope() as scope, ui.cancellable(scope.cancel):
                listed = (await client.list_tools()).tools
            console.print("[yellow]Cancelled.[/yellow]" if scope.cancelled_caught else tools_view(listed))
        elif words[0] == "call" and len(words) >= 2:
            await _call(client, ui, words[1], words[2] if len(words) > 2 else "{}")
        else:
            console.print(shown(f"Unknown command: {shlex.quote(line.strip())}. Type help."))


async def _call(client: Any, ui: TerminalUI, name: str, raw: str) -> None:
    console = ui.console
    try:
        arguments = json.loads(raw)
        if not isinstance(arguments, dict):
            raise ValueError("the arguments must be a JSON object")
    except ValueError as exc:
        example = '. Example: call forecast {"city": "Oslo"}'
        console.print(Text("Bad arguments: ", style="red") + shown(exc) + Text(example))
        return
    with anyio.CancelScope() as scope, ui.running_call(scope.cancel):
        try:
            result = await client.call_tool(name, arguments)
        except ElicitationFailed as exc:
            console.print(Text("Not run: ", style="yellow") + shown(exc))
            return
        except Exception as exc:  # the server's error or an unusable answer, in one line
            console.print(Text("Error: ", style="red") + shown(one_line(exc, "the server")))
            return
    if scope.cancelled_caught:
        console.print("[yellow]Cancelled.[/yellow]")
        return
    style = "red" if result.is_error else "green"
    for block in result.content:
        console.print(shown(getattr(block, "text", str(block)), style))


async def run_terminal(
    spec: list[str],
    protocol: str,
    *,
    store: bool = True,
    sign_in_timeout: float = 300.0,
    connect_timeout: float = 10.0,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
) -> int:
    """`handoff connect`: sign in if needed (stored sign-ins first), then the command loop.

    Returns the exit code: 0, or 2 when the connection failed (the sign-in, the server could not be
    reached, or it broke off), said in one line.
    """
    from ._connect import connect, is_url
    from ._elicitations import Considered, Elicitations
    from ._signin import SignIn, SignInFailed
    from ._tokens import FileTokens, MemoryTokens

    ui = TerminalUI()
    server = spec[0] if is_url(spec) else " ".join(spec)

    def notify(line: str) -> None:
        ui.console.print(shown(line))

    sign_in = SignIn(FileTokens() if store else MemoryTokens(), timeout=sign_in_timeout, notify=notify)
    elicitations = Elicitations(ui, server=server)

    def told(link: Considered) -> None:
        if link.because == "limit":  # the consent screen never saw it
            limit = f"at most {elicitations.max_prompts} links per {elicitations.per_seconds:g} s"
            declined = f"Declined without asking you, too many links ({limit}): "
            link_text = shown(link.report.href or link.url, lines=False)
            ui.console.print(Text(declined, style="yellow") + link_text)

    elicitations.on_link = told
    ended, code = "quit", 0
    async with ui.reading():
        try:
            async with connect(
                spec,
                elicitations,
                mode=protocol,
                sign_in=sign_in,
                waiter=ui.wait_for_person,
                connect_timeout=connect_timeout,
                max_answer_bytes=max_answer_bytes,
            ) as client:
                name = client.server_info.name if client.server_info else server
                elicitations.server = name
                with ui.interrupts():
                    ended = await repl(client, ui, name, signed_in=is_url(spec))
        except Exception as exc:
            signing_in = any(isinstance(leaf, SignInFailed) for leaf in leaves(exc))
            said = f"Not signed in: {one_line(exc, server)}" if signing_in else one_line(exc, server)
            ui.console.print(shown(said, "red"), soft_wrap=True)  # one line, however narrow the terminal
            code = 2
    if ended == "logout" and code == 0:  # after the connection closed: nothing more goes out with them
        done = await sign_in.sign_out(server)
        if done is None:
            ui.console.print("No sign-in was stored for this server.")
        else:
            ui.console.print(shown(done.describe(), "yellow" if done.problem else "green"))
    return code
