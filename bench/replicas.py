"""handoff as several replicas on one PostgreSQL database, against one process on SQLite (`replicas` mode).

    python bench/run.py replicas     # about 1 minute on 2 cores (needs PostgreSQL and haproxy)
    HANDOFF_DATABASE_URL=postgresql://… python bench/replicas.py PORT PUBLIC_URL DATA_DIR   # one replica

One run, one PostgreSQL server started by the bench (fsync and full-page writes off: fast, and what a
commit confirmed still survives a process dying; not what a machine crash needs), three replica
processes behind haproxy (the tests' `Cluster`: sticky 2025 sessions, `X-Handoff-Route` to pick a
replica), and the single-process benchmark server on SQLite (bench/server.py) as the baseline:

1. 2025-11-25: the browser's completion POST on replica B → the client, whose session is on replica A,
   holds `notifications/elicitation/complete` (targets: p99 ≤ 15 ms, ≤ 1.5 times one process);
2. 2026-07-28: a retry held on replica1, the browser completing on replica2 → the retry's result
   (target: p99 ≤ 15 ms);
3. the ledger's create+complete per second on PostgreSQL, beside SQLite durable and not, empty and
   with 100,000 pending records (target ≥ 1,000/s);
4. 1,000 waiting 2025 sessions over the three replicas, each with a pending record of its own, all
   approved in the browser on random replicas: notices sent, received, lost, and the time until the
   last arrived. The sessions are streamable HTTP by hand (initialize, a GET stream on a connection
   of its own, a call answered -32042), as 1,000 SDK clients would not fit beside three servers on
   two cores; the records are approvals of distinct payments, since one user's sessions asking for
   the same secret share one record.

Each latency figure alternates flows between the replicas and the single process, so what else the
machine does meanwhile falls on both alike. haproxy sends stream data with MSG_MORE unless configured
with `option http-no-delay`; a 2025 notice then waits up to 200 ms in the kernel. Where the balancer's
configuration lacks that option, figures 1 and 4 are taken again with it added (haproxy reloaded),
which doubles their time (about 2 minutes in all).

The replicas run this file rather than tests/replica_server.py: the same demo on the same database,
plus what the single-process benchmark server adds, so both sides of a ratio serve the same tools:
`bench_forget` (a fresh flow each time) and per-user limits raised past 1,000 pending and a minute's
creations (the demo's users are alice and bob; the default limits allow 20 pending and 30 a minute).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))


from handoff import Limits

FIXED_KEY = "wk_bench_1234567890"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"


def serve(port: int, public_url: str, database_url: str, data_dir: str) -> None:
    """One replica: the benchmark server's demo (bench/server.py) on the shared database."""
    import logging

    import uvicorn
    from server import bench_demo

    logging.disable(logging.WARNING)
    demo = bench_demo(public_url, data_dir, retry_wait=25.0, database_url=database_url)
    uvicorn.run(demo.app, host="127.0.0.1", port=port, log_level="error", proxy_headers=False)


# -- figures


