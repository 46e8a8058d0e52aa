"""`handoff demo --walkthrough`: the whole story in both protocol eras, each step printed and checked.

In one process by default; with `replicas` > 1, on that many server processes behind haproxy, sharing
one PostgreSQL database: each browser step is then routed to another replica than the one holding the
MCP connection, so that every completion has to cross from one process to another.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp import MCPError
from mcp_types import (
    INVALID_PARAMS,
    URL_ELICITATION_REQUIRED,
    ElicitCompleteNotification,
    ElicitResult,
    InputRequiredResult,
)

from .._errors import ConfigError
from ..store import Store
from ..vault import Keyring
from ._balancer import REPLICA_HEADER, ROUTE_HEADER, Balancer, replica_names
from ._browser import ScriptedBrowser
from ._client import demo_client, signed_in_http
from ._replicas import Replicas
from ._server import DEMO_USERS, Framework, build_demo

KEY = "wk_demo_1234567890"


class StepFailed(Exception):
    pass


class Story:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.n = 0
        self.router: Router | None = None

    def chapter(self, title: str) -> None:
        self.served()
        self.say(f"\n== {title} ==")
        self.n = 0
        if self.router is not None:
            self.router.new_chapter()
            self.say(
                f"(The MCP connection goes to {_pretty(self.router.mcp)}; each browser step to another "
                f"one, {_either(self.router.others)}.)"
            )

    def step(self, text: str) -> None:
        self.served()
        self.n += 1
        self.say(f"\n{self.n}. {text}")
        if self.router is not None:
            self.router.next_step()

    def ok(self, text: str) -> None:
        self.say(f"   ✓ {text}")

    def check(self, condition: bool, text: str, failure: str) -> None:
        if not condition:
            raise StepFailed(failure)
        self.ok(text)

    def served(self) -> None:
        """On replicas: say which replica served the step that just ended, and check it was the one
        it should have been."""
        if self.router is not None:
            line = self.router.report()
            if line:
                self.say(f"   {'the sign-in, ' if self.n == 0 else ''}served by: {line}")


@dataclass
class _Served:
    label: str
    kind: str  # "mcp", "browser" or "oauth"
    replica: str
    routed: str | None = None
    step: int = 0


class Router:
    """Where each request of the walkthrough goes, and where it went.

    A chapter's MCP connection goes to one replica: its first request carries `X-Handoff-Route`, and
    the balancer keeps the 2025 session there by its `Mcp-Session-Id` (a 2026 client, with no session,
    names the replica on every request). Each browser step is routed to another replica, a different
    one from step to step. Which replica served a request is read from the `X-Handoff-Replica` header
    the balancer adds to every response; the MCP client's sign-in requests (discovery, registration,
    tokens) are balanced as they come. A response counts for the step that sent its request: a retry
    held open through the next step is told with the step after the one it returned in.
    """

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.chapters = 0
        self.steps = 0
        self.window = 0
        self.mcp = names[0]
        self.others = names[1:]
        self.route = self.others[0]
        self.stream: str | None = None
        self._served: list[_Served] = []
        self._sent: dict[httpx2.Request, int] = {}

    def new_chapter(self) -> None:
        first = self.chapters % len(self.names)
        self.chapters += 1
        self.steps = 0
        self.window += 1
        self.mcp = self.names[first]
        self.others = self.names[first + 1 :] + self.names[:first]
        self.route = self.others[0]
        self.stream = None

    def next_step(self) -> None:
        self.route = self.others[self.steps % len(self.others)]
        self.steps += 1
        self.window += 1

    def watch_browser(self, browser: ScriptedBrowser, who: str) -> None:
        async def route(request: httpx2.Request) -> None:
            request.headers[ROUTE_HEADER] = self.route
            self._sent[request] = self.window

        async def served(response: httpx2.Response) -> None:
            routed = response.request.headers.get(ROUTE_HEADER)
            self._record(response, _Served(f"{who}'s browser", "browser", _replica(response), routed))

        browser.http.event_hooks = {"request": [route], "response": [served]}

    def watch_mcp(self, http: httpx2.AsyncClient) -> None:
        async def route(request: httpx2.Request) -> None:
            if _is_mcp(request) and "mcp-session-id" not in request.headers:
                request.headers[ROUTE_HEADER] = self.mcp
            self._sent[request] = self.window

        async def served(response: httpx2.Response) -> None:
            replica = _replica(response)
            if not _is_mcp(response.request):
                self._record(response, _Served("OAuth endpoints", "oauth", replica))
                return
            if response.request.method == "GET" and "event-stream" in response.headers.get(
                "content-type", ""
            ):
                self.stream = replica  # the stream a 2025 session's notices come over
            closing = response.request.method == "DELETE"  # the client ends its 2025 session
            self._record(response, _Served(f"MCP connection{' closing' if closing else ''}", "mcp", replica))

        http.event_hooks = {"request": [route], "response": [served]}

    def _record(self, response: httpx2.Response, served: _Served) -> None:
        served.step = self._sent.pop(response.request, self.window)
        self._served.append(served)

    def heard_notice(self) -> None:
        """A notice arrived, over the stream the MCP connection holds open."""
        # Over the session's GET stream, or (before that stream is open) over one of the session's
        # responses; every one of those was checked to come from the session's replica.
        self._served.append(_Served("MCP connection", "mcp", self.stream or self.mcp, step=self.window))

    def report(self) -> str:
        """One line naming who was served by which replica in the step that just ended; StepFailed if
        the MCP connection left its replica, or a browser step was not served where it was routed (or
        was served by the MCP connection's replica)."""
        now = [s for s in self._served if s.step >= self.window]
        later = [s for s in self._served if s.step < self.window]
        for s in later:  # answers to an earlier step's requests, told with the next step
            s.step = self.window + 1
        self._served = later
        for s in now:
            if s.kind == "mcp" and s.replica != self.mcp:
                raise StepFailed(
                    f"the MCP connection moved: a request was served by {_pretty(s.replica)}, "
                    f"not {_pretty(self.mcp)}"
                )
            if s.kind == "browser" and s.replica == self.mcp:
                raise StepFailed(
                    f"{s.label} was served by {_pretty(s.replica)}, the one holding the MCP connection"
                )
            if s.kind == "browser" and s.replica != s.routed:
                raise StepFailed(
                    f"{s.label} was routed to {_pretty(s.routed or '-')} but served by {_pretty(s.replica)}"
                )
        order = {"mcp": 0, "browser": 1, "oauth": 2}
        groups: dict[str, set[str]] = {}
        for s in sorted(now, key=lambda s: order[s.kind]):
            groups.setdefault(s.label, set()).add(s.replica)
        parts = [
            f"{label} ({', '.join(_pretty(r) for r in sorted(replicas))})"
            for label, replicas in groups.items()
        ]
        held = [r for r, step in self._sent.items() if step == self.window and _is_mcp(r)]
        if held:
            routed = held[0].headers.get(ROUTE_HEADER)
            parts.insert(0, f"MCP connection (held open{f', sent to {_pretty(routed)}' if routed else ''})")
        return ", ".join(parts)


def _replica(response: httpx2.Response) -> str:
    return response.headers.get(REPLICA_HEADER) or "no replica"


def _is_mcp(request: httpx2.Request) -> bool:
    return request.url.path.rstrip("/").endswith("/mcp")


def _either(replicas: list[str]) -> str:
    names = [_pretty(r) for r in replicas]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _pretty(replica: str) -> str:
    return replica.replace("replica", "replica ") if replica.startswith("replica") else replica


@dataclass
class Stage:
    """What the stories run against: the public URL (one server, or the balancer), the store as the
    server sees it (for the few checks a person could not make from a browser), and on replicas the
    router."""

    public_url: str
    store: Store
    router: Router | None = None

    @property
    def mcp_url(self) -> str:
        return f"{self.public_url}/mcp"

    def browser(self, who: str) -> ScriptedBrowser:
        browser = ScriptedBrowser(self.public_url)
        if self.router is not None:
            self.router.watch_browser(browser, who)
        return browser

    def signed_in(self, browser: ScriptedBrowser, user: str) -> httpx2.AsyncClient:
        http = signed_in_http(self.mcp_url, browser, user, DEMO_USERS[user])
        if self.router is not None:
            self.router.watch_mcp(http)
        return http

    def heard_notice(self) -> None:
        if self.router is not None:
            self.router.heard_notice()


_SCHEMA = "handoff"
"""The PostgreSQL schema the demo's tables live in (PostgresDatabase's default)."""


async def walkthrough(
    port: int,
    say: Callable[[str], None] = print,
    *,
    database_url: str | None = None,
    replicas: int = 1,
    framework: Framework = "sdk",
) -> bool:
    """Run both stories against a fresh demo server on 127.0.0.1:`port`; True when every step held.

    On PostgreSQL (`database_url`, else HANDOFF_DATABASE_URL) the database must hold no handoff data
    yet: the story starts with nobody's key stored. With `replicas` > 1 that many server processes
    share the database, behind haproxy on `port`. `framework` is what the demo server is written with
    (the SDK's MCPServer, or FastMCP)."""
    story = Story(say)
    database_url = database_url or Store.url_from_env()
    if replicas > 1 and not database_url:
        raise ConfigError(
            "several replicas share one PostgreSQL database: pass database_url='postgresql://…'"
        )
    created = await _claim(database_url) if database_url else False
    for name in ("httpx2", "httpx", "mcp", "handoff", "uvicorn", "fastmcp"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="handoff-walkthrough-") as data:
            if replicas > 1:
                assert database_url is not None
                held = await _on_replicas(story, port, Path(data), database_url, replicas, framework)
            else:
                held = await _in_one_process(story, port, data, database_url, framework)
    finally:
        if created:
            assert database_url is not None
            with anyio.CancelScope(shield=True):
                await _drop_schema(database_url)
    return held


async def _in_one_process(
    story: Story, port: int, data: str, database_url: str | None, framework: Framework
) -> bool:
    demo = build_demo(f"http://127.0.0.1:{port}", data, database_url=database_url, framework=framework)
    config = uvicorn.Config(demo.app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
    server = uvicorn.Server(config)
    if database_url:
        story.say(f"(On PostgreSQL: {_describe(database_url)}.)")
    if framework == "fastmcp":
        story.say("(The demo server is written with FastMCP: the same decorators under @server.tool.)")
    stopped = anyio.Event()

    async def serve() -> None:
        try:
            await server.serve()
        finally:
            stopped.set()

    held = False
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        while not server.started:  # uvicorn only exposes a flag
            if stopped.is_set():
                raise ConfigError(f"the demo server did not start on 127.0.0.1:{port}")
            await anyio.sleep(0.02)
        try:
            held = await _tell(story, Stage(demo.public_url, demo.handoff.store))
        finally:
            server.should_exit = True
    return held


async def _on_replicas(
    story: Story, port: int, data: Path, database_url: str, count: int, framework: Framework
) -> bool:
    group = Replicas(
        count,
        public_url=f"http://127.0.0.1:{port}",
        database_url=database_url,
        data_dir=data,
        framework=framework,
    )
    if framework == "fastmcp":
        story.say("(The demo server is written with FastMCP: the same decorators under @server.tool.)")
    balancer = Balancer(group.backends, port=port, route_header=True)
    try:
        await anyio.to_thread.run_sync(group.start)
        await anyio.to_thread.run_sync(balancer.start)
        # The walkthrough's own view of the store, for the checks the single process makes in-process:
        # the same database, the same dev vault key as the replicas.
        store = Store.open(database_url, Keyring.dev(data / "vault.key"))
        await store.start()
        try:
            story.router = Router(replica_names(count))
            story.say(
                f"{count} replicas of the demo server, each its own process "
                f"({', '.join(f'{_pretty(r.name)} on port {r.port}' for r in group)}),\n"
                f"behind haproxy at {balancer.url}, sharing one PostgreSQL database "
                f"({_describe(database_url)}).\nEach browser step is routed ({ROUTE_HEADER}) to another "
                f"replica than the MCP connection's;\nwhich replica served each step is read from the "
                f"{REPLICA_HEADER} response header."
            )
            held = await _tell(story, Stage(balancer.url, store, story.router))
            if not held:
                _tell_logs(story, group)
            return held
        finally:
            with anyio.CancelScope(shield=True):
                await store.stop()
    finally:
        balancer.close()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(group.stop)


def _tell_logs(story: Story, group: Replicas) -> None:
    """What the replicas logged after their start banner: where a failed step's cause usually is."""
    for replica in group:
        logged = replica.log().rpartition("Press Ctrl-C to stop.")[2].strip()
        if logged:
            tail = "\n".join(logged.splitlines()[-20:])
            story.say(f"\n--- {replica.name} logged:\n{tail}")


async def _tell(story: Story, stage: Stage) -> bool:
    try:
        story.chapter("Protocol 2025-11-25: error -32042, then the completion notice")
        await _legacy_story(story, stage)
        await stage.store.vault.delete("alice", "weather_api_key")
        story.chapter("Protocol 2026-07-28: InputRequiredResult, then a retry the server wakes")
        story.say("(Alice's key was removed, so this story starts from scratch.)")
        await _modern_story(story, stage)
        story.chapter("A third-party connection: OAuth with PKCE, the token stays on the server")
        await _connection_story(story, stage)
        story.chapter("An approval: exactly these details, once")
        await _approval_story(story, stage)
        story.served()
        story.say("\nEvery step held. No key, token or approval passed through the MCP client.")
        if stage.router is not None:
            story.say(
                "No browser step ran on the replica holding the MCP connection: every completion reached "
                "it through PostgreSQL (LISTEN/NOTIFY)."
            )
        return True
    except StepFailed as failed:
        story.say(f"   ✗ {failed}")
        story.say("\nThe walkthrough stopped: the step above did not go as expected.")
        return False


def _describe(url: str) -> str:
    from .._postgres import describe_url

    return describe_url(url)


async def _claim(url: str) -> bool:
    """Check that the story may start from scratch on `url`: no handoff data there yet. True when there
    is no handoff schema at all: the walkthrough then removes the one it made, and the database is as
    it was (so the walkthrough can run on it again)."""
    import psycopg
    from psycopg import sql

    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10) as conn:
            cursor = await conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (_SCHEMA,))
            if await cursor.fetchone() is None:
                return True
            for table in ("records", "secrets", "audit"):
                cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{_SCHEMA}.{table}",))
                row = await cursor.fetchone()
                if row and row[0]:
                    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(_SCHEMA, table))
                    cursor = await conn.execute(query)
                    row = await cursor.fetchone()
                    if row and row[0]:
                        raise ConfigError(
                            f"the walkthrough starts from scratch, but database {_describe(url)} already "
                            "holds handoff data: give it an empty database (createdb), or drop its "
                            f"{_SCHEMA} schema"
                        )
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot reach database {_describe(url)}: {first}") from None
    return False


