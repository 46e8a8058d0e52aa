"""2026-07-28 over real streamable HTTP: InputRequiredResult, sealed requestState, the woken retry."""

from __future__ import annotations

import anyio
import pytest
from _mcp import text_of, user_client
from mcp import MCPError
from mcp_types import INVALID_PARAMS, MISSING_REQUIRED_CLIENT_CAPABILITY, ElicitResult, InputRequiredResult

from handoff.demo import ScriptedBrowser
from handoff.ledger import Status

pytestmark = pytest.mark.anyio

KEY = "wk_TwentyTwentySixSecretValue"
MODERN = "2026-07-28"


async def _first_round(client, city: str = "Oslo") -> InputRequiredResult:
    result = await client.session.call_tool("forecast", {"city": city}, allow_input_required=True)
    assert isinstance(result, InputRequiredResult), result
    return result


async def _enter(browser: ScriptedBrowser, url: str, value: str = KEY) -> None:
    page = await browser.open(url)
    done = await browser.submit(page, {"value": value, "action": "save"})
    assert not isinstance(done, str) and done.title == "Saved"


def _url(result: InputRequiredResult) -> str:
    assert result.input_requests
    (request,) = result.input_requests.values()
    return request.params.url  # type: ignore[union-attr]


async def test_input_required_result_shape(running, browsers):
    async with user_client(running.mcp_url, browsers(), "alice", mode=MODERN) as (client, _):
        result = await _first_round(client)
    wire = result.model_dump(by_alias=True, exclude_none=True)
    assert wire["resultType"] == "input_required"
    ((key, request),) = wire["inputRequests"].items()
    assert key == "weather_api_key" and request["method"] == "elicitation/create"
    assert set(request["params"]) == {"mode", "message", "url"}  # no elicitationId in this era
    assert request["params"]["mode"] == "url"
    record_id = request["params"]["url"].rsplit("/", 1)[1]
    assert isinstance(wire["requestState"], str) and record_id not in wire["requestState"]
    assert (await running.demo.handoff.ledger.get(record_id)).principal == "alice"


async def test_the_story_with_the_sdk_driving_the_retry(running, browsers):
    browser = browsers()
    asked: list[str] = []

    async with anyio.create_task_group() as tg:

        async def on_elicit(context, params):
            asked.append(params.url)
            tg.start_soon(_enter, browser, params.url)  # the person finishes in the browser a bit later
            return ElicitResult(action="accept")

        async with user_client(
            running.mcp_url, browser, "alice", mode=MODERN, elicitation_callback=on_elicit
        ) as (client, notices):
            result = await client.call_tool("forecast", {"city": "Oslo"})
            assert not result.is_error and "Oslo" in text_of(result)
            again = await client.call_tool("forecast", {"city": "Bergen"})
            assert "Bergen" in text_of(again)
    assert len(asked) == 1 and notices.ids == []
    traffic = running.recorder.traffic
    assert b"input_required" in traffic and b"requestState" in traffic
    for legacy_only in (b"-32042", b"elicitationId", b"notifications/elicitation/complete"):
        assert legacy_only not in traffic
    assert KEY.encode() not in traffic


async def test_retry_blocks_until_completion_then_runs(running, browsers):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=MODERN) as (client, _):
        first = await _first_round(client)
        retry_result: list[object] = []

        async def retry() -> None:
            retry_result.append(
                await client.session.call_tool(
                    "forecast",
                    {"city": "Oslo"},
                    input_responses={"weather_api_key": ElicitResult(action="accept")},
                    request_state=first.request_state,
                    allow_input_required=True,
                )
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(retry)
            await anyio.sleep(0.5)
            assert retry_result == []  # the retry is waiting on the server, not polling
            await _enter(browser, _url(first))
        (result,) = retry_result
        assert not isinstance(result, InputRequiredResult) and "Oslo" in text_of(result)


async def test_still_pending_after_the_bound_answers_with_state_only(tmp_path, store):
    from conftest import Running

    # holds of 3 s / 10 rounds
    server = Running(tmp_path / "data", retry_wait=0.3, ttl=3, database_url=store).start()
    try:
        async with ScriptedBrowser(server.origin) as browser:
            async with user_client(server.mcp_url, browser, "alice", mode=MODERN) as (client, _):
                first = await _first_round(client)
                second = await client.session.call_tool(
                    "forecast",
                    {"city": "Oslo"},
                    input_responses={"weather_api_key": ElicitResult(action="accept")},
                    request_state=first.request_state,
                    allow_input_required=True,
                )
                assert isinstance(second, InputRequiredResult)
                assert second.input_requests is None and second.request_state not in (
                    None,
                    first.request_state,
                )
                await _enter(browser, _url(first))
                third = await client.session.call_tool(
                    "forecast",
                    {"city": "Oslo"},
                    request_state=second.request_state,
                    allow_input_required=True,
                )
                assert "Oslo" in text_of(third)
    finally:
        server.stop()


async def _retry(client, state: str | None, city: str = "Oslo"):
    return await client.session.call_tool(
        "forecast",
        {"city": city},
        request_state=state,
        input_responses={"weather_api_key": ElicitResult(action="accept")},
        allow_input_required=True,
    )


async def test_tampered_state_is_rejected(running, browsers):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=MODERN) as (client, _):
        first = await _first_round(client)
        await _enter(browser, _url(first))
        state = first.request_state
        assert state
        for bad in (state[:-2] + ("AA" if state[-2:] != "AA" else "BB"), state + "x", "handoff.x", "", "{}"):
            with pytest.raises(MCPError) as caught:
                await _retry(client, bad)
            assert caught.value.code == INVALID_PARAMS
        assert "Oslo" in text_of(await _retry(client, state))  # the genuine one still works