def _ratio(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {"median": a["median_ms"] / b["median_ms"], "p99": a["p99_ms"] / b["p99_ms"]}


def _show_ratio(what: str, r: dict[str, float], target: str = "") -> None:
    print(f"  {what}: median {r['median']:.2f}x, p99 {r['p99']:.2f}x{'  ' + target if target else ''}")


Flow = Callable[[], Awaitable[tuple[float, ...]]]
"""One timed flow of one side of a comparison: its samples, in seconds."""


async def _interleaved(sides: dict[str, Flow], flows: int, warmup: int) -> dict[str, list[tuple[float, ...]]]:
    """`flows` flows of each side, alternating (and the order flipped each round), so that whatever
    else this machine does meanwhile falls on both sides alike; the first `warmup` are not kept."""
    kept: dict[str, list[tuple[float, ...]]] = {name: [] for name in sides}
    for i in range(flows + warmup):
        order = list(sides.items())
        for name, flow in order if i % 2 else reversed(order):
            got = await flow()
            if i >= warmup:
                kept[name].append(got)
    return kept


async def _retry(client: Any, state: str | None, box: list[Any]) -> None:
    from mcp_types import ElicitResult

    box.append(
        await client.session.call_tool(
            "forecast",
            {"city": "x"},
            request_state=state,
            input_responses={"weather_api_key": ElicitResult(action="accept")},
            allow_input_required=True,
        )
    )
    box.append(time.perf_counter())


async def _retry_flow(client: Any, browser: Any) -> tuple[float]:
    """2026-07-28: first call (input required), the retry sent and held, then the browser's POST;
    time from the POST being sent to the retry's result."""
    from mcp_types import InputRequiredResult

    await client.call_tool("bench_forget", {})
    first = await client.session.call_tool("forecast", {"city": "x"}, allow_input_required=True)
    assert isinstance(first, InputRequiredResult) and first.input_requests, first
    (request,) = first.input_requests.values()
    url = request.params.url
    page = await browser.open(url)
    answers: list[Any] = []
    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_retry, client, first.request_state, answers)
            await anyio.sleep(0.1)  # the retry reaches its replica and is held there
            assert not answers, "the retry was not held"
            start = time.perf_counter()
            response = await browser.http.post(
                url, data={"value": FIXED_KEY, "action": "save", "csrf": page.csrf or ""}
            )
            assert response.status_code == 200, response.status_code
    result, at = answers
    assert not isinstance(result, InputRequiredResult) and not result.is_error, result
    return (at - start,)


NO_DELAY = "option http-no-delay"
"""haproxy sends stream data with MSG_MORE unless told this: the kernel then holds a lone small chunk
(an SSE event) for up to 200 ms waiting for more. A held 2026 retry is not affected (its response ends,
and the end is flushed); a 2025 notice on a session's open GET stream is."""


@contextmanager
def no_delay(balancer: Any) -> Iterator[bool]:
    """`balancer` (haproxy) sending stream data at once, until the block ends (then as shipped again);
    yields False, changing nothing, when its configuration already says so."""
    shipped = balancer.config
    text = shipped()
    if NO_DELAY in text:
        yield False
        return
    patched = text.replace("defaults\n    mode http\n", f"defaults\n    mode http\n    {NO_DELAY}\n", 1)
    assert NO_DELAY in patched, "the balancer's configuration changed shape"
    balancer.config = lambda: patched
    balancer.reload(balancer.backends)
    try:
        yield True
    finally:
        balancer.config = shipped
        balancer.reload(balancer.backends)


@asynccontextmanager
async def _single_side(single: Any, mode: str, flow: Callable[..., Any]) -> AsyncIterator[Flow]:
    """The flow against the single-process server (SQLite), alice's client signed in."""
    from _mcp import user_client

    from handoff.demo import ScriptedBrowser

    async with ScriptedBrowser(single.url) as browser:
        async with user_client(single.mcp_url, browser, "alice", mode=mode) as (client, notices):
            if mode == "legacy":
                yield lambda: flow(client, notices, browser)
            else:
                yield lambda: flow(client, browser)


@asynccontextmanager
async def _notice_side(cluster: Any) -> AsyncIterator[tuple[Flow, str, list[str]]]:
    """The 2025 client through the balancer, its session wherever the balancer put it; each flow's
    browser steps on one of the other replicas, in turn. Yields the flow, the session's replica and
    the others."""
    from _cluster import Route

    target: list[str | None] = [None]
    route: Route = lambda _request: target[0]  # noqa: E731
    browser, seen = cluster.browser(route)
    async with browser, cluster.client(browser, "alice") as (client, notices, mcp):
        await client.call_tool("whoami", {})
        (home,) = mcp.names("/mcp", session=True)  # the 2025 session sticks to one replica
        others = [r.name for r in cluster.replicas if r.name != home]
        turn = itertools.count()

        async def flow() -> tuple[float, float]:
            from run import notice_flow

            target[0] = others[next(turn) % len(others)]
            return await notice_flow(client, notices, browser)

        seen.by.clear()
        yield flow, home, others
        assert home not in seen.names("/handoff/e/"), "a browser step was served by the session's replica"
        assert mcp.names("/mcp", session=True) == {home}


