"""The built-in authorization server under floods, as bounded loads over real HTTP on loopback: what one
requester sends fills only its own share (per client id, per address), and its own oldest entries make
room for its newest; nobody else is locked out. (On SQLite, on PostgreSQL, and on a server that keeps
everything in memory.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx2
import pytest
from test_authserver import LOOPBACK, OAuthPeer

from handoff.demo import DEMO_USERS
from handoff.identity import _authserver

pytestmark = pytest.mark.anyio

Peers = Callable[[str], AsyncIterator[OAuthPeer]]


@pytest.fixture
def from_address(running) -> Peers:
    """An MCP client's OAuth steps sent from one loopback address (127.0.0.2, 127.0.0.3, ...)."""

    @asynccontextmanager
    async def peer(address: str) -> AsyncIterator[OAuthPeer]:
        transport = httpx2.AsyncHTTPTransport(local_address=address)
        async with httpx2.AsyncClient(transport=transport, timeout=30) as http:
            yield OAuthPeer(running.origin, http)

    return peer  # type: ignore[return-value]


async def _start(peer: OAuthPeer, client: dict) -> httpx2.Response:
    """An unauthenticated GET /authorize, as a flood sends it: nobody ever signs in."""
    return await peer.http.get(peer.authorize_url(client, LOOPBACK)[0])


async def test_one_client_flooding_sign_ins_from_many_addresses_keeps_only_its_newest(
    running, from_address, browsers, monkeypatch
):
    monkeypatch.setattr(_authserver, "MAX_PENDING_REQUESTS", 60)
    async with from_address("127.0.0.2") as mallory:
        flooder = await mallory.client(name="flooder")
    first = None
    for n in range(61):  # one more than the whole pool
        async with from_address(f"127.0.0.{2 + n % 5}") as mallory:
            answer = await _start(mallory, flooder)
            assert answer.status_code == 302 and "error=" not in answer.headers["location"]
            first = first or answer.headers["location"]
    assert await running.demo.auth.store.count("as.request") == _authserver.MAX_PENDING_PER_CLIENT

    async with from_address("127.0.0.9") as someone:
        await someone.sign_in(browsers(), await someone.client(name="someone else"))  # at once
        assert (await someone.http.get(first)).status_code == 404  # the flooder's oldest is gone


async def test_one_address_flooding_sign_ins_with_many_clients_keeps_only_its_newest(
    running, from_address, browsers, monkeypatch
):
    monkeypatch.setattr(_authserver, "MAX_PENDING_REQUESTS", 60)
    async with from_address("127.0.0.2") as mallory:
        clients = [await mallory.client(name=f"flooder {n}") for n in range(5)]
        for n in range(61):
            answer = await _start(mallory, clients[n % 5])
            assert answer.status_code == 302 and "error=" not in answer.headers["location"]
    assert await running.demo.auth.store.count("as.request") == _authserver.MAX_PENDING_PER_ADDRESS

    async with from_address("127.0.0.3") as someone:
        await someone.sign_in(browsers(), await someone.client(name="someone else"))


async def test_a_full_pool_holds_back_neither_a_signed_in_browser_nor_a_client_that_signed_in_before(
    running, from_address, browsers, monkeypatch
):
    async with from_address("127.0.0.9") as returning:
        known = await returning.client(name="signed in before")
        await returning.sign_in(browsers(), known)
    monkeypatch.setattr(_authserver, "MAX_PENDING_REQUESTS", 4)
    for n in range(4):  # four strangers, each well within its own share, fill the whole pool
        async with from_address(f"127.0.0.{2 + n}") as stranger:
            assert (await _start(stranger, await stranger.client())).status_code == 302
    async with from_address("127.0.0.7") as newcomer:
        fresh = await newcomer.client(name="new here")
        full = await _start(newcomer, fresh)
        assert "error=temporarily_unavailable" in full.headers["location"]  # the pool does bound them

        async with from_address("127.0.0.9") as returning:
            answer = await _start(returning, known)
            assert "/handoff/authorize/" in answer.headers["location"]
        # On plain http a browser's cookie proves nothing (every local port shares it): a signed-in
        # browser waits like anyone; over https its session lets it past (below).
        alice = browsers()
        page = await alice.open(f"{running.origin}/handoff/login")
        await alice.sign_in(page, "alice", DEMO_USERS["alice"])
        held = await alice.http.get(newcomer.authorize_url(fresh, LOOPBACK)[0])
        assert "error=temporarily_unavailable" in held.headers["location"]


