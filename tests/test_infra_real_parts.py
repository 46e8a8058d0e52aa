"""The real PostgreSQL and haproxy under the replica tests: they run, and behave as those tests assume."""

from __future__ import annotations

import itertools
import secrets
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx2
import psycopg
import pytest
from _haproxy import Haproxy
from _postgres import Postgres
from _server import ServerThread, free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

# -- PostgreSQL


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with Postgres() as server:
        yield server


def test_postgres_serves_the_handoff_database_to_the_handoff_role(postgres: Postgres) -> None:
    assert postgres.url == f"postgresql://handoff:{postgres.password}@127.0.0.1:{postgres.port}/handoff"
    with psycopg.connect(postgres.url) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("handoff", "handoff")
    with psycopg.connect(postgres.admin_url) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
            True,
        )


def test_postgres_checks_passwords(postgres: Postgres) -> None:
    wrong = postgres.url.replace(postgres.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()


def test_fresh_databases_are_empty_isolated_and_owned_by_handoff(postgres: Postgres) -> None:
    first, second = postgres.fresh_database("infra_first"), postgres.fresh_database("infra_second")
    assert first.endswith("/infra_first") and second.endswith("/infra_second")
    with psycopg.connect(first) as conn:
        conn.execute("CREATE TABLE rows (n int)")
        conn.execute("INSERT INTO rows VALUES (1)")
    with psycopg.connect(second) as conn:
        assert conn.execute("SELECT to_regclass('rows')").fetchone() == (None,)
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        assert owner == ("handoff",)
    with pytest.raises(psycopg.errors.DuplicateDatabase):
        postgres.fresh_database("infra_first")


def test_restart_keeps_the_data_and_the_port(postgres: Postgres) -> None:
    url = postgres.fresh_database("infra_restart")
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE kept (s text)")
        conn.execute("INSERT INTO kept VALUES ('before')")
    port = postgres.port
    postgres.restart()
    assert postgres.port == port and postgres.url.endswith(f":{port}/handoff")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT s FROM kept").fetchall() == [("before",)]


def test_a_killed_server_starts_again_with_its_committed_data(postgres: Postgres) -> None:
    url = postgres.fresh_database("infra_kill")
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE kept (s text)")
        conn.execute("INSERT INTO kept VALUES ('committed')")
    held = psycopg.connect(url)
    postgres.kill()
    with pytest.raises(psycopg.OperationalError):
        held.execute("SELECT 1")
    held.close()
    postgres.start()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT s FROM kept").fetchall() == [("committed",)]


def test_passwords_never_appear_in_the_repr(postgres: Postgres) -> None:
    admin_password = postgres.admin_url.split("@")[0].rsplit(":", 1)[1]
    assert len(postgres.password) > 16 and len(admin_password) > 16
    for text in (repr(postgres), str(postgres)):
        assert str(postgres.port) in text
        assert postgres.password not in text and admin_password not in text


# -- haproxy


RELEASES: dict[str, threading.Event] = {}


def replica_app(name: str) -> Starlette:
    """A stand-in replica: says who it is, starts MCP-like sessions, and streams in two parts."""

    async def who(request: Request) -> Response:
        return PlainTextResponse(name)

    async def mcp(request: Request) -> Response:
        session = request.headers.get("mcp-session-id") or f"{name}-{secrets.token_hex(8)}"
        return PlainTextResponse(name, headers={"Mcp-Session-Id": session})

    async def stream(request: Request) -> Response:
        release = RELEASES[request.query_params["id"]]

        async def events() -> AsyncIterator[bytes]:
            yield b"data: first\n\n"
            released = await anyio.to_thread.run_sync(release.wait, 5)
            yield b"data: last\n\n" if released else b"data: never released\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(
        routes=[Route("/who", who), Route("/mcp", mcp, methods=["POST"]), Route("/stream", stream)]
    )


@pytest.fixture(scope="module")
def proxy() -> Iterator[Haproxy]:
    replicas = [ServerThread(replica_app(f"replica{n}"), free_port()).start() for n in (1, 2)]
    try:
        with Haproxy([("127.0.0.1", r.port) for r in replicas]) as haproxy:
            yield haproxy
    finally:
        for replica in replicas:
            replica.stop()


def served_by(response: httpx2.Response) -> str:
    assert response.status_code == 200
    assert response.headers["x-handoff-replica"] == response.text  # haproxy's view matches the replica's
    return response.text


def test_haproxy_balances_plain_requests_round_robin(proxy: Haproxy) -> None:
    with httpx2.Client(base_url=proxy.url, timeout=5) as client:
        served = [served_by(client.get("/who")) for _ in range(6)]
    assert Counter(served) == {"replica1": 3, "replica2": 3}
    assert all(a != b for a, b in itertools.pairwise(served))


def test_haproxy_keeps_an_mcp_session_on_the_replica_that_started_it(proxy: Haproxy) -> None:
    with httpx2.Client(base_url=proxy.url, timeout=5) as client:
        started = [client.post("/mcp") for _ in range(2)]
        sessions = {r.headers["mcp-session-id"]: served_by(r) for r in started}
        assert sorted(sessions.values()) == ["replica1", "replica2"]
        served_by(client.get("/who"))  # round-robin alone would now send the first session elsewhere
        for session, replica in sessions.items():  # in a row: round-robin alone would alternate
            for _ in range(3):
                assert served_by(client.post("/mcp", headers={"Mcp-Session-Id": session})) == replica
        assert Counter(served_by(client.get("/who")) for _ in range(4)) == {"replica1": 2, "replica2": 2}


def test_haproxy_streams_a_response_as_it_is_written(proxy: Haproxy) -> None:
    key = secrets.token_hex(8)
    RELEASES[key] = release = threading.Event()
    with (
        httpx2.Client(base_url=proxy.url, timeout=3) as client,
        client.stream("GET", "/stream", params={"id": key}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-handoff-replica"] in ("replica1", "replica2")
        chunks = response.iter_bytes()
        received = next(chunks)
        assert received.startswith(b"data: first")  # while the replica still holds the response open
        release.set()
        received += b"".join(chunks)
    assert received == b"data: first\n\ndata: last\n\n"
