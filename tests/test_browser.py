"""A real browser (Playwright driving Debian's Chromium) through login, connect, the provider's consent,
the callback and an approval page, with a screenshot of each page and what a person sees on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _mcp import text_of, user_client
from _server import python_path
from mcp import MCPError
from playwright.async_api import Browser, Page

from handoff.demo import DEMO_USERS

pytestmark = pytest.mark.anyio


async def sign_in_here(page: Page, user: str = "alice") -> None:
    """Sign in on the page that asks (on plain http each record's page does, for itself)."""
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", DEMO_USERS[user])
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


async def shot(page: Page, folder: Path, name: str) -> str:
    """Save a screenshot and return the page's visible text (what a person reads)."""
    path = folder / f"{len(list(folder.glob('*.png'))):02d}-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 2000
    return await page.inner_text("body")


async def test_a_person_connects_a_calendar_and_approves_a_payment(
    world, world_browsers, chromium: Browser, screens: Path
):
    server = world.server
    context = await chromium.new_context()
    page = await context.new_page()
    async with user_client(server.mcp_url, world_browsers(), "alice") as (client, notices):
        with pytest.raises(MCPError) as caught:
            await client.call_tool("next_meeting", {})
        elicitation = caught.value.data["elicitations"][0]

        await page.goto(elicitation["url"])
        seen = await shot(page, screens, "login")
        assert "Sign in" in seen and "User name" in seen and "for this page only" in seen
        await sign_in_here(page)

        assert page.url == elicitation["url"]
        seen = await shot(page, screens, "connect")
        assert "Connect Calendar" in seen and "next_meeting" in seen and "calendar" in seen
        assert "saved to alice's account" in seen
        await page.click("text=Continue to Calendar")

        await page.wait_for_url(f"{world.oidc}/interaction/**")
        seen = await shot(page, screens, "provider-login")
        assert "Sign-in" in seen
        await page.fill("input[name=login]", "alice")
        await page.fill("input[name=password]", "any")
        await page.click("button[type=submit]")

        await page.wait_for_selector("text=Authorize")
        seen = await shot(page, screens, "provider-consent")
        assert "calendar" in seen.lower()
        await page.click("button[type=submit]")

        await page.wait_for_url(f"{server.origin}/handoff/oauth/callback?**")
        seen = await shot(page, screens, "callback-sign-in")  # which of the server's users is back here?
        assert "Sign in" in seen and "Connected" not in seen
        await sign_in_here(page)
        seen = await shot(page, screens, "connected")
        assert "Connected" in seen and "token stays on the server" in seen
        assert await notices.wait_for(elicitation["elicitationId"])
        result = await client.call_tool("next_meeting", {})
        assert "design review" in text_of(result)

        payment = {"amount": "49.90", "currency": "EUR", "payee": "Paper & Ink GmbH", "description": "Toner"}
        with pytest.raises(MCPError) as caught:
            await client.call_tool("send_payment", payment)
        approval = caught.value.data["elicitations"][0]
        await page.goto(approval["url"])
        await sign_in_here(page)
        seen = await shot(page, screens, "approval")
        for expected in ("Send a payment", "49.90 EUR", "Paper & Ink GmbH", "Toner", "Approve", "Deny"):
            assert expected in seen
        await page.click("text=Approve")
        await page.wait_for_selector("h1:text('Approved')")
        seen = await shot(page, screens, "approved")
        assert "with exactly what you saw" in seen
        assert await notices.wait_for(approval["elicitationId"])
        result = await client.call_tool("send_payment", payment)
        assert text_of(result) == "Paid 49.90 EUR to Paper & Ink GmbH."
    await context.close()
    assert len(list(screens.glob("*.png"))) == 8


async def test_pages_cannot_be_framed(world, world_browsers, chromium: Browser, screens: Path):
    server = world.server
    async with user_client(server.mcp_url, world_browsers(), "alice") as (client, _):
        with pytest.raises(MCPError) as caught:
            await client.call_tool("send_payment", {"amount": "1", "currency": "EUR", "payee": "x"})
    url = caught.value.data["elicitations"][0]["url"]
    context = await chromium.new_context()
    page = await context.new_page()
    await page.goto(f"{world.oidc}/.well-known/openid-configuration")  # any other origin
    await page.set_content(f'<h1>attacker</h1><iframe id="f" src="{url}" width="600" height="400"></iframe>')
    await page.wait_for_timeout(1500)
    frame = next(f for f in page.frames if f != page.main_frame)
    body = await frame.evaluate("document.body ? document.body.innerText : ''")
    await shot(page, screens, "framed")
    assert "Sign in" not in body and "Send a payment" not in body
    await context.close()


# The MCP client's own sign-in at the built-in authorization server, in Chromium.

CSP_REFUSAL = "violates the following Content Security Policy directive"


class Callback:
    """A native client's loopback redirect URI, served for real so Chromium has somewhere to land."""

    def __init__(self) -> None:
        from _server import ServerThread, free_port
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse
        from starlette.routing import Route

        async def arrived(request):
            return HTMLResponse("<h1>Signed in</h1><p>Go back to the app.</p>")

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/callback"
        self.server = ServerThread(Starlette(routes=[Route("/callback", arrived)]), self.port).start()


class _Storage:
    """The SDK's token storage, in memory: the app's registration outlives its tokens."""

    def __init__(self) -> None:
        self.tokens: Any = None
        self.client: Any = None

    async def get_tokens(self) -> Any:
        return self.tokens

    async def set_tokens(self, tokens: Any) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> Any:
        return self.client

    async def set_client_info(self, client_info: Any) -> None:
        self.client = client_info


async def _signed_in_client(
    running, page: Page, storage, callback: Callback, screens: Path, consoles: list[str], seen: list[str]
):
    """The official SDK client whose OAuth redirect is followed by `page`, a person at Chromium."""
    import httpx2
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

    from handoff.demo._client import demo_client

    landed: dict[str, str] = {}

    async def redirect(url: str) -> None:
        await page.goto(url)
        if await page.locator("input[name=password]").count():
            seen.append(await shot(page, screens, "mcp-sign-in"))
            await page.fill("input[name=username]", "alice")
            await page.fill("input[name=password]", DEMO_USERS["alice"])
            await page.click("button[type=submit]")
            await page.wait_for_load_state()
        if await page.locator("button[value=allow]").count():
            seen.append(await shot(page, screens, "mcp-consent"))
            await page.click("button[value=allow]")
        await page.wait_for_url(f"{callback.url}?**", timeout=15_000)
        from urllib.parse import parse_qs, urlsplit

        landed.update({k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()})

    async def arrived() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(code=landed["code"], state=landed.get("state"), iss=landed.get("iss"))

    auth = OAuthClientProvider(
        server_url=running.mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="chromium test app",
            redirect_uris=[callback.url],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=redirect,
        callback_handler=arrived,
    )
    page.on("console", lambda m: consoles.append(m.text))
    return demo_client(running.mcp_url, httpx2.AsyncClient(auth=auth, timeout=30))


async def test_an_mcp_client_signs_in_at_the_built_in_server_in_chromium(running, chromium: Browser, screens):
    callback = Callback()
    storage = _Storage()
    try:
        consoles: list[str] = []

        async def sign_in_once() -> list[str]:
            seen: list[str] = []
            context = await chromium.new_context()
            page = await context.new_page()
            async with await _signed_in_client(
                running, page, storage, callback, screens, consoles, seen
            ) as c:
                assert text_of(await c.call_tool("whoami", {})) == "You are alice."
            await context.close()
            return seen

        seen = await sign_in_once()
        assert len(seen) == 2  # sign-in, then consent
        consent = seen[1]
        assert "Allow an app to act as you?" in consent and "“chromium test app”" in consent
        assert "an app on this computer" in consent and f"local port {callback.port}" in consent
        assert "not verified" in consent

        # Later, in a fresh browser, the same app signs in again: consent is remembered, so the sign-in
        # form's own redirect chain ends at the app's loopback callback.
        storage.tokens = None
        seen = await sign_in_once()
        assert len(seen) == 1 and "Sign in" in seen[0]
        assert not [m for m in consoles if CSP_REFUSAL in m]
    finally:
        callback.server.stop()


@pytest.mark.parametrize(
    "redirect", ["https://client.example/oauth/callback", "com.example.app:/oauth/callback"]
)
async def test_consent_lets_the_browser_go_on_to_https_and_app_scheme_redirects(
    running, chromium: Browser, redirect
):
    import httpx2
    from test_authserver import OAuthPeer

    async with httpx2.AsyncClient() as http:
        peer = OAuthPeer(running.origin, http)
        client = await peer.client(name="Redirect test", redirect=redirect)
    url, _ = peer.authorize_url(client, redirect)
    context = await chromium.new_context()
    page = await context.new_page()
    requests: list[str] = []
    consoles: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: consoles.append(m.text))
    await context.route("https://client.example/**", lambda route: route.fulfill(body="<h1>Client</h1>"))
    await page.goto(url)
    await page.fill("input[name=username]", "alice")
    await page.fill("input[name=password]", DEMO_USERS["alice"])
    await page.click("button[type=submit]")
    await page.wait_for_selector("button[value=allow]")
    codes_before = await running.demo.auth.store.count("as.code")
    await page.click("button[value=allow]")
    await page.wait_for_timeout(1500)
    assert await running.demo.auth.store.count("as.code") == codes_before + 1  # the server sent a code
    # Chromium refuses a form's redirect that its page's form-action does not allow, and says so.
    assert not [m for m in consoles if CSP_REFUSAL in m], consoles
    if redirect.startswith("https:"):
        assert [r for r in requests if r.startswith(redirect + "?code=")], requests
        assert await page.inner_text("h1") == "Client"
    await context.close()


