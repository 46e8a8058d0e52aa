"""Approvals: the page shows exactly what will run; approved once, for exactly these arguments."""

from __future__ import annotations

import pytest
from _mcp import text_of, user_client
from mcp import MCPError
from mcp_types import URL_ELICITATION_REQUIRED, ElicitResult, InputRequiredResult

from handoff.demo import DEMO_USERS
from handoff.ledger import Status

pytestmark = pytest.mark.anyio

PAYMENT = {
    "amount": "120.00",
    "currency": "EUR",
    "payee": "ACME Tools Ltd",
    "description": "Invoice 2026-114",
}
ERAS = pytest.mark.parametrize("era", ["legacy", "2026-07-28"])


async def _ask(client, era: str, arguments: dict) -> dict:
    if era == "legacy":
        with pytest.raises(MCPError) as caught:
            await client.call_tool("send_payment", arguments)
        assert caught.value.code == URL_ELICITATION_REQUIRED
        return caught.value.data["elicitations"][0]
    result = await client.session.call_tool("send_payment", arguments, allow_input_required=True)
    assert isinstance(result, InputRequiredResult) and result.input_requests
    (request,) = result.input_requests.values()
    return {"url": request.params.url, "state": result.request_state}


async def _run(client, era: str, arguments: dict, elicitation: dict, notices):
    if era == "legacy":
        assert await notices.wait_for(elicitation["elicitationId"])
        return await client.call_tool("send_payment", arguments)
    return await client.session.call_tool(
        "send_payment",
        arguments,
        request_state=elicitation["state"],
        input_responses={"payment": ElicitResult(action="accept")},
    )


@ERAS
async def test_approval_page_shows_the_details_and_the_approved_call_runs_once(running, browsers, era):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=era) as (client, notices):
        elicitation = await _ask(client, era, PAYMENT)
        page = await browser.open(elicitation["url"])
        assert page.status == 200 and page.title == "Send a payment"
        for shown in ("120.00 EUR", "ACME Tools Ltd", "Invoice 2026-114", "send_payment"):
            assert shown in page.text
        done = await browser.submit(page, {"action": "approve"})
        assert not isinstance(done, str) and done.title == "Approved"
        result = await _run(client, era, PAYMENT, elicitation, notices)
        assert not result.is_error and text_of(result) == "Paid 120.00 EUR to ACME Tools Ltd."
        # the approval is used up: the same call again needs a new approval
        again = await _ask(client, era, PAYMENT)
        assert again["url"] != elicitation["url"]


async def test_the_approval_page_gives_one_expiry_and_the_approval_says_when_it_lapses(running, browsers):
    """The approval page says once when anything expires: its link, at the record's expiry; once
    approved, the page says when the approval lapses unused, from the lifetime the record keeps."""
    from datetime import UTC, datetime

    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice") as (client, _):
        elicitation = await _ask(client, "legacy", PAYMENT)
        record = await running.demo.handoff.ledger.get(elicitation["elicitationId"])
        page = await browser.open(elicitation["url"])
        expires = datetime.fromtimestamp(record.expires_at, UTC).isoformat(timespec="seconds")
        assert page.text.count("<time ") == 3  # when it was asked; when its link expires (from now, and UTC)
        assert page.text.count(f'<time datetime="{expires}">') == 2
        assert page.text.count("minute") == 1 and "in 8 minutes" in page.text and "within" not in page.text
        done = await browser.submit(page, {"action": "approve"})
    assert not isinstance(done, str) and done.title == "Approved"
    minutes = round(record.params["lifetime"] / 60)
    assert (
        f"If it has not run in {minutes} minutes, the approval lapses and the tool asks you again."
        in done.text
    )


@ERAS
async def test_changed_arguments_are_not_covered_by_the_approval(running, browsers, era):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=era) as (client, notices):
        elicitation = await _ask(client, era, PAYMENT)
        page = await browser.open(elicitation["url"])
        await browser.submit(page, {"action": "approve"})
        changed = {**PAYMENT, "amount": "12000.00"}
        if era == "legacy":
            assert await notices.wait_for(elicitation["elicitationId"])
            other = await _ask(client, era, changed)  # a new approval is asked for, nothing is paid
            assert other["url"] != elicitation["url"]
            page = await browser.open(other["url"])
            assert "12000.00 EUR" in page.text
        else:
            with pytest.raises(MCPError) as caught:  # the state is bound to the original arguments
                await client.session.call_tool(
                    "send_payment", changed, request_state=elicitation["state"], allow_input_required=True
                )
            assert caught.value.code == -32602
        # the approval still covers exactly the original call, once
        result = (
            await _run(client, era, PAYMENT, elicitation, notices)
            if era != "legacy"
            else (await client.call_tool("send_payment", PAYMENT))
        )
        assert text_of(result) == "Paid 120.00 EUR to ACME Tools Ltd."


