"""`handoff check server URL | -- COMMAND ARGS`: does an MCP server do URL mode elicitation as the spec
asks, in each protocol era it speaks? Signs in (a URL) or starts the command (stdio), finds a gated
tool, runs the era checks, reports each requirement."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from dataclasses import dataclass, replace
from typing import Any

import anyio
import click
import httpx2
from mcp.shared.exceptions import MCPError
from mcp_types import Tool

from .._errors import HandoffError
from .._exact import printable
from ..client._connect import is_url
from ..client._failures import telling_leaf, unreachable, unreadable
from ..client._opener import system_browser
from ..client._signin import SignIn
from ..client._timeouts import MAX_ANSWER_BYTES, AnswerDeadline, answer_bytes
from ..client._tokens import MemoryTokens
from ._report import Outcome, Report, merge
from ._server_authorization import authorization_origins
from ._server_browser import FormBrowser, Leash
from ._server_legacy import check_legacy
from ._server_modern import check_modern
from ._server_person import Person
from ._server_requirements import LEGACY, MODERN, SERVER_REQUIREMENTS
from ._server_stdio import Command, StartFailed
from ._server_target import EraClock, Gated, Target, User
from ._server_tools import MAX_TOOLS, callable_tools, find_gated
from ._server_url import origin, valid_absolute, without_userinfo
from ._server_wire import WireStopped


class CheckFailed(HandoffError):
    """The check could not run at all (the server unreachable, signing in failed)."""


@dataclass
class Options:
    server: str | Command
    """The MCP endpoint's URL, or the command of a server on stdio."""
    token: str | None = None
    user: str | None = None
    password: str | None = None
    login: bool = False
    second_user: str | None = None
    second_password: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    value: str | None = None
    notice_wait: float = 10.0
    settle: float = 1.0
    unattended: float = 6.0
    """Seconds to watch a step nobody opened for a notice that must not come (--unattended-wait)."""
    connect_timeout: float = 10.0
    """Seconds for each connection's handshake (all its answers) and for its first tools/list."""
    max_answer_bytes: int = MAX_ANSWER_BYTES
    era_deadline: float = 120.0
    """Seconds for each era's checks (a person's turn in the browser not counted)."""
    max_tools: int = MAX_TOOLS
    """The most tools called while looking for a gated one."""
    unannotated: bool = False
    """Whether tools without safety hints are called too while looking (--call-unannotated)."""
    any_host: bool = False
    """Whether the checker's browsers open links on third-party hosts too (--open-any-host)."""
    eras: tuple[str, ...] = (LEGACY, MODERN)
    """The eras to check (--era)."""


def _limits(options: Options) -> AnswerDeadline:
    """The bounds of a connection that starts a check: its answers within the connect timeout, all
    together (the time a browser takes to sign in not counted), each up to the byte limit."""
    seconds = options.connect_timeout
    return AnswerDeadline(seconds, handshake=seconds, max_bytes=options.max_answer_bytes)


async def _sign_in(url: str, options: Options, opener: Any, notify: Any) -> str | None:
    """An access token for `url`, got with handoff's OAuth client (PKCE, registration, loopback);
    None when the server asks nobody to sign in."""
    sign_in = SignIn(MemoryTokens(), opener=opener, notify=notify)
    async with (
        sign_in.http(url, transport=_limits(options)) as http,
        http.stream("POST", url, json=_initialize(), headers=_headers()) as response,
    ):
        if response.status_code == 401:
            raise CheckFailed(f"{url} still refuses the checker after signing in (HTTP 401)")
    saved = await sign_in.tokens.load(url)
    return saved.tokens.access_token if saved is not None and saved.tokens is not None else None


def _to_stderr(line: str) -> None:
    print(printable(line), file=sys.stderr)


def _initialize() -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": {"name": "handoff check", "version": "1"},
        },
    }


def _headers() -> dict[str, str]:
    return {"accept": "application/json, text/event-stream", "content-type": "application/json"}


