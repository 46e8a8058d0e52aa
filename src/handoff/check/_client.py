"""`handoff check client`: scripted MCP servers (both eras, well-behaved and hostile) test a client.

Each scenario is a real MCP server on loopback (Streamable HTTP at `/<era>/<scenario>/mcp`, one tool,
`check`) whose tool answers with URL elicitations. With `-- COMMAND`, the client is run once per
scenario against its URL, with `BROWSER` naming a stand-in that tells the checker what the client
opens; with `--serve PORT`, the checker serves every scenario and waits for a client a person points
at them. Then it scores what arrived: one result per requirement and era.
"""

from __future__ import annotations

import shlex
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import click

from .._command_line import displayed
from .._exact import printable
from ..client import check_url
from ._client_requirements import LEGACY, MODERN
from ._client_runner import Observed, Person, browser_command, run
from ._client_scenarios import NAMES, Scenario, Setting, scenarios
from ._client_server import TOOL, Hub
from ._client_verdicts import score
from ._report import Report, merge

BLOCKED_CANDIDATES = (
    "javascript:alert(document.cookie)",
    "data:text/html;base64,PGgxPlNpZ24gaW48L2gxPg==",
    "file:///etc/passwd",
)
LOOKALIKE_CANDIDATES = ("https://xn--pypal-4ve.com/signin", "https://xn--80ak6aa92e.com/account")


def examples() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Links handoff's own link check blocks, and look-alikes it warns about, to test a client with."""
    blocked = tuple(u for u in BLOCKED_CANDIDATES if check_url(u).verdict == "block")
    lookalikes = tuple(
        u
        for u in LOOKALIKE_CANDIDATES
        if check_url(u).verdict != "ok" and any("looks like" in r.text for r in check_url(u).reasons)
    )
    return blocked, lookalikes


@dataclass
class Options:
    eras: tuple[str, ...] = (LEGACY, MODERN)
    only: tuple[str, ...] = ()
    limit: float = 20.0
    grace: float = 0.5
    person: Person | None = None


def _setting(hub: Hub, options: Options) -> Setting:
    blocked, lookalikes = examples()
    person = options.person is not None and options.person.plays
    return Setting(hub, options.limit, options.grace, person, blocked, lookalikes)


def _report(
    target: str, eras: tuple[str, ...], runs: list[tuple[Scenario, Observed | None]], hub: Hub
) -> Report:
    parts = []
    for era in eras:
        part = Report("client", target)
        score(part, era, [(s, o) for s, o in runs if s.era == era], hub)
        parts.append(part)
    return merge("client", target, parts)


async def check_command(command: Sequence[str], options: Options, hub: Hub | None = None) -> Report:
    """Run `command` once per scenario and score what it did (on `hub`, which keeps what was said)."""
    hub = hub or Hub()
    person = options.person or Person()
    runs: list[tuple[Scenario, Observed | None]] = []
    async with hub.serving():
        for scenario in scenarios(_setting(hub, options), options.eras, options.only):
            hub.add(scenario)
            runs.append((scenario, await run(command, scenario, person, hub.url(scenario))))
    return _report(displayed(command), options.eras, runs, hub)


async def check_served(port: int, options: Options, wait: float) -> Report:
    """Serve every scenario on `port` until each was played, `wait` seconds passed, or Ctrl-C."""
    hub = Hub()
    async with hub.serving(port):
        chosen = scenarios(_setting(hub, options), options.eras, options.only)
        for scenario in chosen:
            hub.add(scenario)
        lines = [
            f"handoff check client is serving {len(chosen)} scripted MCP servers on {hub.origin}.",
            f"Point your client at each URL below in turn and call its tool `{TOOL}` (no arguments);",
            "accept the links it asks you to open. To let the checker see what your client opens,",
            "start it with",
            f"  BROWSER={shlex.quote(browser_command())} HANDOFF_CHECK_BROWSER_REPORT={hub.report_url}",
            f"It scores when every scenario was played, after {wait:g} s, or on Ctrl-C.",
            "",
        ]
        lines += [f"  {hub.url(s)}\n      {s.plays}" for s in chosen]
        click.echo("\n".join(lines), err=True)
        with anyio.move_on_after(wait):
            async with anyio.create_task_group() as tg:

                async def interrupted() -> None:
                    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                        async for _ in signals:
                            break
                    tg.cancel_scope.cancel()

                async def played() -> None:
                    for scenario in chosen:
                        await scenario.trace.finished.wait()
                    tg.cancel_scope.cancel()

                tg.start_soon(interrupted)
                tg.start_soon(played)
    return _report(f"clients served on {hub.origin}", options.eras, [(s, None) for s in chosen], hub)


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError behind `exc` (a client that cannot start, a port in use), even from a task group."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        return next((found for e in exc.exceptions if (found := _os_error(e)) is not None), None)
    return None


