"""Third-party connections against a real OpenID Connect provider (oidc-provider, from npm) on loopback."""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace

import anyio
import httpx2
import pytest
from _mcp import text_of, user_client
from _web import Visit, go, submit, travel
from mcp import MCPError

from handoff.demo import DEMO_USERS
from handoff.ledger import Status
from handoff.oauth import TokenSet

pytestmark = pytest.mark.anyio


async def _needs_connection(client) -> dict:
    with pytest.raises(MCPError) as caught:
        await client.call_tool("next_meeting", {})
    return caught.value.data["elicitations"][0]


async def _start_connect(browser, url: str) -> str:
    """Open the record page and press Continue; return where the browser is sent (the provider)."""
    page = await browser.open(url)
    assert page.status == 200 and page.title == "Connect Calendar", page.text
    location = await browser.submit(page, {"action": "continue"})
    assert isinstance(location, str)
    return location


async def _at_provider(http, authorize_url: str, user: str = "alice") -> Visit:
    """Sign in at the provider and allow, then where the server asks, sign in there as the same user;
    return the page the browser lands on."""
    visit = await go(http, authorize_url)
    assert visit.status == 200 and "Sign-in" in visit.text
    visit = await submit(http, visit, {"login": user, "password": "any"})
    assert "Authorize" in visit.text or "consent" in visit.text.lower(), visit.text[:500]
    landed = await submit(http, visit, {})
    if 'name="password"' in landed.text and "/oauth/callback" in landed.url:
        # back on this plain-http server, which has several users: the person says who is back
        landed = await submit(http, landed, {"username": user, "password": DEMO_USERS[user]})
    return landed


async def test_connect_story_and_the_tool_gets_a_real_token(world, world_browsers):
    server = world.server
    browser = world_browsers()
    async with user_client(server.mcp_url, browser, "alice") as (client, notices):
        elicitation = await _needs_connection(client)
        authorize = await _start_connect(browser, elicitation["url"])
        assert authorize.startswith(f"{world.oidc}/auth?")
        for part in (
            "code_challenge_method=S256",
            "code_challenge=",
            "state=",
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A",
            "%2Fhandoff%2Foauth%2Fcallback",
        ):
            assert part in authorize
        landed = await _at_provider(browser.http, authorize)
        assert landed.hops[-1].startswith(f"{server.origin}/handoff/oauth/callback?code=")
        assert landed.status == 200 and "Connected" in landed.text
        assert await notices.wait_for(elicitation["elicitationId"])
        result = await client.call_tool("next_meeting", {})
        assert not result.is_error and "design review" in text_of(result)
    tokens = await server.demo.handoff.connections.load("alice", "calendar")
    assert tokens is not None and tokens.refresh_token and "calendar" in tokens.scopes()
    fingerprint = hashlib.sha256(tokens.access_token.encode()).hexdigest()[:8]  # labelled as what it is
    assert text_of(result).endswith(f"(read with your calendar token, SHA-256 fingerprint {fingerprint})")
    async with httpx2.AsyncClient() as http:  # the provider knows the token, and whose it is
        me = await http.get(f"{world.oidc}/me", headers={"authorization": f"Bearer {tokens.access_token}"})
    assert me.status_code == 200 and me.json()["sub"] == "alice"
    traffic = server.recorder.traffic
    assert tokens.access_token.encode() not in traffic and tokens.refresh_token.encode() not in traffic


async def test_replayed_state_is_refused_and_nothing_changes(world, world_browsers):
    server = world.server
    browser = world_browsers()
    async with user_client(server.mcp_url, browser, "alice") as (client, _):
        elicitation = await _needs_connection(client)
    landed = await _at_provider(browser.http, await _start_connect(browser, elicitation["url"]))
    callback_url = landed.hops[-1]
    before = await server.demo.handoff.connections.load("alice", "calendar")
    again = await browser.http.get(callback_url)
    assert again.status_code == 400 and "already used" in again.text
    assert await server.demo.handoff.connections.load("alice", "calendar") == before
    events = [e.detail for e in await server.demo.handoff.audit.read() if e.event == "rejected"]
    assert "oauth state unknown, used or expired" in events


