"""Bytes no browser of ours would send, where the pages expect a token or a cookie: refused, never a 500."""

from __future__ import annotations

import pytest

from handoff.demo import DEMO_USERS
from handoff.ledger import Status

from .conftest import Link, authorize_request

pytestmark = pytest.mark.anyio

ODD = "\u00e9\u00e8\u00ea"  # sent as the latin-1 bytes e9 e8 ea, as an HTTP header may carry them


def _cookie_header(running, link: Link, **replaced: str) -> bytes:
    """The owner's cookies as one header, some values replaced (by cookie name), in latin-1."""
    cookies = {c.name: c.value for c in link.owner.http.cookies.jar}
    cookies.update(replaced)
    return "; ".join(f"{k}={v}" for k, v in cookies.items()).encode("latin-1")


async def test_a_non_ascii_csrf_token_is_a_stale_form(running, link):
    origin = running.origin
    consent = await authorize_request(link.owner.http, origin)
    for url, data, status in (
        (link.url, {"csrf": ODD, "value": "wk_OddTokenPlant0000", "action": "save"}, 403),
        (link.url, {"csrf": ODD * 22, "action": "decline"}, 403),
        (f"{origin}/handoff/login", {"csrf": ODD, "username": "alice", "password": DEMO_USERS["alice"]}, 400),
        (f"{origin}/handoff/logout", {"csrf": ODD}, 400),
        (consent, {"csrf": ODD, "decision": "allow"}, 400),
    ):
        response = await link.owner.http.post(url, data=data)
        assert response.status_code == status, (url, response.status_code)
    assert (await running.demo.handoff.ledger.get(link.id)).status is Status.PENDING


async def test_a_non_ascii_browser_cookie_is_a_stranger(running, link):
    cookie = running.demo.handoff.web.cookie
    odd = _cookie_header(running, link, **{cookie.name: f"x.{ODD}"})
    shown = await link.owner.http.get(link.url, headers={"cookie": odd})
    assert shown.status_code == 200 and 'name="password"' in shown.text  # asked who it is
    posted = await link.owner.http.post(link.url, headers={"cookie": odd})
    assert posted.status_code == 403 and "Form expired" in posted.text
    response = await link.owner.http.get(f"{running.origin}/handoff/login", headers={"cookie": odd})
    assert response.status_code == 200


async def test_a_non_ascii_device_cookie_does_not_stop_a_sign_in(running, link):
    cookie = running.demo.handoff.web.cookie
    odd = _cookie_header(running, link, **{f"{cookie.name}-device": ODD})
    page = await link.owner.open(f"{running.origin}/handoff/login")
    response = await link.owner.http.post(
        f"{running.origin}/handoff/login",
        data={"csrf": page.csrf or "", "username": "alice", "password": DEMO_USERS["alice"], "next": ""},
        headers={"cookie": odd},
    )
    assert response.status_code == 303