@click.command(
    "client",
    context_settings={"allow_interspersed_args": False},
)
@click.argument("command", nargs=-1, metavar="[-- COMMAND [ARGS]...]")
@click.option("--serve", "port", type=int, help="Serve the scripted servers on this loopback port instead.")
@click.option(
    "--era",
    type=click.Choice(["both", LEGACY, MODERN]),
    default="both",
    show_default=True,
    help="The protocol era(s) to check.",
)
@click.option("--only", multiple=True, type=click.Choice(NAMES), help="Only these scenarios (repeatable).")
@click.option(
    "--accept-with",
    metavar="TEXT",
    help="What to type at the client's consent prompt to accept a link (with --decline-with: the "
    "checker plays the person, so consent can be observed).",
)
@click.option(
    "--decline-with", metavar="TEXT", help="What to type at the client's consent prompt to decline."
)
@click.option(
    "--done-with",
    metavar="TEXT",
    help="What to type to tell the client the browser step is done, for a client that lets the person "
    "retry by hand (the checker says it when the client still waits after its link opened and no "
    "notice is coming; '' is Enter).",
)
@click.option(
    "--type",
    "first",
    multiple=True,
    metavar="LINE",
    help="A line typed at the client once it starts (repeatable), e.g. a command that calls the tool "
    "in an interactive client; its input then ends when the scenario is over.",
)
@click.option(
    "--wait-limit",
    default=20.0,
    show_default=True,
    help="Seconds the client gets for one step (to answer, to open a link, to give up waiting).",
)
@click.option(
    "--grace",
    default=0.5,
    show_default=True,
    help="Seconds the checker watches for what must not happen (a retry on a bogus notice).",
)
@click.option("--wait", default=600.0, show_default=True, help="With --serve: seconds to serve at most.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def client(
    command: tuple[str, ...],
    port: int | None,
    era: str,
    only: tuple[str, ...],
    accept_with: str | None,
    decline_with: str | None,
    done_with: str | None,
    first: tuple[str, ...],
    wait_limit: float,
    grace: float,
    wait: float,
    fmt: str,
) -> None:
    """Check an MCP client's URL mode elicitation against scripted servers (both eras, some hostile).

    handoff check client -- COMMAND [ARGS]... runs COMMAND once per scenario; {url} in its arguments
    becomes the scenario's MCP URL (else the URL is its last argument; it is in $HANDOFF_CHECK_URL
    too), and $BROWSER names a stand-in that tells the checker what the client opens. The client
    should call the server's tool `check` with no arguments and do what it does with the links, e.g.

        handoff check client -- handoff call {url} check --accept warn --timeout 5

    With --serve PORT the checker serves the scenarios and waits for a client you point at them.
    Exit 0 when no MUST failed, 1 when one did, 2 when the check could not run."""
    if (port is None) == (not command):
        raise click.UsageError("give either -- COMMAND [ARGS]... (the client to run) or --serve PORT")
    if (accept_with is None) != (decline_with is None):
        raise click.UsageError("--accept-with and --decline-with go together: the checker needs both answers")
    options = Options(
        eras=(LEGACY, MODERN) if era == "both" else (era,),
        only=only,
        limit=wait_limit,
        grace=grace,
        person=Person(accept_with, decline_with, first, done_with),
    )
    try:
        if port is not None:
            report = anyio.run(check_served, port, options, wait)
        else:
            report = anyio.run(check_command, list(command), options)
    except (OSError, ExceptionGroup) as exc:
        cause = _os_error(exc)
        if cause is None:
            raise
        click.echo(printable(f"handoff check client: {cause}"), err=True)
        sys.exit(2)
    click.echo(report.as_json() if fmt == "json" else report.as_table())
    sys.exit(report.exit_code)