async def _user(
    options: Options, leash: Leash, token: str | None, name: str | None, password: str | None, login: bool
) -> User:
    url = str(options.server)
    if token:
        browser = FormBrowser(name, password, leash) if name and password else None
        return User(token, name, password, browser)
    if name and password:
        browser = FormBrowser(name, password, leash)
        try:
            token = await _sign_in(url, options, browser.opener, lambda _line: None)
            return User(token, name, password, browser)
        except BaseException:
            await browser.aclose()
            raise
    if login:
        return User(await _sign_in(url, options, system_browser, _to_stderr))
    async with (
        httpx2.AsyncClient(transport=_limits(options), timeout=options.connect_timeout) as http,
        http.stream("POST", url, json=_initialize(), headers=_headers()) as response,
    ):
        status = response.status_code  # the answer itself is not needed
    if status == 401:
        raise CheckFailed(
            f"{url} asks to sign in (HTTP 401): pass --token, --user and --password, or --login"
        )
    return User(None)


async def _speaks(target: Target) -> dict[str, str | None]:
    """Which version each era's handshake ends on (None: the era is not spoken)."""
    spoken: dict[str, str | None] = {}
    failed: StartFailed | WireStopped | None = None
    for era, mode in ((LEGACY, "legacy"), (MODERN, "auto")):
        try:
            async with target.connect(mode) as conn:
                spoken[era] = conn.client.session.protocol_version
        except (StartFailed, WireStopped) as exc:
            failed, spoken[era] = exc, None
        except Exception:  # any other failure to connect in an era means it is not spoken
            spoken[era] = None
    if not any(spoken.values()):
        if failed is not None:
            raise CheckFailed(str(failed))
        raise CheckFailed(
            f"could not connect to {target.name} as an MCP server (streamable HTTP) in either era"
        )
    return spoken


STDIO_WHO = "yourself (whoever runs a server on stdio is its user), with the passphrase its pages ask for"
URL_WHO = "the same user you signed in as when the check started"


async def _leash(options: Options) -> Leash:
    """Where the checker's browsers may go: for a URL, its authorization server too (discovered)."""
    authorization = server = None
    if isinstance(options.server, str):
        server = origin(options.server)
        authorization = await authorization_origins(
            options.server, _limits(options), _initialize(), _headers()
        )
    return Leash(
        authorization,
        max_bytes=options.max_answer_bytes,
        server=server,
        any_host=options.any_host,
    )


async def _users(options: Options, leash: Leash) -> tuple[User, User | None]:
    if isinstance(options.server, Command):  # no OAuth on stdio: --password is what its pages ask for
        password = options.password
        return User(None, None, password, FormBrowser(None, password, leash) if password else None), None
    first = await _user(options, leash, options.token, options.user, options.password, options.login)
    if not (options.second_user and options.second_password):
        return first, None
    try:
        second = options.second_user, options.second_password
        return first, await _user(options, leash, None, *second, False)
    except BaseException:
        if first.browser is not None:
            await first.browser.aclose()
        raise


async def run_checks(options: Options, person: Person | None = None) -> Report:
    """Every check against the server at `options.server`, as one report; with --login, `person`
    (by default the one at this terminal) finishes the browser steps."""
    leash = await _leash(options)
    first, second = await _users(options, leash)
    if options.login and first.browser is None and person is None:
        person = Person(STDIO_WHO if isinstance(options.server, Command) else URL_WHO)
    if person is not None:
        person.start()
    try:
        target = _target(options, leash, first, second, person)
        spoken = await _speaks(target)
        parts = [
            await _era(target, LEGACY, spoken[LEGACY], options),
            await _era(target, MODERN, spoken[MODERN], options),
        ]
        return merge("server", target.name, parts)
    finally:
        await _close(first, second)


def _target(
    options: Options, leash: Leash, first: User, second: User | None, person: Person | None
) -> Target:
    return Target(
        options.server,
        first,
        second,
        value=options.value,
        notice_wait=options.notice_wait,
        settle=options.settle,
        unattended=options.unattended,
        person=person if options.login and first.browser is None else None,
        connect_timeout=options.connect_timeout,
        max_answer_bytes=options.max_answer_bytes,
        leash=leash,
    )


async def _close(*users: User | None) -> None:
    for user in users:
        if user is not None and user.browser is not None:
            await user.browser.aclose()