async def test_replayed_state_is_rejected(running, browsers):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=MODERN) as (client, _):
        first = await _first_round(client)
        await _enter(browser, _url(first))
        assert "Oslo" in text_of(await _retry(client, first.request_state))
        with pytest.raises(MCPError) as caught:
            await _retry(client, first.request_state)
        assert caught.value.code == INVALID_PARAMS and "requestState" in caught.value.message


async def test_state_with_other_arguments_is_rejected(running, browsers):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=MODERN) as (client, _):
        first = await _first_round(client, "Oslo")
        await _enter(browser, _url(first))
        with pytest.raises(MCPError) as caught:
            await _retry(client, first.request_state, city="Paris")
        assert caught.value.code == INVALID_PARAMS


async def test_state_used_by_another_user_is_rejected(running, browsers):
    alice_browser = browsers()
    async with (
        user_client(running.mcp_url, alice_browser, "alice", mode=MODERN) as (alice, _),
        user_client(running.mcp_url, browsers(), "bob", mode=MODERN) as (bob, _),
    ):
        first = await _first_round(alice)
        await _enter(alice_browser, _url(first))
        with pytest.raises(MCPError) as caught:
            await _retry(bob, first.request_state)
        assert caught.value.code == INVALID_PARAMS
        assert await running.demo.handoff.vault.get("bob", "weather_api_key") is None


async def test_expired_state_is_rejected(tmp_path, store):
    from conftest import Running

    server = Running(tmp_path / "data", ttl=0.5, database_url=store).start()
    try:
        async with ScriptedBrowser(server.origin) as browser:
            async with user_client(server.mcp_url, browser, "alice", mode=MODERN) as (client, _):
                first = await _first_round(client)
                await anyio.sleep(0.7)
                with pytest.raises(MCPError) as caught:
                    await _retry(client, first.request_state)
                assert caught.value.code == INVALID_PARAMS
    finally:
        server.stop()


async def test_client_without_url_mode_gets_32021(running, browsers):
    async with user_client(running.mcp_url, browsers(), "alice", mode=MODERN, elicitation_callback=None) as (
        c,
        _,
    ):
        with pytest.raises(MCPError) as caught:
            await c.session.call_tool("forecast", {"city": "Oslo"}, allow_input_required=True)
    assert caught.value.code == MISSING_REQUIRED_CLIENT_CAPABILITY
    assert caught.value.data["requiredCapabilities"] == {"elicitation": {"url": {}}}
    assert b"input_required" not in running.recorder.traffic


async def test_client_side_decline_is_a_tool_error_and_ends_the_record(running, browsers):
    async with user_client(running.mcp_url, browsers(), "alice", mode=MODERN) as (client, _):
        first = await _first_round(client)
        result = await client.session.call_tool(
            "forecast",
            {"city": "Oslo"},
            input_responses={"weather_api_key": ElicitResult(action="decline")},
            request_state=first.request_state,
        )
        assert result.is_error and "declined" in text_of(result)
    record_id = _url(first).rsplit("/", 1)[1]
    assert (await running.demo.handoff.ledger.get(record_id)).status is Status.DECLINED


async def test_legacy_connections_never_see_2026_messages(running, browsers):
    async with user_client(running.mcp_url, browsers(), "alice") as (client, _):
        with pytest.raises(MCPError):
            await client.call_tool("forecast", {"city": "Oslo"})
    traffic = running.recorder.traffic
    assert b"-32042" in traffic
    assert (
        b"input_required" not in traffic
        and b"requestState" not in traffic
        and b"inputRequests" not in traffic
    )


