"""Invariant 6: a form changes a record only with the token its own page gave this browser, once."""

from __future__ import annotations

import pytest

from handoff.demo import DEMO_USERS
from handoff.ledger import Status

from .conftest import PAYMENT, Link, ask, sign_in

pytestmark = pytest.mark.anyio


async def _token(link: Link, browser=None) -> str:
    page = await (browser or link.owner).open(link.url)
    assert page.status == 200 and page.csrf
    return page.csrf


async def _refused(running, link: Link, data: dict[str, str], browser=None) -> None:
    """Posting `data` is refused as a stale form, and the record and the vault are as they were."""
    response = await (browser or link.owner).http.post(link.url, data=data)
    assert response.status_code == 403 and "Form expired" in response.text, response.text[:300]
    record = await running.demo.handoff.ledger.get(link.id)
    assert record.status is Status.PENDING
    assert await running.demo.handoff.vault.get("alice", "weather_api_key") is None


@pytest.fixture
async def payment(running, link) -> Link:
    """A second pending record of alice's (an approval), in the same browser as `link`."""
    return await ask(running.mcp_url, link.owner, "alice", "send_payment", **PAYMENT)


async def test_missing_token_changes_nothing(running, link):
    for action in ("save", "decline"):
        await _refused(running, link, {"value": "wk_NoTokenAtAll0000", "action": action})
    details = [
        e.detail for e in await running.demo.handoff.audit.read(record_id=link.id) if e.event == "rejected"
    ]
    assert details == ["csrf token missing or wrong"] * 2


async def test_wrong_token_changes_nothing(running, link):
    real = await _token(link)
    flipped = real[:10] + ("0" if real[10] != "0" else "1") + real[11:]
    for token in ("", "0" * 64, flipped, real.upper(), real + "0", real[:-1], " " + real):
        await _refused(running, link, {"csrf": token, "value": "wk_WrongTokenPlant0", "action": "save"})


async def test_another_records_token_changes_nothing(running, link, payment):
    weather_token, payment_token = await _token(link), await _token(payment)
    await _refused(running, link, {"csrf": payment_token, "value": "wk_CrossRecordPlant", "action": "save"})
    response = await payment.owner.http.post(payment.url, data={"csrf": weather_token, "action": "approve"})
    assert response.status_code == 403
    assert (await running.demo.handoff.ledger.get(payment.id)).status is Status.PENDING


async def test_another_browsers_token_changes_nothing(running, link, browsers):
    second = await sign_in(browsers(), "alice")  # the same person, in another browser
    theirs = await _token(link, second)
    assert theirs != await _token(link)
    await _refused(running, link, {"csrf": theirs, "value": "wk_OtherBrowserKey0", "action": "save"})
    await _refused(running, link, {"csrf": await _token(link), "action": "decline"}, browser=second)


async def test_token_reused_after_completion_changes_nothing(running, link):
    token = await _token(link)
    first = await link.owner.http.post(
        link.url, data={"csrf": token, "value": "wk_FirstAndOnlyKey0", "action": "save"}
    )
    assert first.status_code == 200 and "Saved" in first.text
    completed = await running.demo.handoff.ledger.get(link.id)
    for data in ({"value": "wk_SecondTryReplace", "action": "save"}, {"action": "decline"}):
        again = await link.owner.http.post(link.url, data={"csrf": token, **data})
        assert again.status_code == 410 and "This request was already completed." in again.text
    assert await running.demo.handoff.ledger.get(link.id) == completed
    assert await running.demo.handoff.vault.get("alice", "weather_api_key") == "wk_FirstAndOnlyKey0"


async def test_sign_out_needs_its_own_token(running, link):
    for data in ({}, {"csrf": await _token(link)}, {"csrf": "0" * 64}):
        response = await link.owner.http.post(f"{running.origin}/handoff/logout", data=data)
        assert response.status_code == 400
    assert (await link.owner.open(link.url)).title == "Weather API key"  # still signed in


async def test_sign_in_needs_this_browsers_own_token(running, browsers):
    """Login CSRF: a page that posts bob's credentials with bob's token cannot sign another browser in."""
    attacker, victim = browsers(), browsers()
    login = await attacker.open(f"{running.origin}/handoff/login")
    await victim.open(f"{running.origin}/handoff/login")  # the victim has a browser id of its own
    response = await victim.http.post(
        f"{running.origin}/handoff/login",
        data={
            "csrf": login.csrf or "",
            "username": "bob",
            "password": DEMO_USERS["bob"],
            "next": "/handoff/",
        },
    )
    assert response.status_code == 400 and "expired" in response.text
    assert "You are not signed in." in (await victim.open(f"{running.origin}/handoff/")).text
