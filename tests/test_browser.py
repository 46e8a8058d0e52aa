"""A real browser (Playwright driving Debian's Chromium) through login, connect, the provider's consent,
the callback and an approval page, with a screenshot of each page and what a person sees on it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from _mcp import text_of, user_client
from mcp import MCPError
from playwright.async_api import Browser, Page, async_playwright

from handoff.demo import DEMO_USERS

pytestmark = pytest.mark.anyio

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
async def chromium():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        await browser.close()


@pytest.fixture
def screens(tmp_path) -> Path:
    folder = Path(os.environ.get("HANDOFF_SCREENSHOTS", tmp_path / "screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
        assert "Sign in" in seen and "User name" in seen
        await page.fill("input[name=username]", "alice")
        await page.fill("input[name=password]", DEMO_USERS["alice"])
        await page.click("button[type=submit]")

        await page.wait_for_url(elicitation["url"])
        seen = await shot(page, screens, "connect")
        assert "Connect Calendar" in seen and "next_meeting" in seen and "calendar" in seen
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
    assert len(list(screens.glob("*.png"))) == 7


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
