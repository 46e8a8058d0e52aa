"""Invariant 7: the connect flow's OAuth `state` is single-use and bound to its record, browser and user."""

from __future__ import annotations

import httpx2
import pytest
from _server import free_port
from _web import travel
from conftest import Running

from handoff.demo import ScriptedBrowser
from handoff.ledger import Draft, Status
from handoff.oauth import provider

from .conftest import Link, answered, ask, connect_at, provider_callback, sign_in

pytestmark = pytest.mark.anyio


async def _connected(handoff, user: str) -> bool:
    return await handoff.connections.load(user, "calendar") is not None


@pytest.fixture
async def meeting(world, world_browsers) -> Link:
    """Alice's pending connection to her calendar, her browser signed in."""
    return await ask(world.server.mcp_url, world_browsers(), "alice", "next_meeting")


async def test_a_replayed_callback_is_refused_and_changes_nothing(world, meeting):
    handoff, origin = world.server.demo.handoff, world.server.origin
    callback = await provider_callback(meeting.owner.http, await connect_at(meeting), "alice", origin)
    first = await travel(meeting.owner.http, await answered(meeting.owner, callback))
    assert first.status == 200 and "Connected" in first.text
    tokens, record = await handoff.connections.load("alice", "calendar"), await handoff.ledger.get(meeting.id)
    again = await meeting.owner.http.get(callback)
    assert again.status_code == 400 and "already used" in again.text
    assert await handoff.connections.load("alice", "calendar") == tokens
    assert await handoff.ledger.get(meeting.id) == record
    rejected = [e.detail for e in await handoff.audit.read() if e.event == "rejected"]
    assert rejected[-1] == "oauth state unknown, used or expired"


async def test_a_state_from_another_browser_is_refused_and_burnt(world, world_browsers, meeting):
    handoff, origin = world.server.demo.handoff, world.server.origin
    callback = await provider_callback(meeting.owner.http, await connect_at(meeting), "alice", origin)
    other = await sign_in(world_browsers(), "alice")  # alice herself, in another browser
    landed = await other.http.get(callback)
    assert landed.status_code == 403 and "another browser" in landed.text
    assert (await handoff.ledger.get(meeting.id)).status is Status.PENDING
    # the state was taken by that attempt: not even the browser that started it can use it now
    assert (await meeting.owner.http.get(callback)).status_code == 400
    assert (await handoff.ledger.get(meeting.id)).status is Status.PENDING
    assert not await _connected(handoff, "alice")


async def test_swapped_states_of_two_records_connect_nothing(world, meeting):
    handoff, origin = world.server.demo.handoff, world.server.origin
    first = await handoff.ledger.get(meeting.id)
    # a second pending connection of alice's, as a tool asking for other scopes would make
    second = await handoff.ledger.create(
        Draft(principal="alice", kind="connection", params=dict(first.params), key=first.key + " more")
    )
    other = Link(handoff.url_for(second.id), second.id, meeting.owner)
    a = httpx2.URL(await provider_callback(meeting.owner.http, await connect_at(meeting), "alice", origin))
    b = httpx2.URL(await provider_callback(meeting.owner.http, await connect_at(other), "alice", origin))
    assert a.params["state"] != b.params["state"]
    for code_of, state_of, record in ((a, b, second), (b, a, first)):
        swapped = a.copy_merge_params({"code": code_of.params["code"], "state": state_of.params["state"]})
        response = await answered(meeting.owner, str(swapped))
        assert response.status_code == 502 and "Not connected" in response.text
        assert (await handoff.ledger.get(record.id)).status is Status.FAILED
    assert not await _connected(handoff, "alice")


async def test_a_callback_for_another_users_record_is_refused(world, world_browsers, meeting):
    handoff, origin = world.server.demo.handoff, world.server.origin
    callback = await provider_callback(meeting.owner.http, await connect_at(meeting), "alice", origin)
    bob = await sign_in(world_browsers(), "bob")
    landed = await bob.http.get(callback)
    assert landed.status_code == 403 and "Not your sign-in" in landed.text
    assert (await handoff.ledger.get(meeting.id)).status is Status.PENDING
    assert not await _connected(handoff, "alice") and not await _connected(handoff, "bob")


async def test_an_unreachable_provider_fails_the_record_with_a_page_not_an_error(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    calendar = provider(
        "calendar",
        label="Calendar",
        authorize_url=f"{closed}/auth",
        token_url=f"{closed}/token",
        client_id="handoff-test",
        client_secret="handoff-test-secret-value",
    )
    server = Running(tmp_path / "data", providers=[calendar]).start()
    try:
        async with ScriptedBrowser(server.origin) as browser:
            link = await ask(server.mcp_url, browser, "alice", "next_meeting")
            state = httpx2.URL(await connect_at(link)).params["state"]
            callback = httpx2.URL(
                f"{server.origin}/handoff/oauth/callback", params={"state": state, "code": "a-code"}
            )
            response = await answered(browser, str(callback))
            assert response.status_code == 502 and "Not connected" in response.text, response.status_code
            assert (await server.demo.handoff.ledger.get(link.id)).status is Status.FAILED
            assert not await _connected(server.demo.handoff, "alice")
    finally:
        server.stop()
