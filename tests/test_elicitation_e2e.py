"""The core story over real streamable HTTP with the official `mcp` client, in both protocol eras
where the story is the same (the 2025-only and 2026-only details have their own tests)."""

from __future__ import annotations

import hashlib
import logging

import anyio
import pytest
from _mcp import RawClient, text_of, user_client
from mcp import MCPError
from mcp_types import URL_ELICITATION_REQUIRED, ElicitResult, InputRequiredResult

from handoff.demo import DEMO_USERS
from handoff.demo._client import signed_in_http
from handoff.ledger import Status

pytestmark = pytest.mark.anyio

KEY = "wk_Zq7sEcretVa1ueThatMustNeverLeak"


async def _needs_key(client) -> dict:
    with pytest.raises(MCPError) as caught:
        await client.call_tool("forecast", {"city": "Oslo"})
    assert caught.value.code == URL_ELICITATION_REQUIRED
    return caught.value.data["elicitations"][0]


ERAS = pytest.mark.parametrize("era", ["legacy", "2026-07-28"])


async def _ask(client, era: str, city: str = "Oslo") -> dict:
    """Call the gated tool without the key; return where the person must go (and the 2026 state)."""
    if era == "legacy":
        return await _needs_key(client)
    result = await client.session.call_tool("forecast", {"city": city}, allow_input_required=True)
    assert isinstance(result, InputRequiredResult) and result.input_requests
    (request,) = result.input_requests.values()
    url = request.params.url
    return {"url": url, "elicitationId": url.rsplit("/", 1)[1], "state": result.request_state}


async def _finish(client, era: str, elicitation: dict, notices, city: str = "Oslo"):
    """After the browser step: the 2025 client waits for the notice and calls again; the 2026 one retries."""
    if era == "legacy":
        assert await notices.wait_for(elicitation["elicitationId"])
        return await client.call_tool("forecast", {"city": city})
    return await client.session.call_tool(
        "forecast",
        {"city": city},
        request_state=elicitation["state"],
        input_responses={"weather_api_key": ElicitResult(action="accept")},
    )


async def _enter(browser, url: str, value: str = KEY):
    page = await browser.open(url)
    assert page.status == 200, page.text
    return await browser.submit(page, {"value": value, "action": "save"})


async def test_missing_secret_answers_32042_with_a_bare_url(running, browsers):
    async with user_client(running.mcp_url, browsers(), "alice") as (client, _):
        elicitation = await _needs_key(client)
    assert elicitation["mode"] == "url"
    assert set(elicitation) == {"mode", "message", "url", "elicitationId"}
    eid = elicitation["elicitationId"]
    assert len(eid) >= 22  # >= 128 bits, URL-safe
    assert elicitation["url"] == f"{running.origin}/handoff/e/{eid}"
    assert "alice" not in elicitation["url"] and "?" not in elicitation["url"]
    record = await running.demo.handoff.ledger.get(eid)
    assert (record.principal, record.status) == ("alice", Status.PENDING)


@ERAS
async def test_full_story_completion_notice_then_retry(running, browsers, era):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=era) as (client, notices):
        elicitation = await _ask(client, era)
        page = await browser.open(elicitation["url"])
        assert "Signed in as <strong>alice</strong>" in page.text  # the person sees whose request it is
        done = await _enter(browser, elicitation["url"])
        assert done.title == "Saved"
        result = await _finish(client, era, elicitation, notices)
    fingerprint = hashlib.sha256(KEY.encode()).hexdigest()[:8]  # a hash, labelled as one: not the key's end
    assert not result.is_error
    assert (
        text_of(result)
        == f"Forecast for Oslo: sunny, 21°C (fetched with your key, SHA-256 fingerprint {fingerprint})"
    )


async def test_completion_notice_reaches_only_the_initiating_session(running, browsers):
    alice_browser, bob_browser = browsers(), browsers()
    async with (
        user_client(running.mcp_url, alice_browser, "alice") as (alice, alice_notices),
        user_client(running.mcp_url, bob_browser, "bob") as (bob, bob_notices),
    ):
        a = await _needs_key(alice)
        b = await _needs_key(bob)
        await _enter(alice_browser, a["url"])
        assert await alice_notices.wait_for(a["elicitationId"])
        await anyio.sleep(0.3)
        assert bob_notices.ids == []
        await _enter(bob_browser, b["url"], "wk_bobs_own_key_123")
        assert await bob_notices.wait_for(b["elicitationId"])
        assert alice_notices.ids == [a["elicitationId"]]
        # each user got their own key
        assert (await alice.call_tool("forecast", {"city": "x"})).content != (
            await bob.call_tool("forecast", {"city": "x"})
        ).content