def test_handoff_connect_signs_in_through_chromium(running, tmp_path):
    import shlex
    import sys
    import time

    from test_terminal import Terminal

    here = Path(__file__).parent
    log = tmp_path / "chromium.log"
    env = {
        "BROWSER": f"{shlex.quote(sys.executable)} {here / 'chromium_browser.py'} %s",
        "CHROMIUM_LOG": str(log),
        "HANDOFF_TOKENS": str(tmp_path / "tokens.json"),
        "PYTHONPATH": python_path(here),
        "TERM": "xterm-256color",
    }
    handoff = Path(sys.executable).parent / "handoff"
    command = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command = f"env {command} {shlex.quote(str(handoff))} connect --protocol legacy {running.mcp_url}"
    term = Terminal(f"handoff-chromium-{time.monotonic_ns()}", "client")
    term.tmux("new-session", "-d", "-s", "client", "-x", "150", "-y", "60", command)
    try:
        term.wait_for("Type help for commands", timeout=90)
        seen = log.read_text()
        assert "page: Sign in" in seen and "landed:" in seen, seen
        assert "page: Allow an app to act as you?" in seen, seen  # the app named itself: no heading
        assert CSP_REFUSAL not in seen
        term.type("call whoami {}")
        term.wait_for("You are alice.")
    finally:
        term.tmux("kill-server")