async def test_state_from_another_browser_session_is_refused(world, world_browsers):
    server = world.server
    alice, other = world_browsers(), world_browsers()
    async with user_client(server.mcp_url, alice, "alice") as (client, _):
        elicitation = await _needs_connection(client)
    authorize = await _start_connect(alice, elicitation["url"])
    # Alice's sign-in link ends up in another browser, signed in to the server as alice too
    page = await other.open(f"{server.origin}/handoff/login")
    await other.sign_in(page, "alice", DEMO_USERS["alice"])
    landed = await _at_provider(other.http, authorize)
    assert landed.status == 403 and "another browser" in landed.text
    assert (await server.demo.handoff.ledger.get(elicitation["elicitationId"])).status is Status.PENDING
    assert await server.demo.handoff.connections.load("alice", "calendar") is None


async def test_code_for_another_users_state_is_refused(world, world_browsers):
    server = world.server
    alice, bob = world_browsers(), world_browsers()
    async with (
        user_client(server.mcp_url, alice, "alice") as (alice_client, _),
        user_client(server.mcp_url, bob, "bob") as (bob_client, _),
    ):
        a = await _needs_connection(alice_client)
        b = await _needs_connection(bob_client)
    # Bob signs in at the provider for his own record, then sends his callback to Alice (login CSRF)
    bob_authorize = await _start_connect(bob, b["url"])
    visit = await go(bob.http, bob_authorize)
    visit = await submit(bob.http, visit, {"login": "bob", "password": "any"})
    response = await bob.http.post(visit.forms()[0].action, data=visit.forms()[0].fields)
    while (
        response.status_code in (302, 303) and "/handoff/oauth/callback" not in response.headers["location"]
    ):
        response = await bob.http.get(httpx2.URL(str(response.url)).join(response.headers["location"]))
    bobs_callback = str(httpx2.URL(str(response.url)).join(response.headers["location"]))
    landed = await travel(alice.http, await alice.http.get(bobs_callback))
    assert landed.status == 403
    for user, record in (("alice", a), ("bob", b)):
        assert (await server.demo.handoff.ledger.get(record["elicitationId"])).status is Status.PENDING
        assert await server.demo.handoff.connections.load(user, "calendar") is None


async def test_redirect_uri_is_matched_exactly(world, world_browsers):
    server = world.server
    browser = world_browsers()
    async with user_client(server.mcp_url, browser, "alice") as (client, _):
        elicitation = await _needs_connection(client)
    authorize = await _start_connect(browser, elicitation["url"])
    for evil in (
        "https://evil.example/cb",
        f"{server.origin}/handoff/oauth/callback/x",
        f"{server.origin}/handoff/oauth/callback?next=https://evil.example",
    ):
        tampered = httpx2.URL(authorize).copy_set_param("redirect_uri", evil)
        visit = await go(browser.http, str(tampered))
        assert not any(h.startswith("https://evil.example") for h in visit.hops)
        assert visit.status == 400 and "redirect_uri" in visit.text, (visit.status, visit.text[:300])
    assert (await browser.http.get(f"{server.origin}/handoff/oauth/callback/x")).status_code == 404
    assert await server.demo.handoff.connections.load("alice", "calendar") is None


async def test_no_open_redirect_through_any_parameter(world, world_browsers):
    server = world.server
    browser = world_browsers()
    evil = "https://evil.example/steal"
    params = {
        "next": evil,
        "redirect": evil,
        "redirect_uri": evil,
        "url": evil,
        "return_to": evil,
        "continue": evil,
    }
    async with user_client(server.mcp_url, browser, "alice") as (client, _):
        elicitation = await _needs_connection(client)
    for path in (
        "/handoff/",
        "/handoff/login",
        "/handoff/oauth/callback",
        f"/handoff/e/{elicitation['elicitationId']}",
    ):
        response = await browser.http.get(f"{server.origin}{path}", params=params)
        assert "evil.example" not in response.headers.get("location", ""), path
    page = await browser.open(elicitation["url"])
    posted = await browser.http.post(
        elicitation["url"], params=params, data={"csrf": page.csrf or "", "action": "continue", **params}
    )
    assert posted.status_code == 303 and posted.headers["location"].startswith(f"{world.oidc}/auth?")
    assert "evil.example" not in posted.headers["location"]