async def test_every_session_handed_the_id_is_told_and_no_other(running, browsers):
    first, second, bob_browser = browsers(), browsers(), browsers()
    async with (
        user_client(running.mcp_url, first, "alice") as (laptop, laptop_notices),
        user_client(running.mcp_url, second, "alice") as (phone, phone_notices),
        user_client(running.mcp_url, bob_browser, "bob") as (bob, bob_notices),
    ):
        a = await _needs_key(laptop)
        b = await _needs_key(phone)  # the same pending need: the same record, the same id
        assert a["elicitationId"] == b["elicitationId"]
        await _needs_key(bob)
        await _enter(first, a["url"])
        assert await laptop_notices.wait_for(a["elicitationId"])
        assert await phone_notices.wait_for(a["elicitationId"])
        await anyio.sleep(0.3)
        assert bob_notices.ids == []


@ERAS
async def test_another_user_is_refused_and_the_record_stays_pending(running, browsers, era):
    alice_browser, bob_browser = browsers(), browsers()
    async with user_client(running.mcp_url, alice_browser, "alice", mode=era) as (client, notices):
        elicitation = await _ask(client, era)
        url, eid = elicitation["url"], elicitation["elicitationId"]
        page = await bob_browser.open(url)
        assert 'name="password"' in page.text  # possession of the link is not enough
        page = await bob_browser.sign_in(page, "bob", DEMO_USERS["bob"])
        assert page.status == 403
        assert "Weather API key" not in page.text and "forecast" not in page.text
        # bob cannot post either, even with his own CSRF token for the page
        post = await bob_browser.http.post(url, data={"value": "wk_evil_injected_1", "csrf": page.csrf or ""})
        assert post.status_code == 403
        assert (await running.demo.handoff.ledger.get(eid)).status is Status.PENDING
        events = [(e.event, e.principal) for e in await running.demo.handoff.audit.read(record_id=eid)]
        assert ("identity_mismatch", "bob") in events
        assert await running.demo.handoff.vault.get("bob", "weather_api_key") is None
        assert (await _enter(alice_browser, url)).title == "Saved"
        assert "Oslo" in text_of(await _finish(client, era, elicitation, notices))


@ERAS
async def test_anonymous_browser_is_sent_to_sign_in_and_sees_nothing(running, browsers, era):
    async with user_client(running.mcp_url, browsers(), "alice", mode=era) as (client, _):
        elicitation = await _ask(client, era)
    stranger = browsers()
    response = await stranger.http.get(elicitation["url"])  # the page asks for the sign-in, for itself
    assert (
        response.status_code == 200 and 'name="password"' in response.text and "forecast" not in response.text
    )
    post = await stranger.http.post(elicitation["url"], data={"value": "x", "action": "save"})
    assert post.status_code == 403
    assert (await running.demo.handoff.ledger.get(elicitation["elicitationId"])).pending


@ERAS
async def test_tampered_and_unknown_ids_are_refused(running, browsers, era):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=era) as (client, _):
        elicitation = await _ask(client, era)
    url = elicitation["url"]
    flipped = url[:-1] + ("A" if url[-1] != "A" else "B")
    for bad in (
        flipped,
        url + "x",
        url[:-3],
        f"{running.origin}/handoff/e/..%2f..%2fetc",
        f"{running.origin}/handoff/e/{'a' * 32}",
    ):
        response = await browser.http.get(bad)
        assert response.status_code == 404, bad
    assert (await running.demo.handoff.ledger.get(elicitation["elicitationId"])).pending


@ERAS
async def test_missing_or_wrong_csrf_is_refused(running, browsers, era):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=era) as (client, _):
        elicitation = await _ask(client, era)
        page = await browser.open(elicitation["url"])
        for csrf in ("", "0" * 64, page.csrf[:-1] + ("1" if page.csrf.endswith("0") else "0")):
            result = await browser.submit(page, {"value": KEY, "action": "save"}, csrf=csrf)
            assert not isinstance(result, str) and result.status == 403
        response = await browser.http.post(elicitation["url"], data={"value": KEY, "action": "save"})
        assert response.status_code == 403
        assert (await running.demo.handoff.ledger.get(elicitation["elicitationId"])).pending
        assert await running.demo.handoff.vault.get("alice", "weather_api_key") is None