async def _drop_schema(url: str) -> None:
    import psycopg
    from psycopg import sql

    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10) as conn:
            await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(_SCHEMA)))
    except psycopg.Error as exc:
        logging.getLogger("handoff.demo").warning("could not remove the walkthrough's tables: %s", exc)


async def _legacy_story(story: Story, stage: Stage) -> None:
    notices: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, ElicitCompleteNotification):
            notices.append(message.params.elicitation_id)
            arrived.set()

    async def no_request(*_: object) -> Any:
        raise StepFailed("the server sent an elicitation request although it should answer with -32042")

    async with stage.browser("Alice") as alice, stage.browser("Bob") as bob:
        story.step("Alice's MCP client signs in to the demo server (OAuth, in Alice's browser)")
        http = stage.signed_in(alice, "alice")
        async with demo_client(
            stage.mcp_url, http, mode="legacy", message_handler=on_message, elicitation_callback=no_request
        ) as client:
            who = _text(await client.call_tool("whoami", {}))
            story.check("alice" in who, f"server says: {who}", f"whoami answered {who!r}")

            story.step("The client calls `forecast`, which needs Alice's weather API key")
            try:
                result = await client.call_tool("forecast", {"city": "Lisbon"})
                raise StepFailed(f"the tool ran without a key: {_text(result)!r}")
            except MCPError as error:
                story.check(
                    error.code == URL_ELICITATION_REQUIRED,
                    f"error {error.code}: {error.message}",
                    f"expected error -32042, got {error.code}",
                )
                elicitation = error.data["elicitations"][0]
            url, eid = elicitation["url"], elicitation["elicitationId"]
            story.ok(f"the client is asked to open {url}")
            story.check(
                eid in url and "alice" not in url,
                "the URL carries only an unguessable id",
                "the URL carries more than the id",
            )

            await _bob_is_refused(story, stage, bob, url)
            await _alice_enters_her_key(story, alice, url, "")

            story.step("The client learns that the elicitation is complete")
            with anyio.move_on_after(10):
                await arrived.wait()
            if arrived.is_set():  # told with this step, however early it came
                stage.heard_notice()
            story.check(
                notices == [eid],
                "notifications/elicitation/complete arrived for that id",
                f"notices received: {notices}",
            )

            story.step("The client retries the original call")
            result = await client.call_tool("forecast", {"city": "Lisbon"})
            story.check(
                not result.is_error and "Lisbon" in _text(result),
                _text(result),
                f"retry failed: {_text(result)!r}",
            )
            await _audit(story, stage, eid)