async def plan_check(options: Options) -> list[str]:
    """What a check would do, calling no tool: for each era it speaks, the tools it would call
    (in order) and those it never calls unasked, and where its browsers go."""
    leash = await _leash(options)
    first, second = await _users(options, leash)
    try:
        target = _target(options, leash, first, second, None)
        spoken = await _speaks(target)
        lines = [f"handoff check server --dry-run: {target.name} (no tool is called)"]
        for era, mode in ((LEGACY, "legacy"), (MODERN, MODERN)):
            if era not in options.eras:
                lines.append(f"{era}: not checked (--era)")
                continue
            if spoken[era] != era:
                lines.append(f"{era}: not checked, the server does not speak it")
                continue
            async with target.connect(mode) as conn:
                with anyio.fail_after(options.connect_timeout):
                    listed = (await conn.client.list_tools()).tools
            lines.extend(_plan(era, listed, options))
        lines.append(f"Its browsers open links on {_hosts(leash)}, and follow nothing beyond {leash.bounds}.")
        return lines
    finally:
        await _close(first, second)


def _plan(era: str, listed: list[Tool], options: Options) -> list[str]:
    names = [t.name for t in listed]
    if options.tool is not None:
        if options.tool not in names:
            listed_names = ", ".join(names) or "none"
            return [f"{era}: the server has no tool named {options.tool!r} (it lists: {listed_names})"]
        return [f"{era}: would call {options.tool} (named with --tool), and no other tool"]
    safe, unsafe = callable_tools(listed, unannotated=options.unannotated)
    calls = [t.name for t in safe[: options.max_tools]]
    lines = [
        f"{era}: would call, in this order, until one asks for a browser step: {', '.join(calls) or 'none'}"
    ]
    if len(safe) > options.max_tools:
        lines.append(
            f"  past --max-tools {options.max_tools}: {', '.join(t.name for t in safe[options.max_tools :])}"
        )
    if unsafe:
        lines.append(f"  never called unasked (annotations do not say they are safe): {', '.join(unsafe)}")
    return lines


def _hosts(leash: Leash) -> str:
    if leash.any_host:
        return "any host (--open-any-host)"
    places = [p for p in (leash.server, *sorted(leash.authorization or ())) if p]
    return ", ".join(dict.fromkeys([*places, "loopback"]))


async def _era(target: Target, era: str, version: str | None, options: Options) -> Report:
    """One era's checks, within its deadline; whatever the server does that stops them (an answer
    too large or nested too deeply, a connection lost, a limit reached) is said in the report as
    the reason the checks not reached are skipped."""
    report = Report("server", target.name)
    if era not in options.eras:
        _skip_era(report, era, f"not checked: --era {' '.join(options.eras)} was asked for")
        return report
    if version != era:
        said = f"the server negotiated {version}" if version else "the server does not speak it"
        _skip_era(report, era, said)
        return report
    target.clock = clock = EraClock(options.era_deadline)
    why: str | None = None
    try:
        with clock.start():
            await _era_checks(report, target, era, options)
    except Exception as exc:
        why = _stopped_by(exc)
        if why is None:
            raise
    if clock.scope.cancelled_caught:
        why = clock.reached
    if why is not None:
        _skip_unreported(report, era, why)
        report.stopped.append(f"{era}: {why}")
    else:
        _skip_unreported(report, era, _not_reached(report, era))
    return report


def _not_reached(report: Report, era: str) -> str:
    """Why a check the era's checks ended before is skipped."""
    failed = [r for r in report.results if r.era == era and r.outcome is Outcome.FAIL]
    if failed:
        return f"not reached: {failed[-1].requirement.id} failed, and this check comes after it"
    return "not reached: the era's checks ended before it (see the reasons above)"


def _can_finish(user: User) -> bool:
    """Whether the checker can sign in and finish browser steps as `user` by itself."""
    return user.token is not None and user.browser is not None and user.password is not None


