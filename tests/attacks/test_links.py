"""Invariant 2: possession of a link is never enough; only its own signed-in user sees or changes it.

The demo serves plain http on loopback, so each record's page asks for the sign-in itself."""

from __future__ import annotations

import secrets

import pytest
from starlette.requests import Request

from handoff.demo import DEMO_USERS
from handoff.ledger import Status

from .conftest import Link

pytestmark = pytest.mark.anyio

DETAILS = ("Weather API key", "forecast", "wk_", "alice")
"""What alice's record page shows, and what nobody else may see of it."""


def _tampered(record_id: str) -> str:
    """The same id with one character changed."""
    middle = len(record_id) // 2
    return record_id[:middle] + ("A" if record_id[middle] != "A" else "B") + record_id[middle + 1 :]


async def _status(running, link: Link) -> Status:
    return (await running.demo.handoff.ledger.get(link.id)).status


async def test_another_users_browser_is_refused_audited_and_the_record_waits(running, link, bob):
    response = await bob.open(link.url)  # bob signs in where the page asks
    assert response.status == 403
    assert (
        "This request is not yours" in response.text and "signed in as <strong>bob</strong>" in response.text
    )
    for detail in DETAILS:
        assert detail not in response.text
    (mismatch,) = [
        e for e in await running.demo.handoff.audit.read(record_id=link.id) if e.event == "identity_mismatch"
    ]
    assert mismatch.principal == "bob"
    assert await _status(running, link) is Status.PENDING
    # the rightful user still gets the page and can finish it
    page = await link.owner.open(link.url)
    assert page.status == 200 and page.title == "Weather API key"
    done = await link.owner.submit(page, {"value": "wk_RightfulOwnerKey01", "action": "save"})
    assert not isinstance(done, str) and done.title == "Saved"
    assert await running.demo.handoff.vault.get("alice", "weather_api_key") == "wk_RightfulOwnerKey01"


async def test_another_users_post_is_refused_even_with_a_valid_token_for_his_browser(running, link, bob):
    web = running.demo.handoff.web
    cookie_header = "; ".join(f"{c.name}={c.value}" for c in bob.http.cookies.jar)
    scope = {"type": "http", "headers": [(b"cookie", cookie_header.encode())]}
    bobs_browser = web.browser_id(Request(scope))
    assert bobs_browser
    tokens = (
        web.cookie.csrf_token(bobs_browser, f"record:{link.id}"),
        web.cookie.signed_in_token(bobs_browser, f"record:{link.id}", "bob", 60),
    )
    for token, action in [(t, a) for t in tokens for a in ("save", "decline")]:
        response = await bob.http.post(
            link.url, data={"csrf": token, "value": "wk_PlantedByBob0000", "action": action}
        )
        assert response.status_code == 403 and "Form expired" in response.text
    assert await _status(running, link) is Status.PENDING
    assert await running.demo.handoff.vault.get("alice", "weather_api_key") is None


async def test_anonymous_browser_is_asked_to_sign_in_and_sees_nothing(running, link, browsers):
    stranger = browsers()
    page = await stranger.open(link.url)
    assert page.status == 200 and page.url == link.url and page.title == "Sign in to Juniper Assistant"
    assert page.action == f"/handoff/e/{link.id}"  # the page's own sign-in, for this link
    for detail in DETAILS:
        assert detail not in page.text
    posted = await stranger.http.post(link.url, data={"value": "wk_AnonymousPlant000", "action": "save"})
    assert posted.status_code == 403 and "Form expired" in posted.text
    assert await _status(running, link) is Status.PENDING
    # after signing in as someone else, still nothing
    refused = await stranger.sign_in(page, "bob", DEMO_USERS["bob"])
    assert refused.status == 403 and "not yours" in refused.text


async def test_a_tampered_id_is_an_unknown_link(running, link):
    tampered = _tampered(link.id)
    response = await link.owner.http.get(f"{running.origin}/handoff/e/{tampered}")
    assert response.status_code == 404 and "Unknown link" in response.text
    posted = await link.owner.http.post(
        f"{running.origin}/handoff/e/{tampered}", data={"value": "wk_ToTheWrongPlace00", "action": "save"}
    )
    assert posted.status_code == 404
    assert "unknown id" in [
        e.detail for e in await running.demo.handoff.audit.read() if e.event == "rejected"
    ]
    assert await _status(running, link) is Status.PENDING


async def test_an_unknown_id_says_nothing(running, link):
    unknown = secrets.token_urlsafe(24)
    response = await link.owner.http.get(f"{running.origin}/handoff/e/{unknown}")
    assert response.status_code == 404 and "Unknown link" in response.text
    for detail in DETAILS:
        assert detail not in response.text


MALFORMED = [
    "{id}A",  # one too long
    "{id}" + "x" * 1000,
    "{id}/",
    "{id}/..",
    "..%2F{id}",
    "{id}%2F..%2F..%2Flogin",
    "{id}%00",
    "{id}%0d%0aSet-Cookie:%20x=1",
    "%2e%2e%2f%2e%2e%2f{id}",
    "{id}.html",
    "{id}%3F",
    "é" * 32,
    "%EF%BC%A1" * 32,  # full-width A
    "%C0%AE%C0%AE%2F",  # overlong dot-dot
    "{head}%20{tail}",
]


async def test_malformed_ids_never_reach_a_record(running, link):
    for path, method in [(p, m) for p in MALFORMED for m in ("GET", "POST")]:
        url = f"{running.origin}/handoff/e/" + path.format(id=link.id, head=link.id[:16], tail=link.id[17:])
        response = await link.owner.http.request(
            method, url, data={"value": "wk_MalformedPlant00", "action": "save"} if method == "POST" else None
        )
        assert response.status_code in (404, 405) or (
            response.status_code in (301, 302, 303, 307, 308)
            and response.headers["location"].startswith(running.origin + "/handoff/e/")
        ), (method, url, response.status_code)
        assert "Weather API key" not in response.text and 'name="csrf"' not in response.text
    assert await _status(running, link) is Status.PENDING
    assert await running.demo.handoff.vault.get("alice", "weather_api_key") is None