async def _modern_story(story: Story, stage: Stage) -> None:
    async with stage.browser("Alice") as alice, stage.browser("Bob") as bob:
        story.step("Alice's MCP client signs in and speaks 2026-07-28")
        http = stage.signed_in(alice, "alice")
        async with demo_client(
            stage.mcp_url, http, mode="2026-07-28", elicitation_callback=_accept
        ) as client:
            who = _text(await client.call_tool("whoami", {}))
            story.check("alice" in who, f"server says: {who}", f"whoami answered {who!r}")

            story.step("The client calls `forecast`")
            first = await client.session.call_tool("forecast", {"city": "Porto"}, allow_input_required=True)
            if not isinstance(first, InputRequiredResult) or not first.input_requests:
                raise StepFailed(f"expected an InputRequiredResult, got {first!r}")
            (key, request), *_ = first.input_requests.items()
            params = request.model_dump(by_alias=True, exclude_none=True).get("params", {})
            story.check(
                params.get("mode") == "url" and "elicitationId" not in params,
                "InputRequiredResult with one elicitation/create in url mode (no elicitationId)",
                f"unexpected input request {params}",
            )
            story.check(
                bool(first.request_state), "and a sealed requestState the client must echo", "no requestState"
            )
            url = params["url"]
            story.ok(f"the client is asked to open {url}")

            await _bob_is_refused(story, stage, bob, url)

            story.step(
                "The client retries with the user's consent and the exact requestState; the server waits"
            )
            finished: list[tuple[float, Any]] = []

            async def retry() -> None:
                answer = await client.session.call_tool(
                    "forecast",
                    {"city": "Porto"},
                    input_responses={key: _ACCEPT},
                    request_state=first.request_state,
                    allow_input_required=True,
                )
                finished.append((time.perf_counter(), answer))

            async with anyio.create_task_group() as tg:
                tg.start_soon(retry)
                await anyio.sleep(0.3)
                story.check(not finished, "the retry is held open, no polling", "the retry returned at once")
                done_at = await _alice_enters_her_key(story, alice, url, "")
            returned_at, answer = finished[0]
            story.step("The held retry wakes up and the tool runs")
            story.check(
                not isinstance(answer, InputRequiredResult) and "Porto" in _text(answer),
                f"{_text(answer)} ({(returned_at - done_at) * 1000:.1f} ms after the key was saved)",
                f"retry answered {answer!r}",
            )

            story.step("The same requestState cannot be used again")
            try:
                await client.session.call_tool(
                    "forecast",
                    {"city": "Porto"},
                    request_state=first.request_state,
                    allow_input_required=True,
                )
                raise StepFailed("a replayed requestState was accepted")
            except MCPError as error:
                story.check(
                    error.code == INVALID_PARAMS, f"replay refused: {error.message}", f"got {error.code}"
                )