async def test_the_clients_rounds_last_as_long_as_the_link(tmp_path, store):
    """The SDK client retries ten times; a person who takes most of the link's life still gets the result."""
    from conftest import Running

    async def accept(*_: object) -> ElicitResult:
        return ElicitResult(action="accept")

    server = Running(tmp_path / "data", retry_wait=0.05, ttl=6, database_url=store).start()
    try:
        async with ScriptedBrowser(server.origin) as browser:
            async with user_client(
                server.mcp_url, browser, "alice", mode=MODERN, elicitation_callback=accept
            ) as (client, _):
                first = await _first_round(client)  # to learn the link; the SDK's own loop follows

                async def person() -> None:
                    await anyio.sleep(4.5)  # ten rounds of 0.05 s holds and backoff would be over by now
                    await _enter(browser, _url(first))

                async with anyio.create_task_group() as tg:
                    tg.start_soon(person)
                    result = await client.call_tool("forecast", {"city": "Oslo"})
                assert "Oslo" in text_of(result)
    finally:
        server.stop()


async def test_a_retry_sent_again_after_its_connection_dropped_goes_on(tmp_path, store):
    import httpx2
    from conftest import Running
    from mcp.client.auth import OAuthClientProvider

    from handoff.demo import DEMO_USERS
    from handoff.demo._client import demo_client, signed_in_http

    async def no_elicitation(*_: object) -> None:
        raise AssertionError("unexpected elicitation/create")

    server = Running(tmp_path / "data", retry_wait=5, ttl=60, database_url=store).start()
    try:
        async with ScriptedBrowser(server.origin) as browser:
            http = signed_in_http(server.mcp_url, browser, "alice", DEMO_USERS["alice"])
            # The same signed-in app on a second connection (the SDK's OAuth provider serializes its
            # requests, so the retry sent again needs a provider of its own over the same tokens).
            context = http.auth.context  # type: ignore[union-attr]
            again_http = httpx2.AsyncClient(
                timeout=60,
                auth=OAuthClientProvider(
                    server_url=server.mcp_url,
                    client_metadata=context.client_metadata,
                    storage=context.storage,
                    redirect_handler=context.redirect_handler,
                    callback_handler=context.callback_handler,
                ),
            )
            options = {"mode": MODERN, "elicitation_callback": no_elicitation}
            async with (
                demo_client(server.mcp_url, http, **options) as client,
                demo_client(server.mcp_url, again_http, **options) as client_again,
            ):
                first = await _first_round(client)
                answers: dict[str, object] = {}

                async def retry(name: str, over) -> None:
                    answers[name] = await over.session.call_tool(
                        "forecast",
                        {"city": "Oslo"},
                        input_responses={"weather_api_key": ElicitResult(action="accept")},
                        request_state=first.request_state,
                        allow_input_required=True,
                    )

                async with anyio.create_task_group() as tg:
                    tg.start_soon(retry, "lost", client)  # held; its client stops listening...
                    await anyio.sleep(0.5)
                    tg.start_soon(retry, "again", client_again)  # ...and sends the same retry again
                    await anyio.sleep(0.5)
                    assert isinstance(answers.get("lost"), InputRequiredResult)  # it stepped aside at once
                    await _enter(browser, _url(first))
                assert "Oslo" in text_of(answers["again"])
                with pytest.raises(MCPError) as replayed:  # and the state is used up now
                    await client.session.call_tool(
                        "forecast",
                        {"city": "Oslo"},
                        request_state=first.request_state,
                        allow_input_required=True,
                    )
                assert replayed.value.code == INVALID_PARAMS
            await again_http.aclose()
    finally:
        server.stop()


def test_holds_cover_the_link_in_the_clients_rounds_but_never_pass_common_request_timeouts():
    import time
    from types import SimpleNamespace

    from handoff._handoff import LINK_LIFE
    from handoff.eras._modern import CLIENT_ROUNDS, MAX_HOLD, _hold_for
    from handoff.eras._state import State

    def hold(life: float, round: int, retry_wait: float = 25.0) -> float:
        record = SimpleNamespace(pending=True, expires_at=time.time() + life)
        state = State(("r",), "alice", "d", time.time() + life, "once", round)
        return _hold_for(SimpleNamespace(retry_wait=retry_wait), [record], state)  # type: ignore[arg-type]

    assert LINK_LIFE <= CLIENT_ROUNDS * MAX_HOLD  # the defaults agree
    assert hold(LINK_LIFE, 0) == pytest.approx(LINK_LIFE / CLIENT_ROUNDS, abs=0.1)
    assert hold(3600, 0) == MAX_HOLD < 60  # a longer link: holds still end before 60 s
    assert hold(60, 8) == pytest.approx(30, abs=0.1)  # late rounds share what is left
    assert hold(5, 0) == 25.0  # never shorter than retry_wait
    assert hold(LINK_LIFE, 0, retry_wait=0) == 0  # holding off: the client polls