# What a person approves is what runs: hostile values, as Chromium renders them.

HOSTILE = [
    # (amount, payee, what the page must say for the payee or amount row, a note that must show)
    (
        "1\u202e00.0\u202c",
        "Ink Ltd",
        "1⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧00.0⟦U+202C POP DIRECTIONAL FORMATTING⟧ EUR",
        "invisible",
    ),
    ("5.00", "\u202eLtd Ink", "⟦U+202E RIGHT-TO-LEFT OVERRIDE⟧Ltd Ink", "direction-changing"),
    ("5.00", "Pay\u200bPal", "Pay⟦U+200B ZERO WIDTH SPACE⟧Pal", "invisible"),
    ("5.00", "P\u0430yPal", "P⟦U+0430 CYRILLIC SMALL LETTER A⟧yPal", "mixes Latin letters with Cyrillic"),
    (
        "5.00",
        "\u0440\u0430\u0443\u0440\u0430\u04cf",
        "\u0440\u0430\u0443\u0440\u0430\u04cf",
        "written in Cyrillic letters",
    ),
    ("5.00", "Pay\u00a0Pal", "Pay⟦U+00A0 NO-BREAK SPACE⟧Pal", "unusual space"),
    ("5.00", "Mu\u0308ller", "Mu⟦U+0308 COMBINING DIAERESIS⟧ller", "accent marks"),
    ("5.00", "\uff30ay", "⟦U+FF30 FULLWIDTH LATIN CAPITAL LETTER P⟧ay", "full-width"),
    (
        "5.00",
        "Pay⟦U+200B ZERO WIDTH SPACE⟧Pal",
        "Pay⟦U+27E6 MATHEMATICAL LEFT WHITE SQUARE BRACKET⟧U+200B ZERO WIDTH SPACE"
        "⟦U+27E7 MATHEMATICAL RIGHT WHITE SQUARE BRACKET⟧Pal",
        "brackets this page uses",
    ),
]


