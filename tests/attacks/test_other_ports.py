"""Two handoff servers on two loopback ports, in Chromium. A browser scopes cookies by host, never by
port: every cookie of http://127.0.0.1 is sent to every local port, and any local server can set one
for all the others. So whoever listens on the other port (here: a second real handoff server with
a neighbour's page of its own) reads the first server's cookies, and plants cookies there.

Neither may get anything: a cookie replayed from the other port is not alice at the first server (no
record, no approval, no consent page), and bob's own valid cookie planted into alice's browser cannot
make her page take her key or her calendar token into bob's account."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape, unescape
from pathlib import Path
from typing import Any

import httpx2
import pytest
from _server import ServerThread, free_port
from conftest import Running
from playwright.async_api import Browser, Page
from starlette.requests import Request
from starlette.responses import HTMLResponse

from handoff.demo import DEMO_USERS, ScriptedBrowser, build_demo
from handoff.ledger import Status

from .conftest import PAYMENT, ask, authorize_request, connect_at

pytestmark = pytest.mark.anyio

ALICE_KEY = "wk_AliceOwnKey12345"


@dataclass
class Neighbour:
    """A second handoff server on another loopback port, with a page of its operator's beside it:
    it keeps the Cookie header of every request it gets, sets the cookies it is told to, and posts
    a form it is told to, to wherever it is told."""

    origin: str
    server: ServerThread | None = None
    seen: list[str] = field(default_factory=list)
    plant: dict[str, str] = field(default_factory=dict)
    post: tuple[str, dict[str, str]] | None = None

    def cookies_for(self, port: int) -> str:
        """The Cookie header the browser sent here that carries the server on `port`'s cookie."""
        return next(c for c in self.seen if f"handoff-{port}=" in c)


