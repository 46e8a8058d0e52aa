"""`handoff demo` on several replicas: real server processes behind the real haproxy, one PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx2
import psycopg
import pytest
from _haproxy import Haproxy
from _server import ServerThread, free_port
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from handoff._errors import ConfigError
from handoff.cli import main
from handoff.demo import ScriptedBrowser, _balancer
from handoff.demo._walkthrough import Router, StepFailed

THREE = ["--replicas", "3"]
NO_DATABASE_ENV = {k: v for k, v in os.environ.items() if k != "HANDOFF_DATABASE_URL"}


@pytest.mark.parametrize("framework", ["sdk", "fastmcp"])
def test_the_walkthrough_runs_on_three_replicas_with_each_browser_step_elsewhere(
    database_url: str, framework: str
) -> None:
    command = [sys.executable, "-m", "handoff.cli", "demo", "--walkthrough", "--database", database_url]
    done = subprocess.run(
        [*command, *THREE, "--framework", framework],
        capture_output=True,
        text=True,
        timeout=180,
        env=NO_DATABASE_ENV,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "Every step held." in out and "✗" not in out
    password = psycopg.conninfo.conninfo_to_dict(database_url)["password"]
    assert password not in out + done.stderr and "wk_demo_1234567890" not in out

    chapters = out.split("\n== ")[1:]
    assert len(chapters) == 4  # both eras, the connection, the approval
    mcp_replicas, browser_replicas = set(), set()
    for chapter in chapters:
        lines = [line for line in chapter.splitlines() if "served by:" in line]
        mcp = {
            int(n)
            for line in lines
            for n in re.findall(r"MCP connection(?: closing)? \(replica (\d)\)", line)
        }
        assert len(mcp) == 1, chapter  # the connection stays where it started
        browsers = [
            int(n)
            for line in lines
            for group in re.findall(r"'s browser \(([^)]*)\)", line)
            for n in re.findall(r"replica (\d)", group)
        ]
        assert browsers and mcp.isdisjoint(browsers), chapter
        mcp_replicas |= mcp
        browser_replicas |= set(browsers)
    assert mcp_replicas == browser_replicas == {1, 2, 3}
    # Every step says who served it (the audit step reads the database the replicas share).
    for step in re.split(r"\n\d+\. ", out)[1:]:
        assert "served by:" in step or "held open" in step or "read from the database" in step, step

    # The walkthrough leaves an empty database as it found it, so it can run there again.
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT to_regnamespace('handoff')").fetchone() == (None,)


def test_several_replicas_need_a_database() -> None:
    out = CliRunner().invoke(
        main, ["demo", "--walkthrough", "--replicas", "3"], env={"HANDOFF_DATABASE_URL": None}
    )
    assert out.exit_code == 2
    assert "several replicas share one PostgreSQL database: pass --database postgresql://" in out.output


@pytest.mark.parametrize(
    "command",
    [
        ["demo", "--walkthrough", "--replicas", "3", "--database"],
        ["demo", "--database"],
        ["audit", "--db"],
    ],
    ids=["walkthrough", "serve", "audit"],
)
def test_an_unreachable_database_is_one_line_naming_the_host_never_the_password(command: list[str]) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://handoff:never-shown-pw-2718@127.0.0.1:{port}/handoff"
    out = CliRunner().invoke(main, [*command, url])
    assert out.exit_code == 1, out.output
    assert f"127.0.0.1:{port}" in out.output and "cannot reach database" in out.output
    assert "never-shown-pw-2718" not in out.output
    assert len(out.output.strip().splitlines()) == 1, out.output


def test_the_walkthrough_refuses_a_database_that_already_holds_handoff_data(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA handoff")
        conn.execute("CREATE TABLE handoff.records (id text)")
        conn.execute("INSERT INTO handoff.records VALUES ('left over')")
    out = CliRunner().invoke(main, ["demo", "--walkthrough", "--database", database_url])
    assert out.exit_code == 1
    assert "already holds handoff data" in out.output and "give it an empty database" in out.output


# The balancer's routing header, on stand-in replicas.


def named(name: str) -> Starlette:
    async def who(request: Request) -> Response:
        session = request.headers.get("mcp-session-id") or f"{name}-session"
        return PlainTextResponse(name, headers={"Mcp-Session-Id": session})

    return Starlette(routes=[Route("/who", who, methods=["GET", "POST"])])


@pytest.fixture(scope="module")
def routed() -> Iterator[Haproxy]:
    replicas = [ServerThread(named(f"replica{n}"), free_port()).start() for n in (1, 2, 3)]
    try:
        with Haproxy([("127.0.0.1", r.port) for r in replicas], route_header=True) as haproxy:
            yield haproxy
    finally:
        for replica in replicas:
            replica.stop()


def test_a_route_header_picks_the_replica_before_stickiness_and_balancing(routed: Haproxy) -> None:
    with httpx2.Client(base_url=routed.url, timeout=5) as client:
        for name in ("replica2", "replica3", "replica1", "replica2"):
            response = client.get("/who", headers={"X-Handoff-Route": name})
            assert response.text == name == response.headers["x-handoff-replica"]
        session = client.post("/who", headers={"X-Handoff-Route": "replica1"}).headers["mcp-session-id"]
        sticky = {"Mcp-Session-Id": session}
        assert {client.post("/who", headers=sticky).text for _ in range(3)} == {"replica1"}
        assert client.post("/who", headers={**sticky, "X-Handoff-Route": "replica3"}).text == "replica3"
        balanced = {client.get("/who").text for _ in range(3)}
        assert balanced == {"replica1", "replica2", "replica3"}


def test_the_routes_exist_only_when_asked_for() -> None:
    plain = _balancer.balancer_config([("127.0.0.1", 1), ("127.0.0.1", 2)], 3)
    assert "use-server" not in plain and "server replica2 127.0.0.1:2" in plain
    routes = _balancer.balancer_config([("127.0.0.1", 1), ("127.0.0.1", 2)], 3, route_header=True)
    assert "use-server replica2 if { req.hdr(x-handoff-route) -m str replica2 }" in routes


def test_without_haproxy_the_balancer_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_balancer.shutil, "which", lambda *_, **__: None)
    with pytest.raises(ConfigError, match="install haproxy: apt-get install haproxy"):
        _balancer.Balancer([("127.0.0.1", 1)])


# The walkthrough's router: a step served anywhere else than planned stops the story.


def _hooks(router: Router, browser: bool) -> tuple[Any, Any, Any]:
    client = ScriptedBrowser("http://127.0.0.1:1") if browser else None
    http = client.http if client else httpx2.AsyncClient()
    if client:
        router.watch_browser(client, "Alice")
    else:
        router.watch_mcp(http)
    return http, http.event_hooks["request"][0], http.event_hooks["response"][0]


async def _served(route: Any, served: Any, path: str, replica: str) -> httpx2.Request:
    request = httpx2.Request("GET", f"http://127.0.0.1:1{path}")
    await route(request)
    await served(httpx2.Response(200, headers={"X-Handoff-Replica": replica}, request=request))
    return request


@pytest.mark.anyio
async def test_a_browser_step_on_the_mcp_connections_replica_stops_the_walkthrough() -> None:
    router = Router(["replica1", "replica2", "replica3"])
    router.new_chapter()
    router.next_step()
    http, route, served = _hooks(router, browser=True)
    request = await _served(route, served, "/handoff/e/x", "replica2")
    assert request.headers["x-handoff-route"] == "replica2"  # the first of the others
    assert router.report() == "Alice's browser (replica 2)"
    router.next_step()
    await _served(route, served, "/handoff/e/x", "replica1")  # as if the route were ignored
    with pytest.raises(StepFailed, match="replica 1, the one holding the MCP connection"):
        router.report()
    await http.aclose()


@pytest.mark.anyio
async def test_an_mcp_connection_that_moves_stops_the_walkthrough() -> None:
    router = Router(["replica1", "replica2"])
    router.new_chapter()
    router.next_step()
    http, route, served = _hooks(router, browser=False)
    first = await _served(route, served, "/mcp", "replica1")
    assert first.headers["x-handoff-route"] == "replica1"  # only requests without a session are routed
    await _served(route, served, "/token", "replica2")  # sign-in endpoints go anywhere
    assert router.report() == "MCP connection (replica 1), OAuth endpoints (replica 2)"
    router.next_step()
    await _served(route, served, "/mcp", "replica2")
    with pytest.raises(StepFailed, match="the MCP connection moved"):
        router.report()
    await http.aclose()