async def test_approval_pages_show_hostile_values_exactly_as_they_will_run(
    world, world_browsers, chromium: Browser, screens: Path
):
    server = world.server
    context = await chromium.new_context()
    page = await context.new_page()
    rendered: list[str] = []
    async with user_client(server.mcp_url, world_browsers(), "alice") as (client, _):
        for amount, payee, expected, note in [("5.00", "Ink Ltd", "Ink Ltd", None), *HOSTILE]:
            arguments = {"amount": amount, "currency": "EUR", "payee": payee}
            with pytest.raises(MCPError) as caught:
                await client.call_tool("send_payment", arguments)
            await page.goto(caught.value.data["elicitations"][0]["url"])
            await sign_in_here(page)
            cells = await page.locator("table.summary td").all_inner_texts()
            assert expected in cells, (payee, cells)
            caution = page.locator(".caution")
            if note is None:
                assert await caution.count() == 0
            else:
                assert note in await caution.inner_text(), (payee, await caution.inner_text())
            rendered.append(" | ".join(cells))
        await shot(page, screens, "approval-hostile")
    assert len(set(rendered)) == len(rendered)  # different arguments never look the same
    await context.close()


async def test_a_local_server_asks_for_the_passphrase_then_takes_a_key_in_chromium(
    chromium: Browser, screens
):
    """LocalIdentity's passphrase sign-in and the secret page, as a person at Chromium sees them."""
    from _server import ServerThread, free_port
    from mcp import Client
    from test_identities import PASSPHRASE, _local

    port = free_port()
    handoff, mcp = _local(port)
    server = ServerThread(handoff.app(mcp), port).start()

    async def no_elicitation(*_: object) -> None:
        raise AssertionError("unexpected elicitation/create")

    try:
        async with Client(
            f"http://127.0.0.1:{port}/mcp", mode="legacy", elicitation_callback=no_elicitation
        ) as client:
            with pytest.raises(MCPError) as caught:
                await client.call_tool("use_token", {})
            context = await chromium.new_context()
            page = await context.new_page()
            consoles: list[str] = []
            page.on("console", lambda m: consoles.append(m.text))
            await page.goto(caught.value.data["elicitations"][0]["url"])
            seen = await shot(page, screens, "local-passphrase")
            assert "passphrase" in seen and "User name" not in seen
            await page.fill("input[name=password]", PASSPHRASE)
            await page.click("button[type=submit]")
            await page.wait_for_selector("input[name=value]")
            seen = await shot(page, screens, "local-secret")
            assert "Token" in seen and "use_token" in seen
            await page.fill("input[name=value]", "abcdef")
            await page.click("button[value=save]")
            await page.wait_for_selector("h1:text('Saved')")
            assert not [m for m in consoles if CSP_REFUSAL in m]
            await context.close()
            assert "6 characters" in text_of(await client.call_tool("use_token", {}))
    finally:
        server.stop()