async def _era_checks(
    report: Report, target: Target, era: str, options: Options, *, swapped: bool = False
) -> None:
    modern = era == MODERN
    mode = MODERN if modern else "legacy"
    target.doing("while connecting")
    try:
        async with target.connect(mode) as conn:
            target.doing("while listing the tools")
            found = await find_gated(
                conn,
                options.tool,
                options.arguments,
                modern=modern,
                list_timeout=options.connect_timeout,
                max_tools=options.max_tools,
                unannotated=options.unannotated,
                doing=target.doing,
            )
    except StartFailed as failed:
        _skip_era(report, era, str(failed))
        return
    if options.tool is not None and options.tool not in found.listed:
        listed = ", ".join(found.listed) or "none"
        _skip_era(report, era, f"the server has no tool named {options.tool!r} (it lists: {listed})")
        return
    if found.gated is None:
        kept = [(done_in, tool) for done_in, tool in target.finished_before.items() if tool in found.tried]
        if kept and target.second is not None and not swapped and _can_finish(target.second):
            done_in, tool = kept[0]
            first, second = target.first, target.second
            report.notes.append(
                f"{era} ran as {second.name}: {tool} asked {first.name} no more once its browser step "
                f"was finished in {done_in}, and {first.name} is the other user of this era"
            )
            swapped_target = replace(target, first=second, second=first)
            await _era_checks(report, swapped_target, era, options, swapped=True)
            return
        why = found.none_found(options.max_tools)
        if kept:
            done_in, tool = kept[0]
            why = (
                f"{tool} asked for a browser step in {done_in} and asks no more, as the server keeps what "
                f"was finished there; to check {era} too, give a second user (--second-user and "
                "--second-password: this era then runs as that user), name a tool that asks every time "
                f"(--tool), or check {era} alone for a user who has not finished it (--era {era})"
            )
        _skip_era(report, era, why)
        return
    gated: Gated = found.gated
    if modern:
        await check_modern(report, target, gated)
    else:
        await check_legacy(report, target, gated, found.asked)


_STOPPING = (
    StartFailed,
    WireStopped,
    MCPError,
    httpx2.HTTPError,
    httpx2.StreamError,
    ValueError,  # pydantic's ValidationError is one
    RecursionError,
    TimeoutError,
)
"""What the server under check can make happen inside an era's checks."""


def _stopped_by(exc: Exception) -> str | None:
    """Why an era's checks stopped, in one line; None for an error that is not the server's doing."""
    leaf = telling_leaf(exc)
    if not isinstance(leaf, _STOPPING):
        return None
    if isinstance(leaf, MCPError) and (unread := unreadable(leaf)) is not None:
        return f"the check stopped: the server sent an answer that could not be read ({unread})"
    if isinstance(leaf, StartFailed | WireStopped):
        return f"the check stopped: {leaf}"
    if isinstance(leaf, RecursionError):
        return "the check stopped: an answer was nested too deeply to read"
    if isinstance(leaf, TimeoutError):
        return "the check stopped: an answer did not come in time"
    return f"the check stopped: {type(leaf).__name__}: {_first_line(leaf)}"


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:500] if str(exc) else "no message"


_PREFIX = {LEGACY: "legacy.", MODERN: "modern."}


def _skip_era(report: Report, era: str, reason: str) -> None:
    """Skip, saying `reason`, every check of the era (its own, the URL's and the page's)."""
    _skip_unreported(report, era, reason)


def _skip_unreported(report: Report, era: str, reason: str) -> None:
    """Skip, saying `reason`, what the era's checks did not get to (theirs and the URL's and page's)."""
    reported = {r.requirement.id for r in report.results}
    for requirement in SERVER_REQUIREMENTS:
        if requirement.id.startswith((_PREFIX[era], "url.", "page.")) and requirement.id not in reported:
            report.skipped(requirement, reason, era)


STDIO_ONE_USER = "a server on stdio has one user, whoever runs it"