async def test_denied_at_the_provider_declines_the_record(world, world_browsers):
    server = world.server
    browser = world_browsers()
    async with user_client(server.mcp_url, browser, "alice") as (client, _):
        elicitation = await _needs_connection(client)
        authorize = await _start_connect(browser, elicitation["url"])
        visit = await go(browser.http, authorize)
        assert "/abort" in visit.text  # the provider's own "Cancel" link
        uid_url = visit.forms()[0].action
        landed = await go(browser.http, uid_url + "/abort")
        assert "Not connected" in landed.text and "did not allow" in landed.text
        record = await server.demo.handoff.ledger.get(elicitation["elicitationId"])
        assert record.status is Status.DECLINED
        result = await client.call_tool("next_meeting", {})
        assert result.is_error and "declined" in text_of(result)


async def test_expiring_token_is_refreshed_once_under_20_concurrent_calls(world, world_browsers):
    server = world.server
    browser = world_browsers()
    handoff = server.demo.handoff
    async with user_client(server.mcp_url, browser, "alice") as (client, notices):
        elicitation = await _needs_connection(client)
        await _at_provider(browser.http, await _start_connect(browser, elicitation["url"]))
        assert await notices.wait_for(elicitation["elicitationId"])
        tokens = await handoff.connections.load("alice", "calendar")
        assert tokens is not None
        await handoff.connections.store("alice", "calendar", replace(tokens, expires_at=time.time() + 5))
        before = await world.refreshes()
        results: list[str] = []

        async def call() -> None:
            results.append(text_of(await client.call_tool("next_meeting", {})))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(call)
        assert await world.refreshes() == before + 1
        fresh = await handoff.connections.load("alice", "calendar")
        assert fresh is not None and fresh.access_token != tokens.access_token
        assert fresh.expires_at and fresh.expires_at > time.time() + 600
        fingerprint = hashlib.sha256(fresh.access_token.encode()).hexdigest()[:8]
        assert len(results) == 20 and all(fingerprint in r for r in results)


async def test_failed_refresh_or_missing_scopes_start_a_new_connection(world, world_browsers):
    server = world.server
    handoff = server.demo.handoff
    await handoff.connections.store(
        "alice",
        "calendar",
        TokenSet("stale", refresh_token="bogus", expires_at=time.time() - 10, scope="openid calendar"),
    )
    async with user_client(server.mcp_url, world_browsers(), "alice") as (client, _):
        first = await _needs_connection(client)
        await handoff.connections.store(
            "alice", "calendar", TokenSet("fresh-but-narrow", scope="openid", expires_at=time.time() + 3600)
        )
        second = await _needs_connection(client)
    assert first["url"].startswith(f"{server.origin}/handoff/e/") and second["url"] == first["url"]


async def test_a_bad_code_fails_the_record_with_a_page_that_says_so(world, world_browsers):
    server = world.server
    browser = world_browsers()
    async with user_client(server.mcp_url, browser, "alice") as (client, _):
        elicitation = await _needs_connection(client)
        authorize = await _start_connect(browser, elicitation["url"])
        state = httpx2.URL(authorize).params["state"]
        callback = await go(
            browser.http,
            str(
                httpx2.URL(
                    f"{server.origin}/handoff/oauth/callback", params={"code": "forged-code", "state": state}
                )
            ),
        )
        response = await submit(
            browser.http, callback, {"username": "alice", "password": DEMO_USERS["alice"]}
        )
        assert response.status == 502 and "did not accept the sign-in" in response.text
        record = await server.demo.handoff.ledger.get(elicitation["elicitationId"])
        assert record.status is Status.FAILED
        assert await server.demo.handoff.connections.load("alice", "calendar") is None
        result = await client.call_tool("next_meeting", {})
        assert result.is_error and "failed" in text_of(result)
