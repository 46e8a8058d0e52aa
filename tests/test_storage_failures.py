"""When the database cannot be written (full, read-only, gone), people are told so in their words,
nothing is half-written, and everything works again once the database does."""

from __future__ import annotations

import anyio
import pytest
from _mcp import text_of, user_client
from mcp import MCPError

from handoff import StorageUnavailable
from handoff._db import Database
from handoff._sql import Tx
from handoff.demo import DEMO_USERS

pytestmark = pytest.mark.anyio

KEY = "wk_storage_test_12345"


def _read_only(running, on: bool) -> None:
    running.demo.handoff.ledger.db.call(lambda c: c.execute(f"PRAGMA query_only = {int(on)}"))


async def test_a_page_submit_while_the_database_is_read_only_says_so_and_changes_nothing(running, browsers):
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice") as (client, notices):
        with pytest.raises(MCPError) as caught:
            await client.call_tool("forecast", {"city": "Oslo"})
        elicitation = caught.value.data["elicitations"][0]
        page = await browser.open(elicitation["url"])
        _read_only(running, True)
        try:
            refused = await browser.submit(page, {"value": KEY, "action": "save"})
            assert not isinstance(refused, str) and refused.status == 503
            assert refused.title == "Cannot save right now" and "Nothing you entered was kept" in refused.text
            assert "Traceback" not in refused.text and "sqlite" not in refused.text.lower()
            record = await running.demo.handoff.ledger.get(elicitation["elicitationId"])
            assert record.pending
            assert await running.demo.handoff.vault.get("alice", "weather_api_key") is None

            # A tool call that must start a new request: the same story, as a tool error.
            result = await client.call_tool("send_payment", {"amount": "1", "currency": "EUR", "payee": "x"})
            assert result.is_error and StorageUnavailable.PERSON in text_of(result)
        finally:
            _read_only(running, False)
        saved = await browser.submit(page, {"value": KEY, "action": "save"})  # the same form, again
        assert not isinstance(saved, str) and saved.title == "Saved"
        assert await notices.wait_for(elicitation["elicitationId"])
        assert "Forecast for Oslo" in text_of(await client.call_tool("forecast", {"city": "Oslo"}))
    events = [e.event for e in await running.demo.handoff.audit.read(principal=None, limit=500)]
    assert "completed" in events


async def test_sign_in_and_oauth_endpoints_answer_503_while_the_database_cannot_be_used(running, browsers):
    browser = browsers()
    page = await browser.open(f"{running.origin}/handoff/login")
    _read_only(running, True)
    try:
        refused = await browser.submit(page, {"username": "alice", "password": DEMO_USERS["alice"]})
        assert not isinstance(refused, str) and refused.status == 503 and "try again" in refused.text
        register = await browser.http.post(
            f"{running.origin}/register",
            json={
                "client_name": "x",
                "redirect_uris": ["http://127.0.0.1:1/cb"],
                "token_endpoint_auth_method": "none",
            },
        )
        assert register.status_code == 503 and register.json()["error"] == "temporarily_unavailable"
    finally:
        _read_only(running, False)
    signed_in = await browser.submit(page, {"username": "alice", "password": DEMO_USERS["alice"]})
    assert not isinstance(signed_in, str) and signed_in.status == 200


async def test_an_unreachable_database_is_a_503_that_says_to_try_again(running, browsers):
    import httpx2
    from test_authserver import OAuthPeer

    async with httpx2.AsyncClient() as http:
        peer = OAuthPeer(running.origin, http)
        client = await peer.client()
        grant = await peer.sign_in(browsers(), client)
        running.demo.handoff.ledger.db.close()
        answer = await http.post(
            f"{running.origin}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={
                "authorization": f"Bearer {grant.access_token}",
                "accept": "application/json, text/event-stream",
            },
        )
    assert answer.status_code == 503 and answer.json()["error_description"] == StorageUnavailable.PERSON


def test_a_full_disk_is_storage_unavailable_and_the_transaction_is_rolled_back(tmp_path):
    db = Database(tmp_path / "full.db")
    db.call(lambda c: c.execute("CREATE TABLE ballast (x BLOB)"))
    (pages,) = db.call(lambda c: c.execute("PRAGMA page_count").fetchone())
    db.call(lambda c: c.execute(f"PRAGMA max_page_count = {pages + 4}"))

    async def fill(tx: Tx) -> None:
        for _ in range(100):
            await tx.execute("INSERT INTO ballast VALUES (randomblob(3000))")

    with pytest.raises(StorageUnavailable, match="full"):
        db.now(fill, transaction=True)
    assert db.call(lambda c: c.execute("SELECT COUNT(*) FROM ballast").fetchone()) == (0,)
    assert not db.call(lambda c: c.in_transaction)


async def test_a_notice_the_store_could_not_send_stays_queued_and_the_sweep_sends_it(tmp_path):
    from test_ledger import _embedded

    from handoff.bus import LocalBus
    from handoff.ledger import Draft, Record, Status

    class FlakyBus(LocalBus):
        """The bus of a replica whose database went away between the commit and the NOTIFY."""

        def __init__(self) -> None:
            super().__init__()
            self.failing = True
            self.published: list[str] = []

        async def publish(self, record: Record, *, announced: bool = False) -> None:
            if self.failing:
                raise StorageUnavailable("database cannot be used right now")
            self.published.append(record.id)
            await super().publish(record, announced=announced)

    handoff = _embedded(tmp_path)
    handoff.bus = bus = FlakyBus()
    record = await handoff.ledger.create(Draft(principal="alice", kind="secret", params={"name": "k"}))
    finished = await handoff.finish(record.id, Status.DECLINED, remote=None)  # no error for the person
    assert finished.status is Status.DECLINED
    assert await handoff.completion.untold(float("inf")) == [record.id]  # the notice waits in the outbox
    bus.failing = False
    await anyio.sleep(2.1)  # tell_untold leaves alone what was queued in the last two seconds
    assert await handoff.tell_untold() == 1
    assert bus.published == [record.id] and await handoff.completion.untold(float("inf")) == []