@click.command("server")
@click.argument("server_spec", metavar="URL | -- COMMAND [ARGS]...", nargs=-1, required=True)
@click.option("--token", envvar="HANDOFF_CHECK_TOKEN", help="A bearer token for the MCP endpoint (URL only).")
@click.option(
    "--user", help="Sign in as this user on the server's HTML sign-in form (a scripted browser; URL only)."
)
@click.option(
    "--password",
    envvar="HANDOFF_CHECK_PASSWORD",
    help="The --user's password; for a server on stdio, the passphrase (or password) its pages ask for.",
)
@click.option(
    "--login",
    is_flag=True,
    help="Sign in in your own browser (URL); you finish browser steps when asked, answering with Enter.",
)
@click.option("--second-user", help="A second user, for the checks that another user is refused (URL only).")
@click.option("--second-password", envvar="HANDOFF_CHECK_SECOND_PASSWORD", help="The second user's password.")
@click.option("--tool", help="The gated tool to use (else the first tool that asks for a browser step).")
@click.option("--args", "args_json", help="The --tool's arguments, a JSON object.")
@click.option("--value", help="The throwaway value to enter in a secret form (else a random test value).")
@click.option(
    "--notice-wait", type=float, default=10.0, show_default=True, help="Seconds to wait for a notice."
)
@click.option(
    "--unattended-wait",
    type=click.FloatRange(min=0),
    default=6.0,
    show_default=True,
    help="Seconds to leave a 2025-11-25 step alone before anyone opens it, watching that it does not "
    "complete by itself (0: not watched).",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds for each connection's handshake, all its answers together, and for its first tool list.",
)
@click.option(
    "--max-answer-mib",
    type=click.FloatRange(min=0, min_open=True),
    default=16.0,
    show_default=True,
    help="The most read of one answer (a page, an MCP answer), in MiB; a larger one stops the check there.",
)
@click.option(
    "--era-deadline",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    help="Seconds for each era's checks (your turns in the browser with --login not counted); "
    "what is not reached by then is skipped, saying so.",
)
@click.option(
    "--max-tools",
    type=click.IntRange(min=1),
    default=MAX_TOOLS,
    show_default=True,
    help="The most tools called while looking for a gated one (each has 10 s to answer).",
)
@click.option(
    "--era",
    "eras",
    type=click.Choice([LEGACY, MODERN]),
    multiple=True,
    help="Check this protocol era only (repeat for both; both by default).",
)
@click.option(
    "--call-unannotated",
    is_flag=True,
    help="While looking for a gated tool, also call tools that have no readOnlyHint or destructiveHint "
    "(MCP's defaults make them destructive; only tools annotated read-only or not destructive are "
    "called otherwise).",
)
@click.option(
    "--open-any-host",
    is_flag=True,
    help="Let the checker's browsers open links the server hands out on third-party hosts too (else "
    "only on the server's own origin, its authorization server's, or loopback).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Sign in and list the tools, then say which tools the check would call and where its "
    "browsers would go; call nothing.",
)
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--debug", is_flag=True, help="When the check cannot run, print the traceback too.")
@click.pass_context
def server(
    ctx: click.Context,
    server_spec: tuple[str, ...],
    token: str | None,
    user: str | None,
    password: str | None,
    login: bool,
    second_user: str | None,
    second_password: str | None,
    tool: str | None,
    args_json: str | None,
    value: str | None,
    notice_wait: float,
    unattended_wait: float,
    connect_timeout: float,
    max_answer_mib: float,
    era_deadline: float,
    max_tools: int,
    eras: tuple[str, ...],
    call_unannotated: bool,
    open_any_host: bool,
    dry_run: bool,
    output: str,
    debug: bool,
) -> None:
    """Check an MCP server for URL mode elicitation: the one at URL (its streamable HTTP endpoint),
    or the one COMMAND runs over stdio (`handoff check server -- python server.py`).

    In each era it speaks (2025-11-25, 2026-07-28) the checker calls a gated tool, checks what the
    server sends, opens the URL as an anonymous browser and as a second user, finishes the step
    (a scripted browser with --user/--password, you with --login), and checks the notice, the retry
    and the requestState.

    Over stdio there is no OAuth: the server's user is whoever runs it, so --token, --user and a
    second user do not apply, and the checks that need a second user are skipped. Each session is
    a process of COMMAND (started with your environment, less HANDOFF_CHECK_*); the check that a
    notice reaches no other session starts a second process beside the first, and is skipped with
    the reason when the server cannot run twice. The URLs it hands out and the pages behind them are
    checked as for any server: give --password for the passphrase its pages ask for (a handoff
    server with LocalIdentity), or --login to finish the steps yourself.

    With --login the checker never opens a link the server handed out: it shows the link and what
    to do; you open it, finish the step and press Enter (read from standard input: a pipe will do).

    What it calls and opens: unless --tool names one, only tools annotated `readOnlyHint: true` or
    `destructiveHint: false` (with --call-unannotated, also tools with neither hint), at most
    --max-tools, read-only first; its browsers open links on the server's own origin, its
    authorization server's or loopback (--open-any-host for others), follow no redirect and post no
    form beyond those, and type --user/--password only into the authorization server's sign-in form.
    --dry-run says what it would call, and calls nothing.

    Exit 0 when no MUST failed, 1 when one did, 2 when the check could not run (or stopped before
    its end), 3 when it ran and tested nothing (every MUST skipped, each saying why)."""
    stdio = not is_url(server_spec)
    if not stdio and (wrong := valid_absolute(server_spec[0])) is not None:
        raise click.UsageError(f"{server_spec[0]} is not a URL of an MCP endpoint: {wrong}")
    if stdio and server_spec[0].startswith(("http://", "https://")):
        raise click.UsageError("give one URL, or a command to run over stdio after --")
    if stdio:
        typed = click.core.ParameterSource.COMMANDLINE
        if token is not None and ctx.get_parameter_source("token") is typed:
            raise click.UsageError(
                "--token does not apply to a server on stdio: there is no OAuth over stdio "
                f"({STDIO_ONE_USER})"
            )
        if user is not None:
            raise click.UsageError(
                f"--user does not apply to a server on stdio ({STDIO_ONE_USER}); "
                "give --password for the passphrase its pages ask for"
            )
        if second_user is not None or (
            second_password is not None and ctx.get_parameter_source("second_password") is typed
        ):
            raise click.UsageError(
                f"--second-user does not apply to a server on stdio ({STDIO_ONE_USER}): "
                "the checks that need a second user are skipped"
            )
        token = second_password = None  # set in the environment for checks of URLs: unused here
    else:
        if (user is None) != (password is None):
            raise click.UsageError("--user and --password go together")
        if (second_user is None) != (second_password is None):
            raise click.UsageError("--second-user and --second-password go together")
    if args_json is not None and tool is None:
        raise click.UsageError("--args needs --tool")
    arguments: dict[str, Any] | None = None
    if args_json is not None:
        try:
            arguments = json.loads(args_json)
        except json.JSONDecodeError as exc:
            raise click.UsageError(f"--args is not JSON: {exc}") from None
        if not isinstance(arguments, dict):
            raise click.UsageError("--args must be a JSON object")
    options = Options(
        Command(server_spec) if stdio else server_spec[0],
        token,
        user,
        password,
        login,
        second_user,
        second_password,
        tool,
        arguments,
        value,
        notice_wait,
        unattended=unattended_wait,
        connect_timeout=connect_timeout,
        max_answer_bytes=answer_bytes(max_answer_mib),
        era_deadline=era_deadline,
        max_tools=max_tools,
        unannotated=call_unannotated,
        any_host=open_any_host,
        eras=eras or (LEGACY, MODERN),
    )
    if not debug:
        _quiet_sdk_logs()
    try:
        if dry_run:
            for line in anyio.run(plan_check, options):
                click.echo(printable(line))
            return
        report = anyio.run(run_checks, options)
    except Exception as exc:  # the command's boundary: one line, and exit 2
        if debug:
            traceback.print_exception(exc)
        click.echo(printable(f"handoff check server: {_one_line(exc, options)}"), err=True)
        sys.exit(2)
    click.echo(report.as_json() if output == "json" else report.as_table())
    sys.exit(report.exit_code)


def _one_line(exc: Exception, options: Options) -> str:
    """Why the check could not run, in one line."""
    shown = without_userinfo(options.server) if isinstance(options.server, str) else str(options.server)
    leaf = telling_leaf(exc)
    if isinstance(leaf, HandoffError | MCPError):
        return _first_line(leaf)
    said = unreachable(exc, shown, connect_timeout=options.connect_timeout)
    if said is not None:
        return str(said)
    if isinstance(leaf, httpx2.HTTPError):
        return f"talking to {shown} failed: {_first_line(leaf)}"
    return f"unexpected {type(leaf).__name__}: {_first_line(leaf)} (run again with --debug to see where)"


def _quiet_sdk_logs() -> None:
    """The SDK logs what the server got wrong (an answer it could not parse, say) with a traceback;
    the report says it in a line instead."""
    sdk = logging.getLogger("mcp")
    sdk.addHandler(logging.NullHandler())
    sdk.propagate = False