@contextlib.asynccontextmanager
async def _alice(stage: Stage) -> AsyncIterator[tuple[ScriptedBrowser, Any, _Notices]]:
    """Alice's browser and her 2025-era MCP client, signed in, with its completion notices."""
    async with stage.browser("Alice") as alice:
        http = stage.signed_in(alice, "alice")
        notices = _Notices(stage)
        async with demo_client(
            stage.mcp_url,
            http,
            mode="legacy",
            message_handler=notices.on_message,
            elicitation_callback=_accept,
        ) as client:
            yield alice, client, notices


async def _connection_story(story: Story, stage: Stage) -> None:
    async with _alice(stage) as (alice, client, notices):
        story.step("The client calls `next_meeting`, which needs Alice's Demo Calendar account")
        url, eid = await _needs(client, "next_meeting", {})
        story.ok(f"-32042: the client is asked to open {url}")

        story.step("Alice opens the link, signs in on its page and continues to the provider")
        page = await alice.open(url)
        story.check(
            page.title == "Connect Demo Calendar" and "calendar" in page.text,
            f"Alice sees {page.title!r}, with the scope it asks for",
            f"Alice saw {page.title!r}",
        )
        consent = await alice.submit(page, {"action": "continue"})
        if isinstance(consent, str) or "/authorize/" not in consent.url:
            raise StepFailed(f"expected the provider's consent page, got {consent}")
        story.ok("the provider asks Alice to allow Demo Calendar (PKCE S256, single-use state)")
        done = await alice.submit(consent, {"decision": "allow"})
        story.check(
            not isinstance(done, str) and done.title == "Connected",
            "back on the exact callback, Alice signs in once more (the cookie could be another user's): "
            "the code is exchanged, the tokens go to the vault",
            f"the callback showed {done if isinstance(done, str) else done.title}",
        )

        story.step("The completion notice arrives and the retry uses the connection")
        story.check(await notices.wait(eid), "notice received", "no completion notice")
        result = await client.call_tool("next_meeting", {})
        story.check("design review" in _text(result), _text(result), f"retry failed: {_text(result)!r}")