@ERAS
async def test_expired_link_is_refused(tmp_path, era, store):
    from conftest import Running

    from handoff.demo import ScriptedBrowser

    server = Running(tmp_path / "short", ttl=0.5, database_url=store).start()
    try:
        async with ScriptedBrowser(server.origin) as browser:
            async with user_client(server.mcp_url, browser, "alice", mode=era) as (client, _):
                elicitation = await _ask(client, era)
                page = await browser.open(elicitation["url"])
                assert page.status == 200
                await anyio.sleep(0.7)
                result = await browser.submit(page, {"value": KEY, "action": "save"})
                assert not isinstance(result, str) and result.status == 410
                assert "expired" in result.text
                assert (await browser.open(elicitation["url"])).status == 410
                assert await server.demo.handoff.vault.get("alice", "weather_api_key") is None
                assert await server.demo.handoff.sweep() == 1
                record_id = elicitation["elicitationId"]
                assert (await server.demo.handoff.ledger.get(record_id)).status.value == "expired"
                audit = [e.event for e in await server.demo.handoff.audit.read(record_id=record_id)]
                assert "expired" in audit
    finally:
        server.stop()


@ERAS
async def test_concurrent_double_submit_completes_once(running, browsers, era):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=era) as (client, notices):
        elicitation = await _ask(client, era)
        page = await browser.open(elicitation["url"])
        statuses: list[int] = []

        async def submit(value: str) -> None:
            response = await browser.http.post(
                elicitation["url"], data={"value": value, "action": "save", "csrf": page.csrf or ""}
            )
            statuses.append(response.status_code)

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(submit, f"wk_concurrent_value_{i}")
        assert sorted(statuses) == [200] + [410] * 7
        result = await _finish(client, era, elicitation, notices)
        assert "Oslo" in text_of(result)
        await anyio.sleep(0.2)
        assert notices.ids == ([elicitation["elicitationId"]] if era == "legacy" else [])
        events = [
            e.event for e in await running.demo.handoff.audit.read(record_id=elicitation["elicitationId"])
        ]
        assert events.count("completed") == 1


@ERAS
async def test_secret_never_in_mcp_traffic_logs_or_database(running, browsers, caplog, era, database_bytes):
    caplog.set_level(logging.DEBUG)
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=era) as (client, notices):
        elicitation = await _ask(client, era)
        await _enter(browser, elicitation["url"])
        result = await _finish(client, era, elicitation, notices)
        assert not result.is_error
    traffic = running.recorder.traffic
    assert b"forecast" in traffic and elicitation["elicitationId"].encode() in traffic  # the capture works
    assert (b"-32042" in traffic) == (era == "legacy") and (b"input_required" in traffic) == (era != "legacy")
    assert KEY.encode() not in traffic
    assert KEY not in caplog.text
    assert "HTTP Request" in caplog.text or caplog.records  # logging was captured
    db_bytes = database_bytes()
    assert b"weather_api_key" in db_bytes  # the files were written
    assert KEY.encode() not in db_bytes
    for entry in await running.demo.handoff.audit.read(limit=1000):
        assert KEY not in entry.as_json()


@ERAS
async def test_vault_row_moved_to_another_user_does_not_decrypt(running, browsers, era):
    from handoff import VaultError

    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=era) as (client, notices):
        elicitation = await _ask(client, era)
        await _enter(browser, elicitation["url"])
    db = running.demo.handoff.store.database
    await db.run(lambda tx: tx.execute("UPDATE secrets SET principal = 'bob' WHERE principal = 'alice'"))
    with pytest.raises(VaultError):
        await running.demo.handoff.vault.get("bob", "weather_api_key")
    # a moved row is unreadable, so bob's tool call asks bob for his own key
    async with user_client(running.mcp_url, browsers(), "bob", mode=era) as (bob, _):
        await _ask(bob, era)


