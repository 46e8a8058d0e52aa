"""2026-07-28: a retry's `requestState` is sealed, single-use, bound to its call and to its user."""

from __future__ import annotations

import base64

import pytest
from _mcp import text_of, user_client
from mcp import MCPError
from mcp_types import INVALID_PARAMS, ElicitResult, InputRequiredResult

from handoff.ledger import Record, Status

from .conftest import PAYMENT

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
REFUSED = "Invalid or expired requestState"


def _flipped(state: str) -> str:
    """The state with one bit of one byte in the middle of its sealed part changed."""
    prefix, dot, body = state.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return prefix + dot + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


async def _pay(client, state: str | None = None, **changes: str):
    return await client.session.call_tool(
        "send_payment",
        {**PAYMENT, **changes},
        request_state=state,
        input_responses={"payment": ElicitResult(action="accept")} if state else None,
        allow_input_required=True,
    )


class Approved:
    """Alice asked to pay, then approved exactly that in her browser; she holds the retry's state."""

    def __init__(self, running, client, first: InputRequiredResult) -> None:
        self.running, self.client = running, client
        assert first.input_requests and first.request_state
        (request,) = first.input_requests.values()
        self.url: str = request.params.url  # type: ignore[union-attr]
        self.state: str = first.request_state

    @property
    def record_id(self) -> str:
        return self.url.rsplit("/", 1)[1]

    async def record(self) -> Record:
        return await self.running.demo.handoff.ledger.get(self.record_id)

    async def refused(self, client, state: str, **changes: str) -> None:
        """A retry with `state` is refused with the server's fixed JSON-RPC error, and nothing ran."""
        with pytest.raises(MCPError) as caught:
            await _pay(client, state, **changes)
        assert (caught.value.code, caught.value.message) == (INVALID_PARAMS, REFUSED)
        assert caught.value.data == {"reason": "invalid_request_state"}

    async def runs(self) -> None:
        result = await _pay(self.client, self.state)
        assert not isinstance(result, InputRequiredResult) and not result.is_error
        assert text_of(result) == "Paid 12.50 EUR to Carol's Bakery."
        assert (await self.record()).acknowledged  # the approval was used, by this run


@pytest.fixture
async def approved(running, browsers):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice", mode=MODERN) as (client, _):
        first = await _pay(client)
        assert isinstance(first, InputRequiredResult)
        story = Approved(running, client, first)
        page = await browser.open(story.url)
        done = await browser.submit(page, {"action": "approve"})
        assert not isinstance(done, str) and done.title == "Approved"
        yield story


async def test_a_flipped_byte_is_refused_and_nothing_runs(approved):
    for state in (
        _flipped(approved.state),
        approved.state[:-1],
        approved.state + "A",
        "v1." + approved.state,
    ):
        await approved.refused(approved.client, state)
    record = await approved.record()
    assert record.status is Status.COMPLETED and not record.acknowledged
    await approved.runs()


async def test_a_replay_after_success_is_refused(approved):
    await approved.runs()
    used = await approved.record()
    await approved.refused(approved.client, approved.state)
    assert await approved.record() == used


async def test_reuse_with_other_arguments_is_refused(approved):
    for changes in ({"amount": "1250.00"}, {"payee": "Mallory"}, {"description": "and a tip"}):
        await approved.refused(approved.client, approved.state, **changes)
    assert not (await approved.record()).acknowledged
    await approved.runs()


async def test_another_user_presenting_the_state_is_refused(running, browsers, approved):
    async with user_client(running.mcp_url, browsers(), "bob", mode=MODERN) as (bob, _):
        await approved.refused(bob, approved.state)
    assert not (await approved.record()).acknowledged
    await approved.runs()  # still alice's, once