async def _approval_story(story: Story, stage: Stage) -> None:
    payment = {"amount": "120.00", "currency": "EUR", "payee": "ACME Tools Ltd", "description": "Invoice 114"}
    async with _alice(stage) as (alice, client, notices):
        story.step("The client calls `send_payment`")
        url, eid = await _needs(client, "send_payment", payment)
        story.ok(f"-32042: approval needed at {url}")

        story.step("Alice signs in on the page, reviews exactly what will happen and approves")
        page = await alice.open(url)
        story.check(
            all(v in page.text for v in ("120.00 EUR", "ACME Tools Ltd", "Invoice 114")),
            "the page shows amount, currency, payee and description from the record",
            "the approval page does not show the payment's details",
        )
        done = await alice.submit(page, {"action": "approve"})
        story.check(not isinstance(done, str) and done.title == "Approved", "approved", "approval failed")
        story.check(await notices.wait(eid), "notice received", "no completion notice")

        story.step("The retry runs the payment once; the same call again needs a new approval")
        result = await client.call_tool("send_payment", payment)
        story.check(
            _text(result) == "Paid 120.00 EUR to ACME Tools Ltd.",
            _text(result),
            f"retry answered {_text(result)!r}",
        )
        again, _ = await _needs(client, "send_payment", payment)
        story.check(again != url, "the approval was used up", "the approval could be used twice")


