"""Invariant 6: no page redirects a browser off this server, whatever `next` or the query says."""

from __future__ import annotations

import html
import re

import ada_url
import httpx2
import pytest

from handoff.demo import DEMO_USERS
from handoff.ledger import Draft, Status

from .conftest import Link, answered, ask, connect_at, provider_callback

pytestmark = pytest.mark.anyio

EVIL = "https://evil.example/steal"
NEXTS = [
    "//evil.example",
    "///evil.example",
    "https://evil.example",
    "https:evil.example",
    "http:/\\evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "\\\\evil.example",
    "/handoff/../x",
    "/handoff/..%2f..%2fx",
    "/handoff/%2e%2e/%2e%2e/x",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/handoff/%2F%2Fevil.example",
    "/handoff//evil.example",
    "/handoff/\\evil.example",
    "/handoff/%5C%5Cevil.example",
    "/handoff/\t/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "/handoff/@evil.example",
    "/handoff/e/x#//evil.example",
    "/handoff/e/x\r\nLocation: https://evil.example",
    "javascript:alert(document.domain)",
    "/handoff/e/x?next=https://evil.example",
]


def _stays(origin: str, location: str) -> bool:
    """Whether a browser following `location` from a page of `origin` stays on `origin`."""
    return ada_url.URL(location, base=origin + "/handoff/login").origin == origin


async def test_sign_in_never_sends_the_browser_off_site(running, browsers):
    browser = browsers()
    for target in NEXTS:
        page = await browser.open(f"{running.origin}/handoff/login?{httpx2.QueryParams({'next': target})}")
        shown = re.search(r'name="next" value="([^"]*)"', page.text)
        assert shown and _stays(running.origin, html.unescape(shown.group(1))), target
        response = await browser.http.post(
            f"{running.origin}/handoff/login",
            data={
                "csrf": page.csrf or "",
                "username": "alice",
                "password": DEMO_USERS["alice"],
                "next": target,
            },
        )
        assert response.status_code == 303, (target, response.text[:300])
        location = response.headers["location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), (target, location)
        assert _stays(running.origin, location), (target, location)


async def test_the_oauth_callback_never_redirects_on_an_unknown_state(running, browsers):
    browser = browsers()
    for params in (
        {},
        {"state": "x", "code": "y", "next": EVIL, "redirect_uri": EVIL},
        {"error": "access_denied", "state": "unknown", "return_to": EVIL},
        {"state": "", "url": EVIL},
    ):
        response = await browser.http.get(f"{running.origin}/handoff/oauth/callback", params=params)
        assert response.status_code == 400 and "location" not in response.headers, params


async def test_a_genuine_callback_never_redirects_either(world, world_browsers):
    server = world.server
    handoff, origin = server.demo.handoff, server.origin
    link = await ask(server.mcp_url, world_browsers(), "alice", "next_meeting")
    first = await handoff.ledger.get(link.id)
    second = await handoff.ledger.create(
        Draft(principal="alice", kind="connection", params=dict(first.params), key=first.key + " more")
    )
    evil = {"next": EVIL, "redirect_uri": EVIL, "redirect": EVIL, "return_to": EVIL}
    # one denied at the provider, one allowed: each answered with a page of this server, no redirect
    denied = httpx2.URL(await connect_at(link)).params
    response = await link.owner.http.get(
        f"{origin}/handoff/oauth/callback",
        params={"error": "access_denied", "state": denied["state"], **evil},
    )
    assert response.status_code == 200 and "location" not in response.headers
    assert (await handoff.ledger.get(first.id)).status is Status.DECLINED
    other = Link(handoff.url_for(second.id), second.id, link.owner)
    allowed = httpx2.URL(await provider_callback(link.owner.http, await connect_at(other), "alice", origin))
    response = await answered(link.owner, str(allowed.copy_merge_params(evil)))
    assert response.status_code == 200 and "Connected" in response.text and "location" not in response.headers
    assert (await handoff.ledger.get(second.id)).status is Status.COMPLETED