@ERAS
async def test_denial_is_a_clear_tool_error(running, browsers, era):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=era) as (client, notices):
        elicitation = await _ask(client, era, PAYMENT)
        page = await browser.open(elicitation["url"])
        done = await browser.submit(page, {"action": "deny"})
        assert not isinstance(done, str) and done.title == "Denied"
        result = await _run(client, era, PAYMENT, elicitation, notices)
        assert result.is_error and "declined" in text_of(result) and "Paid" not in text_of(result)


async def test_another_user_cannot_approve(running, browsers):
    alice_browser, bob_browser = browsers(), browsers()
    async with user_client(running.mcp_url, alice_browser, "alice") as (client, _):
        elicitation = await _ask(client, "legacy", PAYMENT)
    page = await bob_browser.open(elicitation["url"])
    page = await bob_browser.sign_in(page, "bob", DEMO_USERS["bob"])
    assert page.status == 403 and "ACME" not in page.text
    post = await bob_browser.http.post(
        elicitation["url"], data={"action": "approve", "csrf": page.csrf or ""}
    )
    assert post.status_code == 403
    record = await running.demo.handoff.ledger.get(elicitation["elicitationId"])
    assert record.status is Status.PENDING


def _second_payment_tool(running, name: str = "send_payment_twin", **options) -> None:
    """Another tool on the same server declaring the same approval, as a second author might."""
    from handoff.demo._server import describe_payment

    handoff = running.demo.handoff

    @running.demo.mcp.tool(name=name)
    @handoff.requires_approval("payment", label="Send a payment", describe=describe_payment, **options)
    async def twin(amount: str, currency: str, payee: str, description: str = "") -> str:
        return f"{name} paid {amount} {currency} to {payee}."


async def test_an_approval_for_one_tool_never_runs_another(running, browsers):
    _second_payment_tool(running)
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice") as (client, notices):
        elicitation = await _ask(client, "legacy", PAYMENT)
        page = await browser.open(elicitation["url"])
        assert "send_payment" in page.text and "send_payment_twin" not in page.text
        await browser.submit(page, {"action": "approve"})
        assert await notices.wait_for(elicitation["elicitationId"])
        with pytest.raises(MCPError) as caught:  # the same approval name and arguments, another tool
            await client.call_tool("send_payment_twin", PAYMENT)
        twin = caught.value.data["elicitations"][0]
        assert twin["url"] != elicitation["url"]
        assert "send_payment_twin" in (await browser.open(twin["url"])).text
        assert (
            text_of(await client.call_tool("send_payment", PAYMENT)) == "Paid 120.00 EUR to ACME Tools Ltd."
        )


async def test_an_approval_lapses_after_its_lifetime(running, browsers):
    import anyio

    _second_payment_tool(running, "quick_payment", lifetime=0.5)
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice") as (client, notices):
        with pytest.raises(MCPError) as caught:
            await client.call_tool("quick_payment", PAYMENT)
        elicitation = caught.value.data["elicitations"][0]
        page = await browser.open(elicitation["url"])
        done = await browser.submit(page, {"action": "approve"})
        assert not isinstance(done, str) and "If it has not run in 1 second, the approval lapses" in done.text
        assert await notices.wait_for(elicitation["elicitationId"])
        await anyio.sleep(0.7)
        with pytest.raises(MCPError) as caught:  # given too long ago: asked again, nothing paid
            await client.call_tool("quick_payment", PAYMENT)
        assert caught.value.data["elicitations"][0]["url"] != elicitation["url"]


async def test_arguments_too_large_to_check_are_a_clear_tool_error(running, browsers):
    async with user_client(running.mcp_url, browsers(), "alice") as (client, _):
        result = await client.call_tool("send_payment", {**PAYMENT, "payee": "x" * 100_000})
    assert result.is_error and "more than a person can check" in text_of(result)
    assert await running.demo.handoff.ledger.latest("alice", "approval:payment") is None