async def test_over_https_a_full_pool_does_not_hold_back_a_signed_in_browser(tmp_path, store, monkeypatch):
    from _tls import loopback_certificate
    from conftest import Running

    from handoff.demo import ScriptedBrowser

    key, certificate = loopback_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    server = Running(tmp_path / "data", tls=(key, certificate), database_url=store).start()
    monkeypatch.setattr(_authserver, "MAX_PENDING_REQUESTS", 2)
    try:
        async with httpx2.AsyncClient(timeout=30) as http:
            peer = OAuthPeer(server.origin, http)
            for _ in range(2):
                assert (await _start(peer, await peer.client())).status_code == 302
            fresh = await peer.client(name="new here")
            assert "error=temporarily_unavailable" in (await _start(peer, fresh)).headers["location"]
            async with ScriptedBrowser(server.origin) as alice:
                page = await alice.open(f"{server.origin}/handoff/login")
                await alice.sign_in(page, "alice", DEMO_USERS["alice"])
                await peer.sign_in(alice, fresh)  # her browser is signed in: the new app's sign-in goes on
    finally:
        server.stop()


async def test_one_address_flooding_registrations_leaves_room_for_everyone_else(
    running, from_address, monkeypatch
):
    monkeypatch.setattr(_authserver, "MAX_NEW_CLIENTS", 60)
    async with from_address("127.0.0.2") as mallory:
        flood = []
        for n in range(61):  # one more than the whole pool
            answer = await mallory.register(client_name=f"flood {n}", redirect_uris=[LOOPBACK])
            assert answer.status_code == 201, answer.text
            flood.append(answer.json()["client_id"])
    auth = running.demo.auth
    assert await auth.store.count("as.client.new") == _authserver.MAX_NEW_CLIENTS_PER_ADDRESS
    assert await auth.get_client(flood[0]) is None and await auth.get_client(flood[-1]) is not None

    async with from_address("127.0.0.3") as someone:
        answer = await someone.register(client_name="legitimate", redirect_uris=[LOOPBACK])
        assert answer.status_code == 201, answer.text


async def test_the_bounds_hold_on_a_server_that_keeps_everything_in_memory(monkeypatch):
    from _server import ServerThread, free_port
    from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
    from mcp.server.mcpserver import MCPServer

    from handoff import AuthServer, Handoff, Keyring, generate_key, hash_password

    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    auth = AuthServer(
        {"alice": hash_password("pw")}, signing_key=b"k" * 32, issuer=origin, pages_url=f"{origin}/handoff"
    )
    handoff = Handoff.in_memory(
        public_url=origin, browser=auth, secret_key=b"s" * 32, keyring=Keyring.parse(generate_key())
    )
    mcp = MCPServer(
        "in memory",
        log_level="WARNING",
        auth_server_provider=auth,
        auth=AuthSettings(
            issuer_url=origin,  # type: ignore[arg-type]
            resource_server_url=f"{origin}/mcp",  # type: ignore[arg-type]
            client_registration_options=ClientRegistrationOptions(enabled=True),
            validate_token_resource=True,
        ),
    )
    monkeypatch.setattr(_authserver, "MAX_NEW_CLIENTS", 60)
    monkeypatch.setattr(_authserver, "MAX_PENDING_REQUESTS", 60)
    server = ServerThread(handoff.app(mcp), port).start()

    async def sign_ins(address: str, clients: int, starts: int) -> None:
        transport = httpx2.AsyncHTTPTransport(local_address=address)
        async with httpx2.AsyncClient(transport=transport, timeout=30) as http:
            peer = OAuthPeer(origin, http)
            for _ in range(clients):
                client = await peer.client()
            for _ in range(starts):
                assert "/handoff/authorize/" in (await _start(peer, client)).headers["location"]

    try:
        await sign_ins("127.0.0.2", clients=61, starts=61)  # one more of each than the whole pool
        await sign_ins("127.0.0.3", clients=1, starts=1)  # and someone else still gets in
        assert await auth.store.count("as.client.new") == _authserver.MAX_NEW_CLIENTS_PER_ADDRESS + 1
        assert await auth.store.count("as.request") == _authserver.MAX_PENDING_PER_CLIENT + 1
    finally:
        server.stop()