async def _notice_round(cluster: Any, single: Any, flows: int) -> dict[str, Any]:
    from run import notice_flow, summary

    async with (
        _single_side(single, "legacy", notice_flow) as one,
        _notice_side(cluster) as (replicas, home, others),
    ):
        got = await _interleaved({"single": one, "replicas": replicas}, flows, warmup=5)
    found: dict[str, Any] = {"home": home, "browser_on": others}
    for side, samples in got.items():
        found[side] = summary([s[0] for s in samples])
        found[f"{side}_post"] = summary([s[1] for s in samples])
    found["ratio"] = _ratio(found["replicas"], found["single"])
    return found


def _show_notice(found: dict[str, Any], target: str = "") -> None:
    from run import show

    show("one process, SQLite: POST alone", found["single_post"])
    show("one process, SQLite (baseline)", found["single"])
    show("replicas: POST alone, on B", found["replicas_post"])
    show("replicas: POST sent → notice at A", found["replicas"])
    _show_ratio("replicas ÷ one process", found["ratio"], target)


async def figure_notice(cluster: Any, single: Any, flows: int) -> dict[str, object]:
    found = await _notice_round(cluster, single, flows)
    print(
        f"2025-11-25 notice: completion POST on replica B → notice at the client on A "
        f"({flows} flows each, interleaved with one process):"
    )
    _show_notice(found, "(targets: p99 ≤ 15 ms, ≤ 1.5x)")
    print(f"  (the client's session on {found['home']}, the browser on {' and '.join(found['browser_on'])})")
    with no_delay(cluster.balancer) as changed:
        if changed:
            again = await _notice_round(cluster, single, flows)
            print(f"  again, haproxy with `{NO_DELAY}` (the balancer as configured lacks it):")
            _show_notice(again)
            found["no_delay"] = again
    return found


async def figure_retry(cluster: Any, single: Any, flows: int) -> dict[str, object]:
    from _cluster import to
    from run import show, summary

    browser, seen = cluster.browser(to("replica2"))
    async with (
        _single_side(single, MODERN, _retry_flow) as one,
        browser,
        cluster.client(browser, "alice", route=to("replica1"), mode=MODERN) as (client, _, mcp),
    ):
        seen.by.clear()

        async def replicas() -> tuple[float]:
            return await _retry_flow(client, browser)

        got = await _interleaved({"single": one, "replicas": replicas}, flows, warmup=3)
    assert mcp.names("/mcp") == {"replica1"} and seen.names("/handoff/e/") == {"replica2"}
    b, c = summary([s[0] for s in got["single"]]), summary([s[0] for s in got["replicas"]])
    print(
        "2026-07-28 held retry: completion POST on replica2 → the retry held on replica1 returns "
        f"({flows} flows each, interleaved):"
    )
    show("one process, SQLite (baseline)", b)
    show("replicas", c)
    r = _ratio(c, b)
    _show_ratio("replicas ÷ one process", r, "(target: p99 ≤ 15 ms)")
    return {"single": b, "replicas": c, "ratio": r}