@ERAS
async def test_restart_with_a_pending_record_then_completion_works(tmp_path, era, store):
    from conftest import Running

    from handoff.demo import ScriptedBrowser

    server = Running(tmp_path / "data", database_url=store).start()
    async with ScriptedBrowser(server.origin) as browser:
        async with user_client(server.mcp_url, browser, "alice", mode=era) as (client, _):
            elicitation = await _ask(client, era)
        port = server.port
        server.stop()
        server.port = port
        server.start()  # a new process state: same SQLite file, same dev keys
        try:
            record = await server.demo.handoff.ledger.get(elicitation["elicitationId"])
            assert record.pending
            page = await browser.open(elicitation["url"])  # the browser's person signs in on it
            assert page.status == 200
            done = await browser.submit(page, {"value": KEY, "action": "save"})
            assert not isinstance(done, str) and done.title == "Saved"
            async with user_client(server.mcp_url, browser, "alice", mode=era) as (client, _):
                result = await client.call_tool("forecast", {"city": "Oslo"})  # a new call: the key is there
                assert not result.is_error and "Oslo" in text_of(result)
        finally:
            server.stop()


async def test_a_2026_retry_minted_before_a_restart_goes_on_after_it(tmp_path, store):
    """Stateless by design: a request state sealed before a restart (or by another process with the same
    keys) opens after it; the sign-in, the record and both layers of sealing survive."""
    from conftest import Running

    from handoff.demo import ScriptedBrowser

    server = Running(tmp_path / "data", database_url=store).start()
    try:
        async with ScriptedBrowser(server.origin) as browser:
            async with user_client(server.mcp_url, browser, "alice", mode="2026-07-28") as (client, notices):
                elicitation = await _ask(client, "2026-07-28")
                port = server.port
                server.stop()
                server.port = port
                server.start()
                done = await _enter(browser, elicitation["url"])
                assert not isinstance(done, str) and done.title == "Saved"
                result = await _finish(client, "2026-07-28", elicitation, notices)
                assert not result.is_error and "Oslo" in text_of(result)
    finally:
        server.stop()


async def test_no_url_mode_request_to_a_client_that_did_not_declare_it(running, browsers):
    for capabilities in ({}, {"elicitation": {}}, {"elicitation": {"form": {}}}):
        http = signed_in_http(running.mcp_url, browsers(), "alice", DEMO_USERS["alice"])
        raw = RawClient(running.mcp_url, http)
        await raw.initialize(capabilities)
        for tool in ("forecast", "list_notes"):
            start = len(running.recorder.chunks)
            answer = await raw.request(
                "tools/call", {"name": tool, "arguments": {"city": "Rome"} if tool == "forecast" else {}}
            )
            assert "error" not in answer, answer
            result = answer["result"]
            assert result["isError"] is True
            text = result["content"][0]["text"]
            assert f"{running.origin}/handoff/e/" in text and "sign in" in text
            sent = b"".join(running.recorder.chunks[start:])
            assert b"elicitation/create" not in sent and b"-32042" not in sent
        await http.aclose()


async def test_a_client_on_a_version_before_url_mode_gets_the_link_whatever_it_declares(running, browsers):
    """A 2025-06-18 client that declares `url` (as one widely used client does) cannot take URL mode:
    the protocol it speaks has none. It gets the link in a tool error, never -32042 or a url request."""
    http = signed_in_http(running.mcp_url, browsers(), "alice", DEMO_USERS["alice"])
    raw = RawClient(running.mcp_url, http, version="2025-06-18")
    try:
        assert (await raw.initialize({"elicitation": {"form": {}, "url": {}}}))["result"][
            "protocolVersion"
        ] == "2025-06-18"
        start = len(running.recorder.chunks)
        answer = await raw.request("tools/call", {"name": "forecast", "arguments": {"city": "Rome"}})
        assert "error" not in answer, answer
        assert answer["result"]["isError"] is True
        assert f"{running.origin}/handoff/e/" in answer["result"]["content"][0]["text"]
        sent = b"".join(running.recorder.chunks[start:])
        assert b"elicitation/create" not in sent and b"-32042" not in sent
    finally:
        await http.aclose()


async def test_in_call_request_delivery_waits_for_the_browser(running, browsers):
    browser = browsers()
    asked: list[dict] = []

    async def on_elicit(context, params):
        from mcp_types import ElicitResult

        asked.append(params.model_dump(by_alias=True, exclude_none=True))

        async def complete_later() -> None:
            await anyio.sleep(0.2)
            await _enter(browser, params.url, "my-notes-token")

        context.session  # noqa: B018 — the request is answered before the browser step finishes
        tg.start_soon(complete_later)
        return ElicitResult(action="accept")

    async with anyio.create_task_group() as tg:
        async with user_client(running.mcp_url, browser, "alice", elicitation_callback=on_elicit) as (
            client,
            notices,
        ):
            result = await client.call_tool("list_notes", {})
            assert not result.is_error, text_of(result)
            assert "3 notes" in text_of(result) and "14 characters" in text_of(result)
    assert asked[0]["mode"] == "url" and asked[0]["elicitationId"] in asked[0]["url"]


