"""`handoff check server URL | -- COMMAND ARGS`: does an MCP server do URL mode elicitation as the spec
asks, in each protocol era it speaks? Signs in (a URL) or starts the command (stdio), finds a gated
tool, runs the era checks, reports each requirement."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import anyio
import click
import httpx2
from mcp.shared.exceptions import MCPError

from .._errors import HandoffError
from .._exact import printable
from ..client._connect import is_url
from ..client._opener import system_browser
from ..client._signin import SignIn, SignInFailed
from ..client._tokens import MemoryTokens
from ._report import Report, merge
from ._server_browser import FormBrowser
from ._server_legacy import check_legacy
from ._server_modern import check_modern
from ._server_person import Person
from ._server_requirements import LEGACY, MODERN, SERVER_REQUIREMENTS
from ._server_stdio import Command, StartFailed
from ._server_target import Gated, Target, User
from ._server_tools import find_gated
from ._server_url import valid_absolute, without_userinfo


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


async def _sign_in(url: str, opener: Any, notify: Any) -> str | None:
    """An access token for `url`, got with handoff's OAuth client (PKCE, registration, loopback);
    None when the server asks nobody to sign in."""
    sign_in = SignIn(MemoryTokens(), opener=opener, notify=notify)
    async with sign_in.http(url) as http:
        response = await http.post(url, json=_initialize(), headers=_headers())
        if response.status_code == 401:
            raise CheckFailed(f"{url} still refuses the checker after signing in (HTTP 401)")
    saved = await sign_in.tokens.load(url)
    return saved.tokens.access_token if saved is not None and saved.tokens is not None else None


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


async def _user(url: str, token: str | None, name: str | None, password: str | None, login: bool) -> User:
    if token:
        browser = FormBrowser(name, password) if name and password else None
        return User(token, name, password, browser)
    if name and password:
        browser = FormBrowser(name, password)
        try:
            return User(await _sign_in(url, browser.opener, lambda _line: None), name, password, browser)
        except BaseException:
            await browser.aclose()
            raise
    if login:
        return User(await _sign_in(url, system_browser, lambda line: print(printable(line), file=sys.stderr)))
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(url, json=_initialize(), headers=_headers())
    if response.status_code == 401:
        raise CheckFailed(
            f"{url} asks to sign in (HTTP 401): pass --token, --user and --password, or --login"
        )
    return User(None)


async def _speaks(target: Target) -> dict[str, str | None]:
    """Which version each era's handshake ends on (None: the era is not spoken)."""
    spoken: dict[str, str | None] = {}
    failed: StartFailed | None = None
    for era, mode in ((LEGACY, "legacy"), (MODERN, "auto")):
        try:
            async with target.connect(mode) as conn:
                spoken[era] = conn.client.session.protocol_version
        except StartFailed as exc:
            failed, spoken[era] = exc, None
        except Exception:  # any failure to connect in an era means it is not spoken
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


async def _users(options: Options) -> tuple[User, User | None]:
    if isinstance(options.server, Command):  # no OAuth on stdio: --password is what its pages ask for
        password = options.password
        return User(None, None, password, FormBrowser(None, password) if password else None), None
    url = options.server
    first = await _user(url, options.token, options.user, options.password, options.login)
    if not (options.second_user and options.second_password):
        return first, None
    try:
        return first, await _user(url, None, options.second_user, options.second_password, False)
    except BaseException:
        if first.browser is not None:
            await first.browser.aclose()
        raise


async def run_checks(options: Options, person: Person | None = None) -> Report:
    """Every check against the server at `options.server`, as one report; with --login, `person`
    (by default the one at this terminal) finishes the browser steps."""
    first, second = await _users(options)
    if options.login and first.browser is None and person is None:
        person = Person(STDIO_WHO if isinstance(options.server, Command) else URL_WHO)
    if person is not None:
        person.start()
    try:
        target = Target(
            options.server,
            first,
            second,
            value=options.value,
            notice_wait=options.notice_wait,
            settle=options.settle,
            person=person if options.login and first.browser is None else None,
        )
        spoken = await _speaks(target)
        parts = [
            await _era(target, LEGACY, spoken[LEGACY], options),
            await _era(target, MODERN, spoken[MODERN], options),
        ]
        return merge("server", target.name, parts)
    finally:
        for user in (first, second):
            if user is not None and user.browser is not None:
                await user.browser.aclose()


async def _era(target: Target, era: str, version: str | None, options: Options) -> Report:
    report = Report("server", target.name)
    if version != era:
        said = f"the server negotiated {version}" if version else "the server does not speak it"
        _skip_era(report, era, said)
        return report
    modern = era == MODERN
    mode = MODERN if modern else "legacy"
    try:
        async with target.connect(mode) as conn:
            found = await find_gated(conn, options.tool, options.arguments, modern=modern)
    except StartFailed as failed:
        _skip_era(report, era, str(failed))
        return report
    if options.tool is not None and options.tool not in found.listed:
        listed = ", ".join(found.listed) or "none"
        _skip_era(report, era, f"the server has no tool named {options.tool!r} (it lists: {listed})")
        return report
    if found.gated is None:
        tried = ", ".join(found.tried) or "none"
        _skip_era(report, era, f"no tool asked for a browser step (tried: {tried}); name one with --tool")
        return report
    gated: Gated = found.gated
    try:
        if modern:
            await check_modern(report, target, gated)
        else:
            await check_legacy(report, target, gated, found.asked)
    except (StartFailed, MCPError, httpx2.HTTPError, ValueError) as exc:  # ValidationError is a ValueError
        reported = {r.requirement.id for r in report.results}
        why = str(exc) if isinstance(exc, StartFailed) else f"{type(exc).__name__}: {_first_line(exc)}"
        for requirement in SERVER_REQUIREMENTS:
            if requirement.id.startswith(_PREFIX[era]) and requirement.id not in reported:
                report.skipped(requirement, f"the check stopped: {why}", era)
    return report


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else "no message"


_PREFIX = {LEGACY: "legacy.", MODERN: "modern."}


def _skip_era(report: Report, era: str, reason: str) -> None:
    for requirement in SERVER_REQUIREMENTS:
        if requirement.id.startswith(_PREFIX[era]):
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
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True)
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
    output: str,
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

    Exit 0 when no MUST failed, 1 when one did, 2 when the check could not run."""
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
    )
    try:
        report = anyio.run(run_checks, options)
    except httpx2.HTTPError as exc:
        shown = without_userinfo(options.server) if isinstance(options.server, str) else options.server
        click.echo(printable(f"handoff check server: talking to {shown} failed: {exc}"), err=True)
        sys.exit(2)
    except (HandoffError, SignInFailed, MCPError) as exc:
        click.echo(printable(f"handoff check server: {exc}"), err=True)
        sys.exit(2)
    click.echo(report.as_json() if output == "json" else report.as_table())
    sys.exit(report.exit_code)