class _Notices:
    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.ids: list[str] = []
        self._changed = anyio.Event()

    async def on_message(self, message: object) -> None:
        if isinstance(message, ElicitCompleteNotification):
            self.ids.append(message.params.elicitation_id)
            self._changed.set()

    async def wait(self, eid: str, timeout: float = 10) -> bool:
        with anyio.move_on_after(timeout):
            while eid not in self.ids:
                self._changed = anyio.Event()
                await self._changed.wait()
        if eid in self.ids:  # told with the step that waits for it, however early it came
            self.stage.heard_notice()
        return eid in self.ids


async def _needs(client: Any, tool: str, arguments: dict[str, Any]) -> tuple[str, str]:
    try:
        result = await client.call_tool(tool, arguments)
    except MCPError as error:
        if error.code != URL_ELICITATION_REQUIRED:
            raise StepFailed(f"expected -32042, got {error.code}") from None
        item = error.data["elicitations"][0]
        return str(item["url"]), str(item["elicitationId"])
    raise StepFailed(f"{tool} ran without asking: {_text(result)!r}")


_ACCEPT = ElicitResult(action="accept")


async def _accept(*_: object) -> ElicitResult:
    return _ACCEPT


async def _bob_is_refused(story: Story, stage: Stage, bob: ScriptedBrowser, url: str) -> None:
    story.step("Bob gets hold of the link and opens it in his own browser")
    page = await bob.open(url)
    story.check(
        page.asks_sign_in and "Weather API key" not in page.text,
        "the page shows nothing and asks who is there (on plain http a cookie proves nothing: "
        "the browser shares it with every local port)",
        f"Bob saw {page.title!r} (HTTP {page.status})",
    )
    page = await bob.sign_in(page, "bob", DEMO_USERS["bob"])
    story.check(
        page.status == 403 and "not yours" in page.title.lower(),
        f"Bob is refused: {page.title!r} (HTTP {page.status})",
        f"Bob saw {page.title!r} (HTTP {page.status})",
    )
    record = await stage.store.ledger.get(url.rsplit("/", 1)[1])
    story.check(record.pending, "the request is still pending for Alice", f"record is {record.status}")