async def test_in_call_decline_becomes_a_tool_error(running, browsers):
    asked: list[str] = []

    async def decline(context, params):
        from mcp_types import ElicitResult

        asked.append(params.elicitation_id)
        return ElicitResult(action="decline")

    async with user_client(running.mcp_url, browsers(), "alice", elicitation_callback=decline) as (
        client,
        notices,
    ):
        result = await client.call_tool("list_notes", {})
        said = text_of(result)
        assert result.is_error and "the person declined it" in said
        assert "Do not call list_notes again unless the person asks you to" in said
        assert "again to start over" not in said
        assert asked and not await notices.wait_for(asked[0], timeout=1)  # the client said no: no notice


@ERAS
async def test_browser_decline_becomes_one_tool_error_then_a_fresh_request(running, browsers, era):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=era) as (client, notices):
        elicitation = await _ask(client, era)
        page = await browser.open(elicitation["url"])
        declined = await browser.submit(page, {"action": "decline"})
        assert not isinstance(declined, str) and declined.title == "Declined"
        result = await _finish(client, era, elicitation, notices)
        assert result.is_error and "declined" in text_of(result)
        again = await _ask(client, era)
        assert again["elicitationId"] != elicitation["elicitationId"]


@ERAS
async def test_validation_hook_rejects_with_its_message_and_keeps_the_record(running, browsers, era):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=era) as (client, _):
        elicitation = await _ask(client, era)
        result = await _enter(browser, elicitation["url"], "sk-not-a-weather-key")
        assert not isinstance(result, str) and result.status == 422
        assert "does not look like a weather key" in result.text
        assert "sk-not-a-weather-key" not in result.text
        assert (await running.demo.handoff.ledger.get(elicitation["elicitationId"])).pending


async def test_pending_record_is_reused_and_rate_limits_say_what_to_do(running, browsers):
    from handoff import Limits

    async with user_client(running.mcp_url, browsers(), "alice") as (client, _):
        first = await _needs_key(client)
        second = await _needs_key(client)
        assert first["elicitationId"] == second["elicitationId"]
        running.demo.handoff.ledger.limits = Limits(max_pending=1, max_per_minute=30)  # type: ignore[attr-defined]
        result = await client.call_tool("list_notes", {})
        assert result.is_error and "waiting in the browser" in text_of(result)
    events = [e.event for e in await running.demo.handoff.audit.read(principal="alice")]
    assert "rate_limited" in events


async def test_the_database_is_the_state(running, store):
    db = running.demo.handoff.store.database
    assert db.dialect == ("postgresql" if store else "sqlite")
    listing = (
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'handoff'"
        if store
        else "SELECT name FROM sqlite_master WHERE type = 'table'"
    )
    tables = {row[0] for row in await db.run(lambda tx: tx.execute(listing))}
    assert {"records", "secrets", "audit", "entries", "outbox", "claimed"} <= tables


async def test_gated_tools_show_only_their_own_arguments(running, browsers):
    async with user_client(running.mcp_url, browsers(), "alice") as (client, _):
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools["forecast"].input_schema["properties"]) == {"city"}
    assert set(tools["list_notes"].input_schema["properties"]) == {"folder"}
    assert "weather" in (tools["forecast"].description or "")


async def test_a_waiting_2025_client_is_told_when_its_link_expires(tmp_path, store):
    from conftest import Running

    from handoff.demo import ScriptedBrowser

    server = Running(tmp_path / "data", ttl=0.5, database_url=store).start()
    try:
        async with ScriptedBrowser(server.origin) as browser:
            async with user_client(server.mcp_url, browser, "alice") as (client, notices):
                elicitation = await _needs_key(client)
                await anyio.sleep(0.7)
                await server.demo.handoff.sweep()
                assert await notices.wait_for(elicitation["elicitationId"])  # it stops waiting
                again = await _needs_key(client)  # and its retry gets a fresh link
                assert again["elicitationId"] != elicitation["elicitationId"]
    finally:
        server.stop()