def _neighbour_app(neighbour: Neighbour, handoff_app: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await handoff_app(scope, receive, send)
            return
        request = Request(scope)
        neighbour.seen.append(request.headers.get("cookie", ""))
        if scope["path"] == "/neighbour/plant":
            page = HTMLResponse("<h1>neighbour</h1>")
            for name, value in neighbour.plant.items():
                page.set_cookie(name, value, path="/", httponly=True, samesite="lax")
            await page(scope, receive, send)
        elif scope["path"] == "/neighbour/post" and neighbour.post is not None:
            target, fields = neighbour.post
            inputs = "".join(
                f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
            )
            page = HTMLResponse(
                f'<form id="f" method="post" action="{escape(target)}">{inputs}</form>'
                "<script>document.getElementById('f').submit()</script>"
            )
            await page(scope, receive, send)
        else:
            await handoff_app(scope, receive, send)

    return app


@pytest.fixture
def neighbour(tmp_path: Path) -> Iterator[Neighbour]:
    port = free_port()
    demo = build_demo(f"http://127.0.0.1:{port}", tmp_path / "neighbour", framework=Running.framework)
    neighbour = Neighbour(demo.public_url)
    server = neighbour.server = ServerThread(_neighbour_app(neighbour, demo.app), port).start()
    yield neighbour
    server.stop()


async def _goes_along(page: Page, user: str = "alice", key: str = ALICE_KEY) -> None:
    """What a person does at the pages: sign in as herself where asked, give her key where asked,
    allow at a provider."""
    for _ in range(6):
        await page.wait_for_load_state()
        if await page.locator("input[name=value]").count():
            await page.fill("input[name=value]", key)
            await page.click("button[value=save]")
        elif await page.locator("input[name=password]").count():
            if await page.locator("input[name=login]").count():  # the calendar provider's own sign-in
                await page.fill("input[name=login]", user)
                await page.fill("input[name=password]", "any")
            else:
                await page.fill("input[name=username]", user)
                await page.fill("input[name=password]", DEMO_USERS[user])
            await page.click("button[type=submit]")
        elif await page.locator("text=Authorize").count():
            await page.click("button[type=submit]")
        else:
            return


async def _plant(page: Page, neighbour: Neighbour, cookies: dict[str, str]) -> None:
    neighbour.plant = cookies
    await page.goto(f"{neighbour.origin}/neighbour/plant")


def _jar(browser: ScriptedBrowser, port: int) -> dict[str, str]:
    """The first server's cookies in `browser`'s jar."""
    return {c.name: c.value for c in browser.http.cookies.jar if c.name.startswith(f"handoff-{port}")}


async def test_a_cookie_read_on_another_port_is_nobody_there_or_here(
    running, neighbour, browsers, chromium: Browser
):
    handoff = running.demo.handoff
    approval = await ask(running.mcp_url, browsers(), "alice", "send_payment", **PAYMENT)
    alice = await (await chromium.new_context()).new_page()
    await alice.goto(approval.url)
    await _goes_along(alice)  # alice signs in and looks at her payment, without approving yet
    assert PAYMENT["payee"] in await alice.inner_text("main")

    await alice.goto(f"{neighbour.origin}/handoff/")  # any page on the other port
    stolen = neighbour.cookies_for(running.port)  # the browser sent it there: that is the premise
    async with httpx2.AsyncClient(headers={"cookie": stolen}, follow_redirects=True) as replay:
        there = await replay.get(f"{neighbour.origin}/handoff/")
        assert "alice" not in there.text  # nobody at the other server

        page = await replay.get(approval.url)  # and nobody at the first one
        assert PAYMENT["payee"] not in page.text and 'value="approve"' not in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        posted = await replay.post(
            approval.url, data={"csrf": unescape(csrf.group(1)) if csrf else "", "action": "approve"}
        )
        assert "Approved" not in posted.text
        assert (await handoff.ledger.get(approval.id)).status is Status.PENDING

    # Nor does it start an MCP client's sign-in as alice: no consent page, a sign-in for it.
    codes = await running.demo.auth.store.count("as.code")
    async with httpx2.AsyncClient(headers={"cookie": stolen}) as replay:
        consent = await replay.get(await authorize_request(replay, running.origin), follow_redirects=True)
    assert 'value="allow"' not in consent.text and 'name="password"' in consent.text
    assert await running.demo.auth.store.count("as.code") == codes


async def test_bobs_cookie_planted_from_another_port_never_takes_alices_key_into_his_vault(
    running, neighbour, browsers, chromium: Browser
):
    handoff = running.demo.handoff
    bob = browsers()
    link = await ask(running.mcp_url, bob, "bob")  # bob's own record, and his browser signed in
    own_page = await bob.open(link.url)  # what bob's own browser shows for it
    bare = (await bob.http.get(link.url)).text  # and its first answer, before anything is typed
    planted = _jar(bob, running.port)
    victim = await (await chromium.new_context()).new_page()

    # bob plants his cookie from his port and sends alice his link
    await _plant(victim, neighbour, planted)
    await victim.goto(link.url)
    await _goes_along(victim)  # the page asks who is there: alice, whose request this is not
    assert await victim.locator("h1").inner_text() == "This request is not yours"
    # bob's page posts his own form of that link from his port (an empty save shows the form again)
    await _plant(victim, neighbour, planted)
    neighbour.post = (link.url, {"csrf": own_page.csrf or "", "action": "save", "value": ""})
    await victim.goto(f"{neighbour.origin}/neighbour/post")
    await _goes_along(victim)
    assert await victim.locator("h1").inner_text() == "Form from another site"
    # or a sign-in as bob for it, with the form bob's browser was given
    await _plant(victim, neighbour, planted)
    csrf = re.search(r'name="csrf" value="([^"]+)"', bare)
    fields = {
        "username": "bob",
        "password": DEMO_USERS["bob"],
        "csrf": unescape(csrf.group(1)) if csrf else "",
    }
    neighbour.post = (link.url, fields)
    await victim.goto(f"{neighbour.origin}/neighbour/post")
    await _goes_along(victim)
    assert await victim.locator("h1").inner_text() == "Form from another site"

    assert await handoff.vault.get("bob", "weather_api_key") is None
    assert (await handoff.ledger.get(link.id)).status is Status.PENDING


async def test_bobs_cookie_planted_from_another_port_never_takes_alices_calendar_into_his_account(
    world, world_browsers, neighbour, chromium: Browser
):
    handoff = world.server.demo.handoff
    bob = world_browsers()
    meeting = await ask(world.server.mcp_url, bob, "bob", "next_meeting")
    provider = await connect_at(meeting)  # bob's own start at the provider, never finished by him
    victim = await (await chromium.new_context()).new_page()
    await _plant(victim, neighbour, _jar(bob, world.server.port))
    await victim.goto(provider)  # a link to the real provider, which knows alice
    await _goes_along(victim)  # back from it, the page asks who is there: alice, not bob
    assert await victim.locator("h1").inner_text() == "Not your sign-in"
    assert await handoff.connections.load("bob", "calendar") is None
    assert (await handoff.ledger.get(meeting.id)).status is Status.PENDING
