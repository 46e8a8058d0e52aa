"""One principal cannot take every 2025-11-25 session of a process: each holds at most
`sessions_per_principal` (32 by default), its own oldest session closing to make room, and nobody
else's is touched. Real demo over HTTP, sessions opened with raw `initialize` requests."""

from __future__ import annotations

import pytest
from _mcp import RawClient
from conftest import Running

from handoff._sessions import DEFAULT_SESSIONS_PER_PRINCIPAL
from handoff.demo import ScriptedBrowser
from handoff.demo._client import signed_in_http

pytestmark = pytest.mark.anyio
MORE = 8


async def opened(running: Running, http: object, n: int) -> list[RawClient]:
    clients = []
    for _ in range(n):
        client = RawClient(running.mcp_url, http)  # type: ignore[arg-type]
        await client.initialize({})
        clients.append(client)
    return clients


async def answers(client: RawClient) -> int:
    """The HTTP status of a request on the client's session."""
    response = await client.http.post(
        client.url,
        json={"jsonrpc": "2.0", "id": 99, "method": "tools/list", "params": {}},
        headers={
            "accept": "application/json, text/event-stream",
            "mcp-session-id": client.session or "",
            "mcp-protocol-version": client.version,
        },
    )
    return response.status_code


@pytest.mark.parametrize("framework", ["sdk", "fastmcp"], indirect=True)
async def test_a_principal_past_its_bound_closes_its_own_oldest_sessions_only(running: Running):
    async with ScriptedBrowser(running.origin) as browser:
        alice = signed_in_http(running.mcp_url, browser, "alice", "alice-demo-password")
        bob = signed_in_http(running.mcp_url, browser, "bob", "bob-demo-password")
        async with alice, bob:
            bobs = await opened(running, bob, 2)
            alices = await opened(running, alice, DEFAULT_SESSIONS_PER_PRINCIPAL + MORE)
            sessions = running.demo.handoff.sessions
            assert sessions is not None
            assert sessions.count("alice") == DEFAULT_SESSIONS_PER_PRINCIPAL
            assert sessions.closed_for_bound == MORE
            assert [await answers(c) for c in alices[:MORE]] == [404] * MORE  # her oldest: closed
            assert {await answers(c) for c in alices[MORE:]} == {200}  # the rest: open
            assert [await answers(c) for c in bobs] == [200, 200]  # bob's untouched
            late = await opened(running, bob, 1)  # and bob opens more at once
            assert await answers(late[0]) == 200 and sessions.count("bob") == 3
