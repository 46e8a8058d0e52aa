"""The `handoff` command."""

from __future__ import annotations

import functools
import json
import logging
import socket
import sqlite3
import sys
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
import click

from . import __version__
from ._command import DISTRIBUTION, command, install
from ._errors import ConfigError, HandoffError, expected, leaves
from ._exact import printable
from .check._cli import check
from .client._timeouts import ANSWER_TIMEOUT, answer_bytes

if TYPE_CHECKING:
    from ._sql import Database
    from .vault import Keyring, Rotation, SqlVault

T = TypeVar("T")

_POSTGRES = ("postgresql://", "postgres://")
DATABASE_ENV = "HANDOFF_DATABASE_URL"  # as handoff.store reads it (imported lazily, like the rest)


_DEBUG = "handoff.debug"
"""Where `--debug` is noted in the context's `meta` (shared by every command of one run)."""
_CLIENT_COMMANDS = ("connect", "call", "check", "bridge")
"""The commands that run the SDK's client, whose logs would print tracebacks for ordinary failures."""


class _Boundary(click.Group):
    """The `handoff` command group, and the one place where a command's expected failure is said:
    an error handoff raised on purpose, however deep in exception groups, ends in one line (`Error:
    ...`) and exit 1; `--debug` prints the traceback first. Any other exception is a fault, and keeps
    its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            found = expected(exc)
            if found is None:
                clicks = [leaf for leaf in leaves(exc) if isinstance(leaf, click.ClickException)]
                if clicks and clicks[0] is not exc:
                    raise clicks[0] from None  # a command's own one-line error, raised in a task group
                raise
            if ctx.meta.get(_DEBUG):
                traceback.print_exception(exc)
            raise click.ClickException(printable(str(found).strip())) from None


@click.group(cls=_Boundary)
@click.version_option(__version__, message=f"%(prog)s %(version)s ({DISTRIBUTION})")
@click.option(
    "--debug",
    is_flag=True,
    envvar="HANDOFF_DEBUG",
    help="On a failure, print the traceback too (and the MCP SDK's own log).",
)
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """handoff: URL mode elicitation for MCP, done safely."""
    ctx.meta[_DEBUG] = debug
    if ctx.invoked_subcommand in _CLIENT_COMMANDS and not debug:
        _quiet_sdk_logs()


main.add_command(check)


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback for the demo)."
)
@click.option("--port", default=8377, show_default=True, type=int)
@click.option(
    "--data-dir",
    default="handoff-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the demo keeps its SQLite file and dev keys (replicas given one folder share the keys).",
)
@click.option(
    "--database",
    "database_url",
    metavar="URL",
    envvar=DATABASE_ENV,
    show_envvar=True,
    help="Keep everything in this PostgreSQL database (postgresql://…) instead of SQLite: what several "
    "replicas share.",
)
@click.option(
    "--public-url",
    metavar="URL",
    help="The URL clients and browsers use, when it is not http://HOST:PORT (a load balancer's, in front "
    "of replicas).",
)
@click.option(
    "--replicas",
    default=1,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Run this many server processes behind haproxy on --port (needs --database).",
)
@click.option(
    "--framework",
    type=click.Choice(["sdk", "fastmcp"]),
    default="sdk",
    show_default=True,
    help="What the demo server is written with: the mcp SDK's MCPServer, or FastMCP (mcp-handoff[fastmcp]).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve the metrics (Prometheus' format) on 127.0.0.1:PORT (default: a free port, named on start).",
)
@click.option("--walkthrough", is_flag=True, help="Run the scripted story end to end instead of serving.")
def demo(
    host: str,
    port: int,
    data_dir: str,
    database_url: str | None,
    public_url: str | None,
    replicas: int,
    framework: Literal["sdk", "fastmcp"],
    metrics_port: int | None,
    walkthrough: bool,
) -> None:
    """Serve the demo MCP server, or run the scripted walkthrough."""
    if framework == "fastmcp":
        try:
            import fastmcp  # noqa: F401
        except ImportError:
            raise click.ClickException(f"the FastMCP demo needs FastMCP: {install('fastmcp')}") from None
    if database_url and not database_url.startswith(_POSTGRES):
        raise click.UsageError("--database takes a postgresql:// URL (the SQLite file lives in --data-dir)")
    if replicas > 1 and not database_url:
        raise click.UsageError(
            "several replicas share one PostgreSQL database: pass --database postgresql://…"
        )
    if database_url:
        _check_database(database_url)
    if walkthrough:
        from .demo._balancer import NotServing
        from .demo._walkthrough import walkthrough as run_story

        story = functools.partial(
            run_story,
            _free_port() if port == 8377 else port,
            database_url=database_url,
            replicas=replicas,
            framework=framework,
        )
        try:
            ok = anyio.run(story)
        except (HandoffError, NotServing) as exc:
            raise click.ClickException(str(exc)) from None
        sys.exit(0 if ok else 1)

    from .identity import is_loopback

    if not is_loopback(host):
        raise click.UsageError("the demo serves plain http with demo passwords: keep --host on loopback")
    base = (public_url or f"http://{host}:{port}").rstrip("/")
    if replicas > 1:
        assert database_url is not None
        _serve_replicas(replicas, port, base, database_url, data_dir, framework)
        return

    from .demo import build_demo
    from .demo._serving import listening, serve

    sock = listening(host, port)
    metrics = f"127.0.0.1:{metrics_port or _free_port()}"
    app = build_demo(base, data_dir, database_url=database_url, framework=framework, metrics_address=metrics)
    banner = _demo_banner(
        base,
        data_dir,
        database_url,
        " (written with FastMCP)" if framework == "fastmcp" else "",
        metrics=f"http://{metrics}/metrics",
    )
    serve(app.app, sock, ready=lambda: click.echo(banner))


def _demo_banner(
    base: str, data_dir: str, database_url: str | None, replicas: str = "", *, metrics: str = ""
) -> str:
    from .demo import DEMO_USERS

    if database_url:
        import psycopg

        from ._postgres import describe_url

        described = describe_url(database_url)
        has_password = bool(psycopg.conninfo.conninfo_to_dict(database_url).get("password"))
        where = (
            f"  database (PostgreSQL):          {described}\n"
            f"  dev keys:                       {Path(data_dir).resolve()}"
        )
        audit = command("audit", "--db", described)
        if has_password:
            audit += "  (with PGPASSWORD set, or the password in the URL)"
    else:
        where = f"  data (SQLite, dev keys):        {Path(data_dir).resolve()}"
        audit = command("audit", "--db", str(Path(data_dir) / "handoff.db"))
    return f"""handoff demo{replicas}
  MCP endpoint (streamable HTTP): {base}/mcp
  pages:                          {base}/handoff/
  probes:                         {base}/healthz, {base}/readyz
{f"  metrics (Prometheus):           {metrics}{chr(10)}" if metrics else ""}{where}
  users:                          {", ".join(f"{u} / {p}" for u, p in DEMO_USERS.items())}

