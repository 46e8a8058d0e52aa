"""Consent phishing across browsers, in Chromium: bob starts an MCP client's sign-in and passes the link
on; alice, signed in to the same server in her own browser, opens it. She must not be one click away
from handing bob a token for her: the page asks her to sign in for this very request first (on this
plain-http server every consent page does), and then says where the request came from (the app's
name as data, where it sends her back, when it was made)."""

from __future__ import annotations

import httpx2
import pytest
from playwright.async_api import Browser, Page
from test_authserver import OAuthPeer

from handoff.demo import DEMO_USERS

pytestmark = pytest.mark.anyio

NAME = "Claude Desktop (verified by Juniper Assistant)"
REDIRECT = "https://bob.example/oauth/callback"


async def _sign_in(page: Page, user: str) -> None:
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", DEMO_USERS[user])
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


async def test_a_consent_link_from_another_browser_needs_a_fresh_sign_in_and_shows_its_origin(
    running, chromium: Browser, screens
):
    async with httpx2.AsyncClient() as http:  # bob's MCP client registers and starts its sign-in
        peer = OAuthPeer(running.origin, http)
        client = await peer.client(name=NAME, redirect=REDIRECT)
    authorize, _ = peer.authorize_url(client, REDIRECT, resource=running.mcp_url)

    bob = await (await chromium.new_context()).new_page()
    await bob.goto(authorize)
    assert await bob.locator("#login-notice").count() == 0  # his own sign-in, as usual
    await _sign_in(bob, "bob")
    await bob.wait_for_selector("button[value=allow]")
    link = bob.url  # the consent page, as bob would paste it into a message

    alice = await (await chromium.new_context()).new_page()
    await alice.goto(f"{running.origin}/handoff/login")
    await _sign_in(alice, "alice")
    await alice.goto(link)
    assert await alice.locator("button[value=allow]").count() == 0  # no one-click grant
    assert await alice.locator("input[name=password]").count() == 1
    assert "for this page only" in await alice.locator("#login-here").inner_text()
    await alice.screenshot(path=screens / "consent-link-sign-in-again.png", full_page=True)
    codes = await running.demo.auth.store.count("as.code")

    await _sign_in(alice, "alice")  # only a sign-in for this very request leads to its consent
    await alice.wait_for_selector("button[value=allow]")
    await alice.screenshot(path=screens / "consent-link-after-sign-in.png", full_page=True)
    heading = await alice.locator("h1").inner_text()
    assert heading == "Allow an app to act as you?" and "Claude" not in heading
    summary = await alice.locator("table.summary").inner_text()
    assert f"“{NAME}”" in summary and "not verified" in summary
    assert "bob.example" in summary
    assert await alice.locator("table.summary time").count() == 2  # when the request was made
    assert await running.demo.auth.store.count("as.code") == codes  # nothing was granted on the way