async def _together(ledger: Any, n: int, tasks: int) -> float:
    """Pairs per second with `tasks` of them under way at once (each task its own users)."""
    from handoff.ledger import Draft, Status

    async def pairs(t: int) -> None:
        for i in range(n // tasks):
            record = await ledger.create(
                Draft(principal=f"t{t}-user{i % 50}", kind="secret", params={"name": "k"}, key="k")
            )
            await ledger.finish(record.id, Status.COMPLETED)

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for t in range(tasks):
            tg.start_soon(pairs, t)
    return (n // tasks) * tasks / (time.perf_counter() - start)


async def _pairs(ledger: Any, n: int, users: str) -> float:
    """Seconds for `n` create+complete pairs, one at a time (bench_ledger's loop, users of its own)."""
    from handoff.ledger import Draft, Status

    start = time.perf_counter()
    for i in range(n):
        record = await ledger.create(
            Draft(principal=f"{users}{i % 500}", kind="secret", params={"name": "k"}, key="k")
        )
        await ledger.finish(record.id, Status.COMPLETED)
    return time.perf_counter() - start


async def _copy_pending(url: str, pending: int) -> float:
    """`pending` pending records of 5,000 other users, COPYed in; returns the seconds it took."""
    import psycopg
    from run import pending_rows

    rows = pending_rows(pending, expires_at=time.time() + 3600)
    columns = "id, principal, client_id, kind, params, status, created_at, expires_at, completed_at, "
    columns += "key, acknowledged"
    start = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        async with conn.cursor() as cursor:
            async with cursor.copy(f"COPY handoff.records ({columns}) FROM STDIN") as copy:
                for row in rows:
                    await copy.write_row(row)
        await conn.execute("ANALYZE handoff.records")
    return time.perf_counter() - start


async def figure_ledger(
    empty_url: str, full_url: str, n: int = 5000, pending: int = 100_000, blocks: int = 10
) -> dict[str, object]:
    """create+complete pairs one at a time: SQLite (durable and not), PostgreSQL empty and with
    `pending` pending records, in alternating blocks of n/blocks pairs; then PostgreSQL 8 at a time."""
    from handoff._db import Database
    from handoff._postgres import PostgresDatabase
    from handoff.ledger import SqlLedger

    unlimited = Limits(max_pending=10**9, max_per_minute=10**9)
    with tempfile.TemporaryDirectory() as tmp:
        databases = {
            "sqlite_normal": Database(Path(tmp) / "n.db", durable=False),
            "sqlite_full": Database(Path(tmp) / "a.db"),
            "postgresql_empty": PostgresDatabase(empty_url),
            "postgresql_pending": PostgresDatabase(full_url),
        }
        try:
            for db in databases.values():
                if isinstance(db, PostgresDatabase):
                    await db.start()
            loaded = await _copy_pending(full_url, pending)
            ledgers = {name: SqlLedger(db, limits=unlimited) for name, db in databases.items()}
            for name, ledger in ledgers.items():
                await _pairs(ledger, 200, f"warm-{name}-")  # connections made, statements prepared
            seconds = dict.fromkeys(ledgers, 0.0)
            for block in range(blocks):
                order = list(ledgers.items())
                for name, ledger in order if block % 2 else reversed(order):
                    seconds[name] += await _pairs(ledger, n // blocks, f"b{block}-")
            rate = {name: (n // blocks) * blocks / s for name, s in seconds.items()}
            together = await _together(ledgers["postgresql_empty"], n, tasks=8)
        finally:
            for db in databases.values():
                if isinstance(db, PostgresDatabase):
                    await db.stop()
                else:
                    db.close()
    sqlite_full, empty = rate["sqlite_full"], rate["postgresql_empty"]
    full = rate["postgresql_pending"]
    print(f"ledger create+complete ({n} pairs each, one at a time, in interleaved blocks):")
    print(f"  SQLite, synchronous=NORMAL         {rate['sqlite_normal']:10,.0f} /s   (not power-cut safe)")
    print(f"  SQLite, FULL (the default)         {sqlite_full:10,.0f} /s   (baseline)")
    print(f"  PostgreSQL, empty (loopback TCP)   {empty:10,.0f} /s   (target ≥ 1,000/s)")
    print(
        f"  PostgreSQL, {pending:,} pending     {full:10,.0f} /s   ratio to empty {full / empty:.2f}"
        f"   (COPY of the rows: {loaded:.1f} s)"
    )
    print(f"  PostgreSQL, empty, 8 at a time     {together:10,.0f} /s   (after the blocks)")
    print(f"  PostgreSQL ÷ SQLite FULL {empty / sqlite_full:.2f}x")
    return {
        **{f"{name}_per_s": r for name, r in rate.items()},
        "postgresql_8_at_a_time_per_s": together,
        "pending": pending,
        "ratio_to_sqlite_full": empty / sqlite_full,
    }


# -- 1,000 waiting sessions


class Tally:
    """Counts sessions told; `all` is set when every one of `expected` was."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.told = 0
        self.all = anyio.Event()

    def count(self) -> None:
        self.told += 1
        if self.told >= self.expected:
            self.all.set()


class Waiting:
    """One 2025-11-25 session by hand: `initialize` (the balancer picks the replica and keeps the
    session there), its GET stream on a connection of its own, and a call that needs the browser."""

    def __init__(self, n: int, origin: str, authorization: str, tally: Tally, run: str) -> None:
        self.n = n
        self.run = run
        self.origin = origin
        self.authorization = authorization
        self.tally = tally
        self.session = ""
        self.replica = ""
        self.record = ""
        self.url = ""
        self.noticed: float | None = None
        self.others: list[str] = []
        """Completion notices for records that are not this session's (there must be none)."""
        self._writer: asyncio.StreamWriter | None = None
        self._next_id = 0

    def _headers(self) -> dict[str, str]:
        headers = {
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
            "mcp-protocol-version": LEGACY,
            "authorization": self.authorization,
        }
        if self.session:
            headers["mcp-session-id"] = self.session
        return headers

    async def _post(self, http: Any, body: dict[str, Any]) -> dict[str, Any] | None:
        response = await http.post(f"{self.origin}/mcp", content=json.dumps(body), headers=self._headers())
        response.raise_for_status()
        if not self.session:
            self.session = response.headers["mcp-session-id"]
            self.replica = response.headers.get("x-handoff-replica", "?")
        elif response.headers.get("x-handoff-replica", "?") != self.replica:
            raise AssertionError(f"session {self.n} moved from {self.replica}")
        if "id" not in body:
            return None
        for line in response.text.splitlines() if "event-stream" in response.headers["content-type"] else []:
            if line.startswith("data:") and line[5:].strip():
                message = json.loads(line[5:])
                if message.get("id") == body["id"]:
                    return dict(message)
        return dict(response.json())

    async def request(self, http: Any, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        answer = await self._post(
            http, {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        )
        assert answer is not None
        return answer

    async def start(self, http: Any, tg: Any) -> None:
        await self.request(
            http,
            "initialize",
            {
                "protocolVersion": LEGACY,
                "capabilities": {"elicitation": {"url": {}}},
                "clientInfo": {"name": "bench-waiting", "version": "0"},
            },
        )
        await self._post(http, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        reader = await self._open_stream()
        tg.start_soon(self._read, reader)
        # Arguments of their own, so a record of their own (an approval is for exactly these).
        arguments = {"amount": f"{self.n}.00", "currency": "EUR", "payee": f"payee {self.run}-{self.n}"}
        answer = await self.request(http, "tools/call", {"name": "send_payment", "arguments": arguments})
        error = answer.get("error") or {}
        assert error.get("code") == -32042, answer
        (elicitation,) = error["data"]["elicitations"]
        self.record, self.url = elicitation["elicitationId"], elicitation["url"]

    async def _open_stream(self) -> asyncio.StreamReader:
        """GET /mcp on a new connection; returns once the replica answered 200 (the stream is the
        session's from then on), with the reader at the start of the chunked body."""
        parts = urlsplit(self.origin)
        reader, self._writer = await asyncio.open_connection(parts.hostname, parts.port)
        headers = {**self._headers(), "accept": "text/event-stream"}
        del headers["content-type"]
        lines = ["GET /mcp HTTP/1.1", f"host: {parts.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        assert head.startswith("http/1.1 200"), head
        assert "transfer-encoding: chunked" in head, head
        assert f"x-handoff-replica: {self.replica}" in head, head
        return reader

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        try:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    return
                buffer += (await reader.readexactly(size + 2))[:-2]
                *events, buffer = buffer.replace(b"\r\n", b"\n").split(b"\n\n")
                for event in events:
                    self._event(event.decode())
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    def _event(self, event: str) -> None:
        for line in event.splitlines():
            if not line.startswith("data:") or not line[5:].strip():
                continue
            message = json.loads(line[5:])
            if message.get("method") != "notifications/elicitation/complete":
                continue
            record = message["params"]["elicitationId"]
            if record == self.record and self.noticed is None:
                self.noticed = time.perf_counter()
                self.tally.count()
            elif record != self.record:
                self.others.append(record)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


async def _signed_in(cluster: Any, user: str) -> tuple[Any, str]:
    """`user`'s browser, signed in on the cluster's pages, and an access token of theirs."""
    from handoff.demo import DEMO_USERS, ScriptedBrowser
    from handoff.demo._client import demo_client, signed_in_http

    browser = ScriptedBrowser(cluster.origin)
    kept: dict[str, str] = {}

    async def keep(response: Any) -> None:
        if "authorization" in response.request.headers:
            kept["authorization"] = response.request.headers["authorization"]

    http = signed_in_http(cluster.mcp_url, browser, user, DEMO_USERS[user], hooks=[keep])
    async with http, demo_client(cluster.mcp_url, http, mode=MODERN) as client:
        await client.call_tool("whoami", {})
    return browser, kept["authorization"]


async def figure_many(
    cluster: Any, sessions: int = 1000, users: tuple[str, ...] = ("alice", "bob"), how: str = ""
) -> dict[str, object]:
    """`sessions` waiting 2025 sessions over the replicas (one connection each for its GET stream,
    the calls over a shared pool), each with its own pending approval; then every one approved in
    its user's browser, each page and POST on a random replica (an approval that asks for a sign-in
    of its own gets it; one page at a time per person, as a sign-in makes other tabs' forms stale).
    Counts the notices."""
    import httpx2
    from run import show, summary

    from handoff._capacity import raise_descriptor_limit
    from handoff.demo import DEMO_USERS
    from handoff.demo._browser import Page

    raise_descriptor_limit()
    signed = {user: await _signed_in(cluster, user) for user in users}
    rng = random.Random(11)
    names = [r.name for r in cluster.replicas]
    tally = Tally(sessions)
    run = secrets.token_hex(4)
    waiting = [
        Waiting(n, cluster.origin, signed[users[n % len(users)]][1], tally, run) for n in range(sessions)
    ]
    posted: dict[str, float] = {}
    failed: list[str] = []
    limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
    async with (
        httpx2.AsyncClient(limits=limits, timeout=httpx2.Timeout(60)) as http,
        anyio.create_task_group() as tg,
    ):
        started = time.perf_counter()
        gate = anyio.Semaphore(48)

        async def start(w: Waiting) -> None:
            async with gate:
                await w.start(http, tg)

        async with anyio.create_task_group() as setup:
            for w in waiting:
                setup.start_soon(start, w)
        set_up = time.perf_counter() - started
        spread = {name: sum(w.replica == name for w in waiting) for name in names}
        await anyio.sleep(0.5)  # idle a moment: every session waits
        assert all(w.noticed is None for w in waiting)
        queue = list(waiting)
        rng.shuffle(queue)

        one_tab = {user: anyio.Lock() for user in users}

        async def approve_all() -> None:
            while queue:
                w = queue.pop()
                browser = signed[users[w.n % len(users)]][0]
                page_on, post_on = rng.choice(names), rng.choice(names)
                user = users[w.n % len(users)]
                async with one_tab[user]:  # a sign-in in one tab would make another tab's form stale
                    got = await browser.http.get(w.url, headers={"x-handoff-route": page_on})
                    assert got.status_code == 200, got.status_code
                    page = Page(w.url, got.status_code, got.text)
                    if page.asks_sign_in:  # an approval asks for a sign-in of its own
                        page = await browser.sign_in(page, user, DEMO_USERS[user])
                    csrf = page.csrf or ""
                    posted[w.record] = time.perf_counter()
                    done = await browser.http.post(
                        w.url, data={"action": "approve", "csrf": csrf}, headers={"x-handoff-route": post_on}
                    )
                if done.status_code != 200:
                    failed.append(f"{w.record[:8]}… {done.status_code}")

        first = time.perf_counter()
        async with anyio.create_task_group() as browsers:
            for _ in range(16):
                browsers.start_soon(approve_all)
        last_post = time.perf_counter()
        with anyio.move_on_after(30):
            await tally.all.wait()
        for w in waiting:
            w.close()
        tg.cancel_scope.cancel()
    for browser, _ in signed.values():
        await browser.http.aclose()
    received = [w for w in waiting if w.noticed is not None]
    lost = [w for w in waiting if w.noticed is None]
    strays = sum(len(w.others) for w in waiting)
    latencies = [w.noticed - posted[w.record] for w in received if w.noticed is not None]
    everyone = max((w.noticed or 0.0) for w in received) - first if received else float("nan")
    lat = summary(latencies) if latencies else {"n": 0, "median_ms": float("nan"), "p99_ms": float("nan")}
    sent = len(posted) - len(failed)
    print(
        f"{sessions:,} waiting 2025 sessions over {len(names)} replicas "
        f"({', '.join(f'{n}: {c}' for n, c in spread.items())}; users {', '.join(users)}){how}:"
    )
    print(f"  set up in {set_up:.1f} s (initialize, GET stream, a call answered -32042, for each)")
    print(
        f"  completions sent {sent:,} (refused {len(failed)}), notices received {len(received):,}, "
        f"lost {len(lost)}, at a wrong session {strays}"
    )
    print(
        f"  all {sessions:,} approved in {last_post - first:.1f} s ({sessions / (last_post - first):,.0f}/s, "
        f"each person's pages one at a time); last notice {everyone:.2f} s after the first POST"
    )
    show("POST sent → notice, under that load", lat)
    if failed:
        answers = sorted({f.rsplit(" ", 1)[1] for f in failed})
        print(f"  refused with HTTP {', '.join(answers)}; e.g. record {failed[0]}")
    if lost:
        where = sorted({w.replica for w in lost})
        print(f"  lost, by the session's replica: {where}; e.g. record {lost[0].record[:8]}…")
    return {
        "sessions": sessions,
        "by_replica": spread,
        "setup_s": set_up,
        "sent": sent,
        "refused": failed,
        "received": len(received),
        "lost": len(lost),
        "wrong_session": strays,
        "approve_s": last_post - first,
        "all_notified_s": everyone,
        "notice": lat,
    }


# -- the mode


def _cluster(database_url: str, data_dir: Path) -> Any:
    from _cluster import Cluster

    class BenchCluster(Cluster):
        """The tests' cluster (haproxy in front, `X-Handoff-Route`), replicas running `serve`."""

        def _spawn(self, replica: Any) -> None:
            import os
            import subprocess

            args = [sys.executable, __file__, str(replica.port), self.origin, str(self.data_dir)]
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "HANDOFF_DATABASE_URL": self.database_url}
            replica.process = subprocess.Popen(args, env=env)

    return BenchCluster(database_url, data_dir)


async def bench_replicas(
    notice_flows: int = 150, retry_flows: int = 40, sessions: int = 1000
) -> dict[str, object]:
    from _postgres import Postgres
    from run import Server

    started = time.perf_counter()
    postgres = Postgres().start()
    print(
        f"PostgreSQL {postgres.bindir.parent.name} on 127.0.0.1, started by the bench: fsync=off, "
        "full_page_writes=off (synchronous_commit on); 3 replicas behind haproxy, all on this machine\n"
    )
    results: dict[str, object] = {"postgresql": {"fsync": "off", "full_page_writes": "off"}}
    try:
        empty, full = postgres.fresh_database("ledger"), postgres.fresh_database("ledger_pending")
        results["ledger"] = await figure_ledger(empty, full)
        print()
        with tempfile.TemporaryDirectory() as single_data, tempfile.TemporaryDirectory() as cluster_data:
            single = Server(single_data)
            cluster = _cluster(postgres.fresh_database("replicas"), Path(cluster_data))
            try:
                cluster.start()
                results["notice"] = await figure_notice(cluster, single, notice_flows)
                print()
                results["retry"] = await figure_retry(cluster, single, retry_flows)
                print()
                results["many"] = await figure_many(cluster, sessions)
                print()
                with no_delay(cluster.balancer) as changed:
                    if changed:
                        how = f", haproxy with `{NO_DELAY}`"
                        results["many_no_delay"] = await figure_many(cluster, sessions, how=how)
                        print()
            finally:
                cluster.stop()
                cluster.balancer.close()
                single.stop()
    finally:
        postgres.close()
    took = time.perf_counter() - started
    print(f"replicas mode took {took:.0f} s")
    results["seconds"] = took
    return results


if __name__ == "__main__":
    import os

    serve(int(sys.argv[1]), sys.argv[2], os.environ["HANDOFF_DATABASE_URL"], sys.argv[3])