Connect any MCP client that supports OAuth and URL elicitation to {base}/mcp (or run
{command("connect", f"{base}/mcp")}), sign in as alice, and call:
  forecast      needs a weather key (demo keys look like wk_demo_1234567890)
  list_notes    asks in-call with elicitation/create, then waits
  next_meeting  needs a connection to Demo Calendar (OAuth with PKCE, this server's own sign-in)
  send_payment  needs your approval of exactly those details, once
To see the whole story without a client:
  {command("demo", "--walkthrough").strip("`")}
Audit log: {audit}
Press Ctrl-C to stop.
"""


def _serve_replicas(
    count: int, port: int, base: str, database_url: str, data_dir: str, framework: str = "sdk"
) -> None:
    """N demo server processes behind haproxy on `port`, until Ctrl-C (or until one of them stops)."""
    import signal
    import time

    from .demo._balancer import Balancer, NotServing, alerts
    from .demo._replicas import Replicas

    # A SIGTERM stops the replicas and haproxy too, as Ctrl-C does (without this they would outlive us).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    group = Replicas(
        count, public_url=base, database_url=database_url, data_dir=data_dir, framework=framework
    )
    try:
        balancer = Balancer(group.backends, port=port)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        try:
            balancer.check_port()  # before any replica starts
            group.start()
            balancer.start()
        except NotServing as exc:
            raise click.ClickException(str(exc)) from None
        listing = ", ".join(f"{r.name} on 127.0.0.1:{r.port}" for r in group)
        scrape = ", ".join(f"http://127.0.0.1:{r.metrics_port}/metrics" for r in group)
        click.echo(
            _demo_banner(
                base,
                data_dir,
                database_url,
                f": {count} replicas behind haproxy on 127.0.0.1:{port}\n"
                f"  replicas:                       {listing}\n"
                f"  replicas' metrics:              {scrape}\n"
                f"  replica logs:                   {Path(data_dir).resolve()}/replicaN.log",
            )
        )
        while balancer.process is not None and balancer.process.poll() is None:
            stopped = [r for r in group if not r.alive]
            if stopped:
                raise click.ClickException(f"{stopped[0].name} stopped: {stopped[0].last_words()}")
            time.sleep(0.5)
        raise click.ClickException(f"haproxy stopped: {alerts(balancer.log())}")
    except KeyboardInterrupt:
        click.echo("stopping the replicas")
    finally:
        balancer.close()
        group.stop()


def _check_database(url: str) -> None:
    """Fail at once, in one line, when the database cannot be reached: naming its host and port, never
    its password (a server would otherwise wait out its connect timeout and fail inside uvicorn)."""
    from ._postgres import describe_url

    try:
        import psycopg
    except ImportError:
        raise click.ClickException(
            f"a postgresql:// database needs psycopg: {install('postgresql')}"
        ) from None
    try:
        password = psycopg.conninfo.conninfo_to_dict(url).get("password")
    except psycopg.Error:
        raise click.ClickException(
            "the database URL does not parse: postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        ) from None
    try:
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if password:
            first = first.replace(str(password), "***")
        raise click.ClickException(f"cannot reach database {describe_url(url)}: {first}") from None


class _DatabaseParam(click.ParamType[str, str]):
    """An existing SQLite file, or a postgresql:// URL (which no file check would pass)."""

    name = "FILE|URL"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value.startswith(_POSTGRES):
            return value
        return str(click.Path(exists=True, dir_okay=False).convert(value, param, ctx))


@main.command()
@click.option(
    "--db",
    required=True,
    type=_DatabaseParam(),
    envvar=DATABASE_ENV,
    help=f"The handoff SQLite file, or a postgresql:// URL (default: ${DATABASE_ENV}).",
)
@click.option("--principal", help="Only this user's events.")
@click.option("--record", "record_id", help="Only this elicitation's events.")
@click.option("--limit", default=100, show_default=True, type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def audit(db: str, principal: str | None, record_id: str | None, limit: int, fmt: str) -> None:
    """Print the audit log: who created, opened, completed or was refused, and when."""
    from datetime import UTC, datetime

    from ._db import SQLiteTx, drive
    from ._exact import printable
    from .audit import read_audit

    if db.startswith(_POSTGRES):
        _check_database(db)
        entries = anyio.run(_read_postgres_audit, db, principal, record_id, limit)
    else:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            entries = drive(read_audit(SQLiteTx(conn), principal, record_id, limit))
        except sqlite3.Error as exc:
            raise click.ClickException(f"{db} is not a handoff database ({exc})") from exc
        finally:
            conn.close()
    for e in entries:
        if fmt == "json":
            click.echo(e.as_json())
            continue
        when = datetime.fromtimestamp(e.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        rid = (e.record_id or "-")[:8]
        line = f"{when}Z  {e.event:<18} {e.principal or '-':<12} record {rid:<8} from {e.remote or '-'}"
        click.echo(printable(line + (f"  {e.detail}" if e.detail else ""), lines=False))


async def _read_postgres_audit(
    url: str, principal: str | None, record_id: str | None, limit: int
) -> list[Any]:
    from ._postgres import PostgresDatabase
    from .audit import read_audit

    db = PostgresDatabase(url, min_size=1, max_size=1, migrate=False)
    try:
        await db.start()
        return await db.run(lambda tx: read_audit(tx, principal, record_id, limit))
    except HandoffError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        await db.stop()


@main.command("check-url")
@click.argument("url")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--no-http-loopback", is_flag=True, help="Block plain http even for 127.0.0.1 and localhost.")
def check_url_command(url: str, fmt: str, no_http_loopback: bool) -> None:
    """Say whether URL is safe to open, as a browser would read it. Exit 0 ok, 1 warn, 2 block."""
    from .client import check_url

    report = check_url(url, allow_http_loopback=not no_http_loopback)
    if fmt == "json":
        click.echo(report.as_json())
    else:
        click.echo(report.as_text())
    sys.exit({"ok": 0, "warn": 1, "block": 2}[report.verdict])


_protocol = click.option(
    "--protocol",
    type=click.Choice(["auto", "legacy", "2026-07-28"]),
    default="auto",
    show_default=True,
    help="Protocol version to speak (auto: the newest the server offers).",
)


_no_store = click.option(
    "--no-store",
    is_flag=True,
    help="Sign in for this run only: neither use nor keep tokens in the token file.",
)
_sign_in_timeout = click.option(
    "--sign-in-timeout",
    default=300.0,
    show_default=True,
    help="Seconds to wait for you to sign in in the browser.",
)


_connect_timeout = click.option(
    "--connect-timeout",
    default=10.0,
    show_default=True,
    help="Seconds to connect to a server at a URL and for it to finish the handshake, all its "
    f"answers together (each later answer then has {ANSWER_TIMEOUT:g} s to start).",
)
_max_answer_mib = click.option(
    "--max-answer-mib",
    type=click.FloatRange(min=0, min_open=True),
    default=16.0,
    show_default=True,
    help="The most read of one answer from the server, in MiB; a larger one is not read further.",
)


def _quiet_sdk_logs() -> None:
    """The SDK logs some failures (a failed sign-in, a line a stdio server should not have printed)
    with their whole traceback; the client commands say what failed in one line instead."""
    sdk = logging.getLogger("mcp")
    sdk.addHandler(logging.NullHandler())
    sdk.propagate = False


def _loud_sdk_logs() -> None:
    """`call --debug`: the SDK's log after all (the group quieted it before the command's options)."""
    logging.getLogger("mcp").propagate = True


INTERRUPTED = 130
"""The exit code of a client command stopped with Ctrl-C (128 + SIGINT, as shells report it)."""


def _interruptible(run: Callable[[], Awaitable[int]]) -> int:
    """`run`'s exit code; Ctrl-C (SIGINT) stops it, closes what it opened, and is `INTERRUPTED`."""
    try:
        return anyio.run(run)
    except KeyboardInterrupt:
        click.echo("handoff: cancelled (Ctrl-C)", err=True)
        return INTERRUPTED


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("server", nargs=-1, required=True)
@_protocol
@_no_store
@_sign_in_timeout
@_connect_timeout
@_max_answer_mib
def connect(
    server: tuple[str, ...],
    protocol: str,
    no_store: bool,
    sign_in_timeout: float,
    connect_timeout: float,
    max_answer_mib: float,
) -> None:
    """Connect to an MCP server (a URL, or a command to run over stdio) and use its tools interactively.

    A URL server that asks for sign-in opens your browser once; the tokens are kept in the token
    file (see `handoff logout`) unless --no-store. Ctrl-C cancels the call in progress (the session
    goes on); quit or Ctrl-D leaves, once a call in progress has ended. Exit 0, 2 the connection
    failed, 130 Ctrl-C before the session began (during the sign-in, say)."""
    from .client._terminal import run_terminal

    run = functools.partial(
        run_terminal,
        list(server),
        protocol,
        store=not no_store,
        sign_in_timeout=sign_in_timeout,
        connect_timeout=connect_timeout,
        max_answer_bytes=answer_bytes(max_answer_mib),
    )
    sys.exit(_interruptible(run))


@main.command()
@click.argument("server")
@click.argument("tool")
@click.option(
    "--args", "args_json", default="{}", show_default=True, help="The tool's arguments, a JSON object."
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--accept",
    type=click.Choice(["ok", "warn", "none"]),
    default="ok",
    show_default=True,
    help="Accept links whose check is at most this verdict (opened in your browser, or printed with "
    "--print-url); decline the rest (a blocked link is never accepted).",
)
@click.option(
    "--print-url", is_flag=True, help="Print links for a person to open instead of starting a browser."
)
@click.option(
    "--timeout",
    default=600.0,
    show_default=True,
    help="Seconds a browser step may take once its link is opened (in either era); then the call stops.",
)
@_connect_timeout
@_max_answer_mib
@click.option("--debug", is_flag=True, help="On a failure, print the traceback too.")
@_protocol
@_no_store
@_sign_in_timeout
def call(
    server: str,
    tool: str,
    args_json: str,
    fmt: str,
    accept: str,
    print_url: bool,
    timeout: float,
    connect_timeout: float,
    max_answer_mib: float,
    debug: bool,
    protocol: str,
    no_store: bool,
    sign_in_timeout: float,
) -> None:
    """Call one tool non-interactively. SERVER is a URL or a quoted command. Exit 0 ok, 1 the tool
    returned an error, 2 not run (the server could not be reached or gave an unusable answer, the
    sign-in failed, or a browser step was declined, blocked or timed out): one line says which; 130
    cancelled with Ctrl-C (or SIGINT).

    Each link the server sends is described on stderr: the check's verdict and findings, and
    whether it was opened, printed or declined, and why. A URL server that asks for sign-in opens
    your browser the first time; later runs use the tokens kept in the token file (see
    `handoff logout`) unless --no-store."""
    from .client._script import run_call

    try:
        arguments = json.loads(args_json)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--args") from None
    if not isinstance(arguments, dict):
        raise click.BadParameter('must be a JSON object, like \'{"city": "Oslo"}\'', param_hint="--args")
    if debug:
        click.get_current_context().meta[_DEBUG] = True
        _loud_sdk_logs()
    run = functools.partial(
        run_call,
        server,
        tool,
        arguments,
        fmt,
        accept,
        print_url,
        timeout,
        protocol,
        store=not no_store,
        sign_in_timeout=sign_in_timeout,
        connect_timeout=connect_timeout,
        max_answer_bytes=answer_bytes(max_answer_mib),
        debug=debug,
    )
    sys.exit(_interruptible(run))


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("server", nargs=-1, required=True)
@click.option(
    "--accept",
    type=click.Choice(["ok", "warn", "none"]),
    default="none",
    show_default=True,
    help="Open links whose check is at most this verdict in your browser without asking, for runs where "
    "nobody watches the client; none: ask through the client (a blocked link is never opened).",
)
@click.option(
    "--timeout",
    default=600.0,
    show_default=True,
    help="Seconds a browser step may take once its link is opened; then the call ends with a tool error.",
)
@click.option(
    "--listen",
    metavar="127.0.0.1:PORT",
    help="Serve over Streamable HTTP at http://127.0.0.1:PORT/mcp instead of stdio, for clients that "
    "only reach servers at a URL (loopback addresses only).",
)
@click.option(
    "--progress-every",
    "progress_every",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds between progress notifications to the client while a call waits for a person "
    "(to a call that asked for progress), so that its tool-call timeout does not end it.",
)
@click.option(
    "--print-config",
    "print_config",
    type=click.Choice(["claude-desktop", "claude-code", "codex", "cursor", "vscode"]),
    help="Print the configuration that puts this bridge in front of that client, then exit.",
)
@_connect_timeout
@_max_answer_mib
@_protocol
@_no_store
@_sign_in_timeout
def bridge(
    server: tuple[str, ...],
    accept: str,
    timeout: float,
    listen: str | None,
    progress_every: float,
    print_config: str | None,
    connect_timeout: float,
    max_answer_mib: float,
    protocol: str,
    no_store: bool,
    sign_in_timeout: float,
) -> None:
    """Serve an MCP server's tools on stdio to a client that lacks URL mode (or shows links unchecked).

    SERVER is the MCP server's URL, or a command to run over stdio. Each link the server sends is
    checked, then passed on in URL mode, asked about in a consent form (the bridge opens your
    browser), or given in a tool result ("call the tool again when you are done"), as the client in
    front declared. Logs go to stderr; stdout is the protocol."""
    from .bridge import run_bridge

    if print_config is not None:
        from .bridge._config import WHERE, config

        if len(server) != 1 or not server[0].startswith(("http://", "https://")):
            raise click.BadParameter("--print-config takes the server's URL", param_hint="SERVER")
        click.echo(f"# {WHERE[print_config]}", err=True)
        click.echo(config(print_config, server[0], accept=accept))
        return

    address = None
    if listen is not None:
        from .bridge._front import CannotListen, loopback

        try:
            address = loopback(listen)
        except CannotListen as exc:
            raise click.ClickException(str(exc)) from None
    code = anyio.run(
        functools.partial(
            run_bridge,
            list(server),
            listen=address,
            accept=accept,  # type: ignore[arg-type]
            protocol=protocol,
            store=not no_store,
            sign_in_timeout=sign_in_timeout,
            connect_timeout=connect_timeout,
            timeout=timeout,
            progress_every=progress_every,
            max_answer_bytes=answer_bytes(max_answer_mib),
        )
    )
    sys.exit(code)


@main.command()
@click.argument("server", required=False)
def logout(server: str | None) -> None:
    """Sign out of SERVER (an MCP URL), or of every server without one: revoke its tokens where the
    server offers revocation, and delete them from the token file ($HANDOFF_TOKENS, else
    $XDG_CONFIG_HOME/handoff/tokens.json). Exit 1 if a server refused or could not be reached."""
    from .client import FileTokens, SignIn, printable

    store = FileTokens()
    sign_in = SignIn(store)

    async def sign_out() -> int:
        servers = [server] if server else await store.servers()
        if not servers:
            click.echo(f"no sign-ins are stored in {store.path}")
        failed = False
        for url in servers:
            done = await sign_in.sign_out(url)
            if done is None:
                known = ", ".join(await store.servers()) or "none"
                raise click.ClickException(f"no sign-in is stored for {url} (stored: {known})")
            click.echo(printable(done.describe()), err=done.problem is not None)
            failed = failed or done.failed
        return 1 if failed else 0

    sys.exit(_run(sign_out))


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def passphrase(path: Path) -> None:
    """Choose the passphrase a LocalIdentity server asks for, and keep its hash in PATH (0600).

    Type it here, not where an AI agent could read it; the server only ever sees the hash."""
    from .identity import write_passphrase

    first = click.prompt("New passphrase", hide_input=True)
    if click.prompt("The same again", hide_input=True) != first:
        raise click.ClickException("the two passphrases differ; nothing was written")
    try:
        written = write_passphrase(path, first)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"kept the passphrase's hash in {written}; serve with LocalIdentity.from_file({str(written)!r})"
    )


@main.command()
def keygen() -> None:
    """Print a new random vault key (base64url, 256 bits)."""
    from .vault import generate_key

    click.echo(generate_key())


@main.group()
def connections() -> None:
    """List and revoke users' third-party connections (OAuth token sets in the vault)."""


_db_option = click.option(
    "--db",
    required=True,
    type=_DatabaseParam(),
    envvar=DATABASE_ENV,
    help=f"The handoff SQLite file, or a postgresql:// URL (default: ${DATABASE_ENV}).",
)
_key_option = click.option(
    "--dev-key-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Use the dev key file instead of HANDOFF_VAULT_KEYS (dev mode only).",
)


@connections.command("list")
@_db_option
@_key_option
@click.option("--user", "principal", required=True, help="Whose connections.")
def connections_list(db: str, dev_key_file: str | None, principal: str) -> None:
    """Show a user's connections: provider, scopes, and when the access token expires (never the token)."""
    from datetime import UTC, datetime

    from .oauth import Connections

    async def show(vault: SqlVault) -> list[str]:
        store = Connections(vault)
        lines = []
        for name in await store.vault.names(principal):
            if not name.startswith("connection:"):
                continue
            provider = name.split(":", 1)[1]
            tokens = await store.load(principal, provider)
            if tokens is None:
                continue
            expires = (
                datetime.fromtimestamp(tokens.expires_at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
                if tokens.expires_at
                else "no expiry"
            )
            refresh = "refreshable" if tokens.refresh_token else "no refresh token"
            lines.append(f"{provider:<16} scopes: {tokens.scope or '-'}  expires: {expires}  ({refresh})")
        return lines

    lines = _with_vault(db, dev_key_file, show)
    click.echo("\n".join(lines) if lines else f"{principal} has no connections.")


@connections.command("revoke")
@_db_option
@_key_option
@click.option("--user", "principal", required=True, help="Whose connection.")
@click.argument("provider")
def connections_revoke(db: str, dev_key_file: str | None, principal: str, provider: str) -> None:
    """Delete a user's connection to PROVIDER; the next tool that needs it asks the user again."""
    from .oauth import Connections

    if not _with_vault(db, dev_key_file, lambda vault: Connections(vault).forget(principal, provider)):
        raise click.ClickException(f"{principal} has no connection to {provider!r}")
    click.echo(f"revoked {principal}'s connection to {provider}")


def _with_vault(
    db: str, dev_key_file: str | None, fn: Callable[[SqlVault], Awaitable[T]], *, hint: bool = True
) -> T:
    """Run `fn` on the vault of `db` (a SQLite file or a PostgreSQL URL), then let the database go.
    With `hint`, keys that open none of its secrets stop it, when a dev key file would (see
    `_keyring`)."""
    from .vault import SqlVault

    ctx = click.get_current_context()

    async def run() -> T:
        database = _open_database(db)
        try:
            await database.start()
            return await fn(SqlVault(database, await _keyring(ctx, database, dev_key_file, hint=hint)))
        finally:
            await database.stop()

    return _run(run)


async def _keyring(
    ctx: click.Context, database: Database, dev_key_file: str | None, *, hint: bool
) -> Keyring:
    """The keys that open the vault of `database`: the dev key file given, else HANDOFF_VAULT_KEYS.
    When they are missing, or (with `hint`) open none of its secrets, and the database notes a dev
    key file that does (a server in dev mode notes its own), the error names that file and this
    command with it."""
    from .vault import Keyring
    from .vault._store import dev_key_files, sealing_keys

    keyring: Keyring | None = None
    problem = ""
    try:
        keyring = Keyring.dev(dev_key_file) if dev_key_file else Keyring.from_env()
    except HandoffError as exc:
        problem = str(exc)
    if keyring is not None and not hint:
        return keyring
    held = await sealing_keys(database)
    configured = set(keyring.key_ids) if keyring is not None else set()
    if keyring is not None and (not held or held & configured):
        return keyring
    files = await dev_key_files(database, sorted(held - configured))
    if files:
        path = str(next(iter(files.values())))
        if keyring is None:
            lacking = "no vault key is configured, and this vault's secrets are"
        elif dev_key_file:
            lacking = f"the dev key file {dev_key_file} opens none of this vault's secrets, which are"
        else:
            lacking = "the keys in HANDOFF_VAULT_KEYS open none of this vault's secrets, which are"
        raise click.ClickException(
            f"{lacking} encrypted with the key in the dev key file {path}: "
            f"run {_again_with(ctx, database, '--dev-key-file', path)}"
        )
    if keyring is None:
        raise click.ClickException(problem)
    return keyring


def _again_with(ctx: click.Context, database: Database, option: str, value: str) -> str:
    """The command that runs, as the person typed it, with `option value` instead of what they gave
    for it (`--db` as the database describes itself: a password stays out)."""
    words: list[str] = []
    arguments: list[str] = []
    step = ctx
    while step.parent is not None:  # the subcommands' names, not the program's
        words.insert(0, step.info_name or "")
        step = step.parent
    for param in ctx.command.params:
        given = ctx.params.get(param.name or "")
        source = ctx.get_parameter_source(param.name or "")
        if isinstance(param, click.Argument):
            arguments.append(str(given))
        elif (
            option in param.opts
            or given in (None, False)
            or source is not click.core.ParameterSource.COMMANDLINE
        ):
            continue
        elif param.name == "db":
            words += [param.opts[0], database.describe()]
        elif isinstance(param, click.Option) and param.is_flag:
            words.append(param.opts[0])
        else:
            words += [param.opts[0], str(given)]
    return command(*words, option, value, *arguments)


def _open_database(db: str) -> Database:
    if db.startswith(_POSTGRES):
        from ._postgres import PostgresDatabase

        return PostgresDatabase(db, min_size=1, max_size=2, migrate=False)
    from ._db import SQLiteDatabase

    return SQLiteDatabase(db)


def _run(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    try:
        return anyio.run(fn, *args)
    except HandoffError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def vault() -> None:
    """Manage the encrypted vault."""


@vault.command()
@_db_option
@_key_option
@click.option(
    "--drop-unreadable",
    is_flag=True,
    help="Delete the secrets no configured key opens (they are lost for good) instead of stopping.",
)
def rotate(db: str, dev_key_file: str | None, drop_unreadable: bool) -> None:
    """Re-encrypt every secret under the newest key in HANDOFF_VAULT_KEYS (newest first).

    Secrets that no configured key opens stop the rotation before anything changes, each one named."""
    current: list[str] = []

    async def rotate_all(vault: SqlVault) -> Rotation:
        current.append(vault.keyring.current)
        return await vault.rotate(drop_unreadable=drop_unreadable)

    from ._exact import printable

    rotation = _with_vault(db, dev_key_file, rotate_all, hint=not drop_unreadable)
    for row in rotation.dropped:
        click.echo(f"deleted {printable(str(row))}: no configured key opens it")
    click.echo(f"re-encrypted {rotation.moved} secret(s) under key {current[0]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
