"""`handoff call`: one tool call for scripts, with an explicit policy instead of questions.

Every link a server sends is described on stderr (the check's verdict, each finding, and what was
done with it, and why); every failure that is not the tool's own error ends in one line and exit 2.
"""

from __future__ import annotations

import json
import shlex
import traceback
from typing import Any, Literal

import click

from .._errors import leaves
from .._exact import printable
from ._connect import connect
from ._consent import Decision, PolicyConsent
from ._elicitations import Considered, Elicitations
from ._failures import one_line
from ._opener import open_in_browser, print_only, system_browser
from ._signin import SignIn, SignInFailed
from ._timeouts import MAX_ANSWER_BYTES
from ._tokens import FileTokens, MemoryTokens

Policy = Literal["ok", "warn", "none"]


async def run_call(
    server: str,
    tool: str,
    arguments: dict[str, Any],
    fmt: str,
    accept: str,
    print_url: bool,
    timeout: float,
    protocol: str,
    *,
    store: bool = True,
    sign_in_timeout: float = 300.0,
    connect_timeout: float = 10.0,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
    debug: bool = False,
) -> int:
    """Exit code: 0 the tool ran, 1 it returned an error, 2 it did not run or its answer is unusable."""
    spec = [server] if server.startswith(("http://", "https://")) else shlex.split(server)
    policy: Policy = accept  # type: ignore[assignment]
    elicitations = Elicitations(PolicyConsent(policy), server=server)
    links = _Links(policy, print_url, elicitations)
    elicitations.on_link = links.say
    elicitations.opener = links.open
    opener = print_only if print_url else system_browser
    sign_in = SignIn(FileTokens() if store else MemoryTokens(), opener=opener, timeout=sign_in_timeout)
    result: Any = None
    try:
        async with connect(
            spec,
            elicitations,
            mode=protocol,
            sign_in=sign_in,
            wait_timeout=timeout,
            connect_timeout=connect_timeout,
            max_answer_bytes=max_answer_bytes,
        ) as client:
            result = await client.call_tool(tool, arguments)
    except Exception as exc:
        if debug:
            _print_traceback(exc)
        if result is None:
            _fail(exc, server, fmt, links)
            return 2
        click.echo(
            printable(f"handoff: the call ran, then closing the connection failed: {one_line(exc, server)}"),
            err=True,
        )
    if fmt == "json":
        answer = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        click.echo(json.dumps({**answer, "links": links.seen} if links.seen else answer))
    else:
        for block in result.content:
            click.echo(printable(getattr(block, "text", str(block))))
    return 1 if result.is_error else 0


def _print_traceback(exc: BaseException) -> None:
    """The traceback, and that of the error it was raised in place of (one-line errors hide it)."""
    shown: BaseException | None = exc
    while shown is not None:
        traceback.print_exception(shown)
        shown = shown.__context__ if shown.__suppress_context__ else None


def _fail(exc: Exception, server: str, fmt: str, links: _Links) -> None:
    line = one_line(exc, server)
    signing_in = any(isinstance(leaf, SignInFailed) for leaf in leaves(exc))
    if fmt == "json":
        data: dict[str, Any] = {"error": f"not signed in: {line}" if signing_in else line, "ran": False}
        click.echo(json.dumps({**data, "links": links.seen} if links.seen else data))
    else:
        click.echo(printable(f"Not signed in: {line}" if signing_in else f"Not run: {line}"), err=True)


class _Links:
    """Says on stderr what became of each link, and keeps the same for `--format json`.

    A link's check and findings are said when it arrives; what was done with it, once that is
    known: at once for a link declined, after the attempt for one accepted (opened in the browser,
    or printed when `--print-url` asks or no browser could be started)."""

    def __init__(self, policy: Policy, print_url: bool, elicitations: Elicitations) -> None:
        self.policy = policy
        self.print_url = print_url
        self.limit = f"at most {elicitations.max_prompts} links per {elicitations.per_seconds:g} s"
        self.seen: list[dict[str, Any]] = []
        self._accepted: dict[str, dict[str, Any]] = {}
        """The links accepted and not opened yet, by the URL the opener is given."""

    def say(self, link: Considered) -> None:
        lines = [f"{link.server} sent a link, saying: {link.message or '(nothing)'}", link.report.as_text()]
        check = link.report.as_dict()
        entry: dict[str, Any] = {"message": link.message, "check": check}
        self.seen.append(entry)
        if link.decision is Decision.ACCEPT:
            such = "links with nothing suspicious" if link.report.verdict == "ok" else "links with warnings"
            entry.update(action="accepted", why=f"--accept {self.policy} accepts {such}")
            self._accepted[link.report.href or link.url] = entry
        else:
            action, why = self._declined(link)
            entry.update(action=action, why=why)
            lines.append(f"  -> {action}: {why}")
        click.echo(printable("\n".join(lines)), err=True)

    async def open(self, url: str) -> None:
        """The opener of accepted links: the browser, unless `--print-url`; printed when no browser
        could be started. Says which, after the attempt."""
        entry = self._accepted.pop(url)
        if not self.print_url and await open_in_browser(url):
            entry.update(action="opened")
            click.echo(printable(f"  -> opened in your browser: {entry['why']}"), err=True)
            return
        because = (
            "and --print-url prints them instead of opening them"
            if self.print_url
            else "but no browser could be started"
        )
        entry.update(action="printed", why=f"{entry['why']}, {because}")
        shown = printable(url, lines=False)
        said = (
            f"  -> printed below for you to open: {entry['why']}\nOpen this link in your browser:\n  {shown}"
        )
        click.echo(said, err=True)

    def _declined(self, link: Considered) -> tuple[str, str]:
        """What was done with a link not accepted (`declined`, `cancelled`), and why."""
        if link.decision is Decision.CANCEL:
            return "cancelled", "the consent was cancelled"
        if link.because == "blocked":
            return "declined", "a blocked link is never opened"
        if link.because == "limit":
            return "declined", f"too many links from this server ({self.limit}); declined unseen"
        if self.policy == "none":
            return "declined", "--accept none accepts no links"
        return "declined", (
            "--accept ok accepts only links with nothing suspicious; --accept warn would accept one with "
            "warnings"
        )
