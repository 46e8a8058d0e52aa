"""Three server processes on one PostgreSQL database behind haproxy: the story across replicas, with
the MCP connection on one replica and the browser on others, and the faults replicas meet."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import anyio
import httpx2
import pytest
from _cluster import SERVER, Cluster, Route, to
from _mcp import text_of
from _postgres import Postgres
from _server import free_port
from conftest import CLIENT_ID, CLIENT_SECRET, start_oidc
from mcp import MCPError
from mcp_types import INVALID_PARAMS, ElicitResult, InputRequiredResult
from test_connections import _at_provider, _needs_connection, _start_connect
from test_elicitation_e2e import KEY, _enter, _needs_key

from handoff import Store
from handoff.demo import DEMO_USERS
from handoff.oauth import Connections
from handoff.vault import Keyring

pytestmark = pytest.mark.anyio
MODERN = "2026-07-28"
PER_TEST = ("records", "secrets", "claimed", "outbox", "audit")
"""Tables emptied before each test; entries (sign-ins, registrations) stay."""


class Switch:
    """A route a test can change as it goes."""

    def __init__(self, target: str | None = None) -> None:
        self.target = target

    def __call__(self, _request: httpx2.Request) -> str | None:
        return self.target


@pytest.fixture(scope="module")
def cluster(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    url = postgres.fresh_database("replicas")
    cluster = Cluster(url, tmp_path_factory.mktemp("replicas"))
    callback = f"{cluster.origin}/handoff/oauth/callback"
    oidc, issuer = start_oidc(
        {"clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [callback]}]}
    )
    cluster.oidc = issuer
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        oidc.terminate()
        oidc.wait(timeout=10)


@pytest.fixture(autouse=True)
def fresh_state(cluster: Cluster, postgres: Postgres) -> None:
    """Every test starts with no records, secrets or audit lines (sign-ins may stay)."""
    for replica in cluster.replicas:
        if replica.process is None:
            cluster.revive(replica.name)
    with postgres.admin_connection("replicas") as conn:
        conn.execute(
            "TRUNCATE handoff.records, handoff.secrets, handoff.claimed, handoff.outbox, handoff.audit"
        )


async def refreshes(cluster: Cluster) -> int:
    async with httpx2.AsyncClient() as http:
        return int((await http.get(f"{cluster.oidc}/test/refreshes")).json().get(CLIENT_ID, 0))


def audit_events(postgres: Postgres, record_id: str) -> list[str]:
    with postgres.admin_connection("replicas") as conn:
        rows = conn.execute("SELECT event FROM handoff.audit WHERE record_id = %s ORDER BY seq", (record_id,))
        return [row[0] for row in rows]


@pytest.fixture
async def browsers(cluster: Cluster) -> AsyncIterator[Route]:
    opened = []

    def make(route: Route):  # type: ignore[no-untyped-def]
        browser, served = cluster.browser(route)
        opened.append(browser)
        return browser, served

    yield make  # type: ignore[misc]
    for browser in opened:
        await browser.http.aclose()


async def test_the_2025_story_with_the_browser_on_another_replica(cluster, browsers, postgres):
    route = Switch("replica2")  # the MCP client's sign-in happens there too
    browser, seen = browsers(route)
    async with cluster.client(browser, "alice") as (client, notices, mcp):
        elicitation = await _needs_key(client)
        (home,) = mcp.names(session=True)  # a 2025 session sticks to one replica
        away = next(r.name for r in cluster.replicas if r.name != home)
        route.target = away
        seen.by.clear()
        await _enter(browser, elicitation["url"])
        assert seen.names() == {away}  # the person's browser was served by another replica
        assert await notices.wait_for(elicitation["elicitationId"])  # told by the session's replica
        result = await client.call_tool("forecast", {"city": "Oslo"})
        assert not result.is_error and "Oslo" in text_of(result)
    assert mcp.names(session=True) == {home}
    assert audit_events(postgres, elicitation["elicitationId"]).count("completed") == 1


async def test_a_2026_retry_held_on_one_replica_wakes_when_the_browser_finishes_on_another(cluster, browsers):
    browser, seen = browsers(to("replica3"))
    async with cluster.client(browser, "alice", route=to("replica1"), mode=MODERN) as (client, _, mcp):
        first = await client.session.call_tool("forecast", {"city": "Oslo"}, allow_input_required=True)
        assert isinstance(first, InputRequiredResult) and first.input_requests
        (request,) = first.input_requests.values()
        answers: list[object] = []

        async def retry() -> None:
            answers.append(
                await client.session.call_tool(
                    "forecast",
                    {"city": "Oslo"},
                    request_state=first.request_state,
                    input_responses={"weather_api_key": ElicitResult(action="accept")},
                    allow_input_required=True,
                )
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(retry)
            await anyio.sleep(0.5)
            assert answers == []  # held on replica1
            seen.by.clear()
            started = time.monotonic()
            await _enter(browser, request.params.url)
        woke = time.monotonic() - started
        assert seen.names() == {"replica3"}
        (result,) = answers
        assert not isinstance(result, InputRequiredResult) and "Oslo" in text_of(result)
        assert woke < 5  # woken by the completion, not by the end of a 25 s hold
    assert mcp.names("/mcp") == {"replica1"}


async def test_2026_needs_no_affinity_the_sdk_drives_the_story_over_every_replica(cluster, browsers):
    browser, _ = browsers(to(None))

    async def open_in_browser(*_: object) -> ElicitResult:
        raise AssertionError("URL mode links are opened by the test's browser, not the client")

    async with cluster.client(browser, "alice", mode=MODERN) as (client, _, mcp):
        first = await client.session.call_tool("forecast", {"city": "Oslo"}, allow_input_required=True)
        assert isinstance(first, InputRequiredResult) and first.input_requests
        (request,) = first.input_requests.values()
        await _enter(browser, request.params.url)
        for _ in range(3):  # a few more calls, each wherever the balancer sends it
            result = await client.call_tool("forecast", {"city": "Oslo"})
            assert "Oslo" in text_of(result)
    assert len(mcp.names("/mcp")) >= 2  # the calls were spread, and each found the same state


async def test_oauth_connect_started_on_one_replica_is_called_back_on_another(cluster, browsers):
    def route(request: httpx2.Request) -> str:
        return "replica3" if request.url.path == "/handoff/oauth/callback" else "replica1"

    browser, seen = browsers(route)
    async with cluster.client(browser, "alice", route=to("replica2")) as (client, notices, _):
        elicitation = await _needs_connection(client)
        authorize = await _start_connect(browser, elicitation["url"])
        assert authorize.startswith(f"{cluster.oidc}/auth?")
        landed = await _at_provider(browser.http, authorize)
        assert landed.status == 200 and "Connected" in landed.text
        assert await notices.wait_for(elicitation["elicitationId"])
        result = await client.call_tool("next_meeting", {})
        assert not result.is_error and "design review" in text_of(result)
    answered = {path: name for name, path, _ in seen.by if path.startswith("/handoff/")}
    assert answered["/handoff/oauth/callback"] == "replica3"
    assert answered[f"/handoff/e/{elicitation['elicitationId']}"] == "replica1"


async def test_two_submits_on_two_replicas_complete_once(cluster, browsers, postgres):
    browser, _ = browsers(to("replica1"))
    async with cluster.client(browser, "alice", mode=MODERN, route=to("replica1")) as (client, _, _):
        first = await client.session.call_tool("forecast", {"city": "Oslo"}, allow_input_required=True)
        assert isinstance(first, InputRequiredResult) and first.input_requests
        url = next(iter(first.input_requests.values())).params.url
        page = await browser.open(url)
        statuses: dict[str, int] = {}

        async def submit(replica: str) -> None:
            response = await browser.http.post(
                url,
                data={"value": f"wk_from_{replica}_1234567", "action": "save", "csrf": page.csrf or ""},
                headers={"x-handoff-route": replica},
            )
            assert response.headers["x-handoff-replica"] == replica
            statuses[replica] = response.status_code

        async with anyio.create_task_group() as tg:
            tg.start_soon(submit, "replica2")
            tg.start_soon(submit, "replica3")
        assert sorted(statuses.values()) == [200, 410]
        winner = next(name for name, status in statuses.items() if status == 200)
        result = await client.session.call_tool(
            "forecast",
            {"city": "Oslo"},
            request_state=first.request_state,
            input_responses={"weather_api_key": ElicitResult(action="accept")},
        )
        assert "Oslo" in text_of(result)
    record_id = url.rsplit("/", 1)[1]
    assert audit_events(postgres, record_id).count("completed") == 1
    store = Store.postgresql(cluster.database_url, Keyring.dev(cluster.data_dir / "vault.key"))
    try:
        assert await store.vault.get("alice", "weather_api_key") == f"wk_from_{winner}_1234567"
    finally:
        await store.stop()


async def test_twenty_calls_over_three_replicas_refresh_a_token_once(cluster, browsers):
    browser, _ = browsers(to("replica1"))
    async with cluster.client(browser, "alice", route=to("replica1")) as (client, notices, _):
        elicitation = await _needs_connection(client)
        await _at_provider(browser.http, await _start_connect(browser, elicitation["url"]))
        assert await notices.wait_for(elicitation["elicitationId"])
    store = Store.postgresql(cluster.database_url, Keyring.dev(cluster.data_dir / "vault.key"))
    connections = Connections(store.vault)
    try:
        tokens = await connections.load("alice", "calendar")
        assert tokens is not None
        await connections.store("alice", "calendar", replace(tokens, expires_at=time.time() + 5))
        before = await refreshes(cluster)
        results: list[str] = []
        async with cluster.client(browser, "alice", mode=MODERN) as (client, _, mcp):

            async def call() -> None:
                results.append(text_of(await client.call_tool("next_meeting", {})))

            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(call)
        assert mcp.names("/mcp") == {"replica1", "replica2", "replica3"}
        assert await refreshes(cluster) == before + 1
        fresh = await connections.load("alice", "calendar")
        assert fresh is not None and fresh.access_token != tokens.access_token
        assert len(results) == 20 and all("design review" in r for r in results)
    finally:
        await store.stop()


async def test_request_state_tampered_or_replayed_on_other_replicas_is_refused(cluster, browsers):
    browser, _ = browsers(to("replica2"))
    route = Switch("replica1")
    async with cluster.client(browser, "alice", mode=MODERN, route=route) as (client, _, _):
        first = await client.session.call_tool("forecast", {"city": "Oslo"}, allow_input_required=True)
        assert isinstance(first, InputRequiredResult) and first.request_state and first.input_requests
        await _enter(browser, next(iter(first.input_requests.values())).params.url)
        state = first.request_state

        async def retry(token: str, city: str = "Oslo") -> object:
            return await client.session.call_tool(
                "forecast",
                {"city": city},
                request_state=token,
                input_responses={"weather_api_key": ElicitResult(action="accept")},
            )

        route.target = "replica2"
        for bad in (state[:-2] + ("AA" if state[-2:] != "AA" else "BB"), state + "x"):
            with pytest.raises(MCPError) as caught:
                await retry(bad)
            assert caught.value.code == INVALID_PARAMS
        with pytest.raises(MCPError) as caught:
            await retry(state, city="Bergen")  # sealed for Oslo
        assert caught.value.code == INVALID_PARAMS
        assert "Oslo" in text_of(await retry(state))  # the genuine one, on another replica
        route.target = "replica3"
        with pytest.raises(MCPError) as caught:
            await retry(state)  # used up on replica2: refused on replica3 too
        assert caught.value.code == INVALID_PARAMS and "requestState" in caught.value.message


async def test_a_retry_whose_replica_is_killed_goes_on_on_another(cluster, browsers):
    browser, _ = browsers(to("replica3"))
    first: list[InputRequiredResult] = []
    app: list[object] = []

    async def retry(client) -> object:  # type: ignore[no-untyped-def]
        return await client.session.call_tool(
            "forecast",
            {"city": "Oslo"},
            request_state=first[0].request_state,
            input_responses={"weather_api_key": ElicitResult(action="accept")},
            allow_input_required=True,
        )

    with anyio.fail_after(60), pytest.raises(Exception) as lost:
        async with cluster.client(browser, "alice", mode=MODERN, route=to("replica1")) as (client, _, mcp):
            app.append(mcp.http)
            answer = await client.session.call_tool("forecast", {"city": "Oslo"}, allow_input_required=True)
            assert isinstance(answer, InputRequiredResult) and answer.input_requests
            first.append(answer)
            async with anyio.create_task_group() as tg:
                tg.start_soon(retry, client)  # held on replica1...
                await anyio.sleep(0.5)
                cluster.kill("replica1")  # ...which dies, and the connection with it
    assert "disconnected" in repr(lost.value).lower() or "connect" in repr(lost.value).lower()
    (request,) = first[0].input_requests.values()
    await _enter(browser, request.params.url)
    retrying = cluster.client(browser, "alice", mode=MODERN, route=to("replica2"), same_app_as=app[0])
    async with retrying as (client, _, served):
        result = await retry(client)  # the client's next retry, on another replica, gets the result
    assert not isinstance(result, InputRequiredResult) and "Oslo" in text_of(result)
    assert served.names("/mcp") == {"replica2"}


async def test_postgresql_restarting_mid_flow_loses_and_doubles_nothing(cluster, browsers, postgres):
    route = Switch("replica1")
    browser, _ = browsers(route)
    async with cluster.client(browser, "alice") as (client, notices, mcp):
        elicitation = await _needs_key(client)
        (home,) = mcp.names(session=True)
        route.target = next(r.name for r in cluster.replicas if r.name != home)
        page = await browser.open(elicitation["url"])
        postgres.stop()
        try:
            down = await browser.http.get(elicitation["url"])
            assert down.status_code == 503
            assert "This server cannot save anything at the moment" in down.text
            assert postgres.password not in down.text
        finally:
            postgres.start()
        for _ in range(60):  # each replica's pool reconnects within a few seconds of the database
            if (await browser.http.get(elicitation["url"])).status_code == 200:
                break
            await anyio.sleep(0.25)
        saved = await browser.submit(page, {"value": KEY, "action": "save"})  # the form from before
        assert not isinstance(saved, str) and saved.status == 200, saved
        assert await notices.wait_for(elicitation["elicitationId"], timeout=15)  # the bus came back
        result = await client.call_tool("forecast", {"city": "Oslo"})
        assert "Oslo" in text_of(result)
    events = audit_events(postgres, elicitation["elicitationId"])
    assert events.count("created") == 1 and events.count("completed") == 1


def test_a_database_unreachable_at_startup_is_named_without_its_password(tmp_path):
    port = free_port()
    url = f"postgresql://handoff:Sup3rSecretPassw0rd@127.0.0.1:{port}/handoff"
    done = subprocess.run(
        [sys.executable, str(SERVER), str(free_port()), "http://127.0.0.1:9", url, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"127.0.0.1:{port}" in output and "cannot reach database" in output
    assert "Sup3rSecretPassw0rd" not in output


def test_two_servers_on_one_sqlite_file_the_second_is_refused(tmp_path):
    data = tmp_path / "data"
    first_port, second_port = free_port(), free_port()
    command = [sys.executable, "-m", "handoff.cli", "demo", "--data-dir", str(data), "--port"]
    first = subprocess.Popen([*command, str(first_port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        from _server import wait_until_serving

        wait_until_serving(f"http://127.0.0.1:{first_port}/handoff/", first, "the first server")
        second = subprocess.run([*command, str(second_port)], capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "another handoff server" in second.stderr and "PostgreSQL" in second.stderr
        assert str(Path(data / "handoff.db")) in second.stderr
    finally:
        first.terminate()
        first.wait(timeout=10)


async def test_a_person_in_chromium_signs_in_on_one_replica_and_saves_the_key_on_another(cluster, browsers):
    from _chromium import CHROMIUM, FLAGS
    from playwright.async_api import async_playwright

    helper, _ = browsers(to("replica1"))
    async with cluster.client(helper, "alice", route=to("replica1")) as (client, notices, mcp):
        elicitation = await _needs_key(client)
        async with async_playwright() as p:
            chromium = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            try:
                context = await chromium.new_context(extra_http_headers={"x-handoff-route": "replica2"})
                page = await context.new_page()
                served: list[tuple[str, str]] = []
                page.on("response", lambda r: served.append((r.url, r.headers.get("x-handoff-replica", ""))))
                await page.goto(elicitation["url"])
                assert await page.locator("input[name=password]").count()  # the page asks who is there
                await page.fill("input[name=username]", "alice")
                await page.fill("input[name=password]", DEMO_USERS["alice"])
                await page.click("button[type=submit]")
                await page.wait_for_selector("input[name=value]")
                signed_in_on = {replica for _, replica in served}
                # What the sign-in proves travels in the page's form, sealed with the key the replicas
                # share: the same page, posted to another replica, saves the key there.
                await context.set_extra_http_headers({"x-handoff-route": "replica3"})
                served.clear()
                await page.fill("input[name=value]", KEY)
                await page.click("button[value=save]")
                await page.wait_for_load_state()
                assert "Saved" in await page.inner_text("h1")
                saved_on = {replica for _, replica in served}
            finally:
                await chromium.close()
        assert signed_in_on == {"replica2"} and saved_on == {"replica3"}
        assert await notices.wait_for(elicitation["elicitationId"])  # told on replica1
        result = await client.call_tool("forecast", {"city": "Oslo"})
        assert "Oslo" in text_of(result)
    assert mcp.names(session=True) == {"replica1"}