async def _alice_enters_her_key(story: Story, alice: ScriptedBrowser, url: str, note: str) -> float:
    story.step(f"Alice opens the link {note}, signs in on its page and enters her key".replace(" ,", ","))
    page = await alice.open(url)  # her browser signs in where the page asks, as she would
    story.check(
        page.status == 200 and page.title == "Weather API key",
        f"Alice sees {page.title!r}",
        f"Alice saw {page.title!r} (HTTP {page.status})",
    )
    bad = await alice.submit(page, {"value": "not-a-key", "action": "save"})
    if isinstance(bad, str) or bad.status != 422:
        raise StepFailed("a malformed key was accepted")
    story.ok("a malformed key is refused by the server's check")
    done = await alice.submit(bad, {"value": KEY, "action": "save"})
    saved_at = time.perf_counter()
    story.check(
        not isinstance(done, str) and done.title == "Saved",
        "the key is stored, encrypted",
        f"saving failed: {done if isinstance(done, str) else done.title}",
    )
    return saved_at


async def _audit(story: Story, stage: Stage, record_id: str) -> None:
    story.step("The audit log tells what happened (never the key)")
    entries = await stage.store.audit.read(record_id=record_id)
    if stage.router is not None:
        story.say("   (read from the database the replicas share; each line was written by one of them)")
    for entry in entries:
        story.say(
            f"   {entry.event:<18} {entry.principal or '-':<6} from {entry.remote or '-'}"
            + (f"  ({entry.detail})" if entry.detail else "")
        )
    events = [e.event for e in entries]
    story.check(
        "identity_mismatch" in events and "completed" in events,
        "Bob's attempt and Alice's completion are both on record",
        f"audit had {events}",
    )


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)
