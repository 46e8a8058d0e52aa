"""What the attacks share: pending records made by real tool calls, and signed-in browsers."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx2
import pytest
from _mcp import user_client
from _web import Visit
from mcp import MCPError

from handoff.demo import DEMO_USERS, ScriptedBrowser
from handoff.demo._browser import Page

PAYMENT = {"amount": "12.50", "currency": "EUR", "payee": "Carol's Bakery"}


@dataclass
class Link:
    """A pending record made by a real tool call, and the browser of the person it was made for."""

    url: str
    id: str
    owner: ScriptedBrowser


async def ask(
    mcp_url: str, browser: ScriptedBrowser, user: str, tool: str = "forecast", **arguments: Any
) -> Link:
    """Call `tool` as `user` (signing `browser` in on the way) and return the link the server answers with."""
    arguments = arguments or ({"city": "Oslo"} if tool == "forecast" else {})
    async with user_client(mcp_url, browser, user) as (client, _):
        with pytest.raises(MCPError) as caught:
            await client.call_tool(tool, arguments)
    (elicitation,) = caught.value.data["elicitations"]
    return Link(elicitation["url"], elicitation["elicitationId"], browser)


async def answered(browser: ScriptedBrowser, url: str) -> httpx2.Response:
    """Open `url` in `browser` (a record's page, a consent, a provider's callback); where the page asks
    who is there (on plain http they do), the browser's person signs in on it. The last answer."""
    response = await browser.http.get(url)
    page = Page(str(response.url), response.status_code, response.text)
    if page.asks_sign_in and browser.person is not None and page.action:
        user, password = browser.person
        form = {"csrf": page.csrf or "", "username": user, "password": password}
        response = await browser.http.post(urljoin(url, page.action), data=form)
    return response


async def sign_in(browser: ScriptedBrowser, user: str) -> ScriptedBrowser:
    """Sign `browser` in to the pages as `user`, the way a person does (it remembers who that is)."""
    page = await browser.open(f"{browser.origin}/handoff/login")
    landed = await browser.sign_in(page, user, DEMO_USERS[user])
    assert f"Signed in as <strong>{user}</strong>" in landed.text, landed.text[:500]
    return browser


async def connect_at(link: Link, browser=None) -> str:
    """Press Continue on the connect page; return the provider's authorize URL it sends the browser to."""
    browser = browser or link.owner
    page = await browser.open(link.url)
    assert page.title.startswith("Connect "), page.text[:300]
    location = await browser.submit(page, {"action": "continue"})
    assert isinstance(location, str) and "state=" in location
    return location


async def provider_callback(http: httpx2.AsyncClient, authorize_url: str, user: str, origin: str) -> str:
    """Sign in and allow at the provider; return the callback URL it sends back, without opening it."""
    response = await http.get(authorize_url)
    for _ in range(20):
        if response.status_code in (301, 302, 303, 307, 308):
            target = urljoin(str(response.url), response.headers["location"])
            if target.startswith(f"{origin}/handoff/oauth/callback"):
                return target
            response = await http.get(target)
            continue
        visit = Visit(str(response.url), response.status_code, response.text, [])
        (form,) = visit.forms()
        fields = {"login": user, "password": "any"} if 'name="login"' in response.text else {}
        response = await http.post(urljoin(visit.url, form.action), data={**form.fields, **fields})
    raise AssertionError("the provider never sent the browser back")


async def authorize_request(
    http: httpx2.AsyncClient, origin: str, redirect: str = "http://127.0.0.1:1/cb"
) -> str:
    """Register an MCP client and start its sign-in; return the consent page's URL the server sends to."""
    registered = await http.post(
        f"{origin}/register",
        json={
            "client_name": "attack test client",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert registered.status_code == 201, registered.text
    challenge = base64.urlsafe_b64encode(hashlib.sha256(secrets.token_bytes(32)).digest()).rstrip(b"=")
    response = await http.get(
        f"{origin}/authorize",
        params={
            "response_type": "code",
            "client_id": registered.json()["client_id"],
            "redirect_uri": redirect,
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
            "state": "s",
            "resource": f"{origin}/mcp",
        },
    )
    assert response.status_code == 302, response.text
    return urljoin(origin, response.headers["location"])


@pytest.fixture
async def link(running, browsers) -> Link:
    """Alice's pending link for her weather key, her browser signed in."""
    return await ask(running.mcp_url, browsers(), "alice")


@pytest.fixture
async def bob(browsers) -> ScriptedBrowser:
    """Bob's browser, signed in to the same server as bob."""
    return await sign_in(browsers(), "bob")
