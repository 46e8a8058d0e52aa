"""Invariant 6: every page, error pages included, forbids framing and script, referrers and caching."""

from __future__ import annotations

import httpx2
import pytest

from .conftest import PAYMENT, answered, ask, authorize_request, sign_in

pytestmark = pytest.mark.anyio


def _check(name: str, response: httpx2.Response) -> None:
    h = response.headers
    policies = h.get_list("content-security-policy")
    assert len(policies) == 1, (name, response.status_code, policies)
    csp = policies[0]
    directives = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";")) if d}
    assert directives["frame-ancestors"] == ["'none'"], name
    assert directives["default-src"] == ["'none'"] and "script-src" not in directives, name
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp, name
    assert h.get_list("x-frame-options") == ["DENY"], name
    assert h.get_list("referrer-policy") == ["no-referrer"], name
    assert "no-store" in h["cache-control"], name
    assert "<script" not in response.text.lower(), name


async def test_every_page_and_every_error_sends_the_headers(running, browsers):
    origin = running.origin
    alice = browsers()
    weather = await ask(running.mcp_url, alice, "alice")
    payment = await ask(running.mcp_url, alice, "alice", "send_payment", **PAYMENT)
    meeting = await ask(running.mcp_url, alice, "alice", "next_meeting")
    bob, anonymous = await sign_in(browsers(), "bob"), browsers()
    consent = await authorize_request(alice.http, origin)  # started in her own signed-in browser
    weather_page = await alice.open(weather.url)
    login_page = await anonymous.open(f"{origin}/handoff/login")
    payment_sign_in = await anonymous.open(payment.url)
    seen: dict[str, httpx2.Response] = {
        "index, anonymous": await anonymous.http.get(f"{origin}/handoff/"),
        "index, signed in": await alice.http.get(f"{origin}/handoff/"),
        "login form": await anonymous.http.get(f"{origin}/handoff/login"),
        "login, stale form": await anonymous.http.post(f"{origin}/handoff/login", data={"username": "a"}),
        "login, wrong password": await anonymous.http.post(
            f"{origin}/handoff/login",
            data={"csrf": login_page.csrf or "", "username": "bob", "password": "x"},
        ),
        "record, its own sign-in": await anonymous.http.get(payment.url),
        "record, wrong password": await anonymous.http.post(
            payment.url, data={"csrf": payment_sign_in.csrf or "", "username": "alice", "password": "x"}
        ),
        "secret page": await answered(alice, weather.url),
        "approval page": await answered(alice, payment.url),
        "connect page": await answered(alice, meeting.url),
        "connect, on to the provider": await alice.http.post(
            meeting.url, data={"csrf": (await alice.open(meeting.url)).csrf or "", "action": "continue"}
        ),
        "record, not yours": await answered(bob, weather.url),
        "record, unknown": await alice.http.get(f"{origin}/handoff/e/{'A' * 32}"),
        "record, malformed": await alice.http.get(f"{origin}/handoff/e/x"),
        "record, stale form": await alice.http.post(weather.url, data={"value": "wk_x"}),
        "record, rejected value": await alice.http.post(
            weather.url, data={"csrf": weather_page.csrf or "", "value": "not a key", "action": "save"}
        ),
        "record, too large": await alice.http.post(weather.url, content=b"v=" + b"x" * 70_000),
        "record, wrong method": await alice.http.put(weather.url),
        "record, saved": await alice.http.post(
            weather.url,
            data={"csrf": weather_page.csrf or "", "value": "wk_FramingTestKey00", "action": "save"},
        ),
        "record, saved, visited again": await answered(alice, weather.url),
        "approval, denied": await alice.http.post(
            payment.url, data={"csrf": (await alice.open(payment.url)).csrf or "", "action": "deny"}
        ),
        "record, no longer active": await answered(alice, payment.url),
        "record, form from another port": await alice.http.post(
            payment.url, data={"action": "approve"}, headers={"sec-fetch-site": "same-site"}
        ),
        "consent, its own sign-in": await anonymous.http.get(consent),
        "consent page": await answered(alice, consent),
        "consent, stale form": await alice.http.post(consent, data={"decision": "allow"}),
        "consent, unknown": await alice.http.get(f"{origin}/handoff/authorize/unknown"),
        "oauth callback, unknown state": await alice.http.get(f"{origin}/handoff/oauth/callback?state=x"),
        "logout, stale form": await alice.http.post(f"{origin}/handoff/logout"),
        "no such page": await alice.http.get(f"{origin}/handoff/nope"),
        "stylesheet": await alice.http.get(f"{origin}/handoff/static/style.css"),
        "no such file": await alice.http.get(f"{origin}/handoff/static/nope.css"),
    }
    statuses = {name: response.status_code for name, response in seen.items()}
    assert statuses == {
        "index, anonymous": 200,
        "index, signed in": 200,
        "login form": 200,
        "login, stale form": 400,
        "login, wrong password": 401,
        "secret page": 200,
        "approval page": 200,
        "connect page": 200,
        "connect, on to the provider": 303,
        "record, its own sign-in": 200,
        "record, wrong password": 401,
        "record, not yours": 403,
        "record, unknown": 404,
        "record, malformed": 404,
        "record, stale form": 403,
        "record, rejected value": 422,
        "record, too large": 413,
        "record, wrong method": 405,
        "record, saved": 200,
        "record, saved, visited again": 200,
        "approval, denied": 200,
        "record, no longer active": 410,
        "record, form from another port": 403,
        "consent, its own sign-in": 200,
        "consent page": 200,
        "consent, stale form": 400,
        "consent, unknown": 404,
        "oauth callback, unknown state": 400,
        "logout, stale form": 400,
        "no such page": 404,
        "stylesheet": 200,
        "no such file": 404,
    }
    for name, response in seen.items():
        _check(name, response)


async def test_odd_paths_under_the_pages_get_the_headers_too(running, browsers):
    """A path with a line feed in it is still one of the pages' paths, and its 404 a page of theirs."""
    browser = browsers()
    for path in (
        "/handoff/e/%0A0",
        "/handoff/%0A",
        "/handoff/login%0A",
        "/handoff/authorize/%0Ax",
        "/handoff/e/%0D0",
    ):
        response = await browser.http.get(running.origin + path)
        assert response.status_code == 404, path
        _check(path, response)
