"""kill -9 at chosen points of a completion, then a restart: nothing is lost, nothing is half-written,
and a completion that was committed is announced."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import httpx2
import pytest
from _demo import DemoProcess
from _mcp import text_of, user_client
from _server import free_port
from mcp import MCPError

from handoff._db import Database
from handoff.demo import ScriptedBrowser

pytestmark = pytest.mark.anyio

KEY = "wk_fault_injection_123"


def _rows(data: Path, sql: str, *params: str) -> list[tuple]:
    db = Database(data / "handoff.db")
    try:
        return db.call(lambda c: c.execute(sql, params).fetchall())
    finally:
        db.close()


async def _submit_until_the_server_dies(data: Path, port: int, crash_at: str) -> tuple[str, ScriptedBrowser]:
    server = DemoProcess(data, port, crash_at)
    browser = ScriptedBrowser(server.origin)
    try:
        async with user_client(f"{server.origin}/mcp", browser, "alice") as (client, _):
            with pytest.raises(MCPError) as caught:
                await client.call_tool("forecast", {"city": "Oslo"})
            elicitation = caught.value.data["elicitations"][0]
            page = await browser.open(elicitation["url"])
            with pytest.raises(httpx2.TransportError):  # the person never sees "Saved"
                await browser.submit(page, {"value": KEY, "action": "save"})
            assert server.process.wait(timeout=10) == -9
    except BaseException:
        server.stop()
        raise
    return elicitation["elicitationId"], browser


@pytest.mark.parametrize("crash_at", ["completion:before-commit", "completion:after-commit"])
async def test_a_crash_during_completion_leaves_all_or_nothing(tmp_path, crash_at):
    data, port = tmp_path / "demo", free_port()
    record_id, browser = await _submit_until_the_server_dies(data, port, crash_at)
    committed = crash_at.endswith("after-commit")
    status = _rows(data, "SELECT status FROM records WHERE id = ?", record_id)
    secrets_kept = _rows(data, "SELECT COUNT(*) FROM secrets WHERE principal = 'alice'")
    audited = _rows(data, "SELECT COUNT(*) FROM audit WHERE record_id = ? AND event = 'completed'", record_id)
    assert status == [("completed" if committed else "pending",)]
    assert secrets_kept == [(1 if committed else 0,)] and audited == [(1 if committed else 0,)]
    assert _rows(data, "SELECT COUNT(*) FROM outbox") == [(1 if committed else 0,)]

    server = DemoProcess(data, port)  # restart, no crash this time
    try:
        if committed:  # the person opens the link again: the value was kept, and the page says so
            again = await browser.open(f"{server.origin}/handoff/e/{record_id}")
            assert again.title == "Saved" and again.action is None  # no form to fill in again
            deadline = time.monotonic() + 15
            while _rows(data, "SELECT COUNT(*) FROM outbox") != [(0,)]:  # announced after the restart
                assert time.monotonic() < deadline, "the committed completion was never announced"
                await anyio.sleep(0.2)
        else:  # the person submits again, and this time it is saved
            page = await browser.open(f"{server.origin}/handoff/e/{record_id}")
            done = await browser.submit(page, {"value": KEY, "action": "save"})
            assert not isinstance(done, str) and done.title == "Saved"
        async with user_client(f"{server.origin}/mcp", browser, "alice") as (client, _):
            result = await client.call_tool("forecast", {"city": "Oslo"})
            assert not result.is_error and "Forecast for Oslo" in text_of(result)
    finally:
        server.stop()
        await browser.http.aclose()


async def test_the_notice_is_on_the_wire_before_its_outbox_row_goes(tmp_path):
    """kill -9 the moment the outbox row is deleted: the client already holds the notice."""
    data, port = tmp_path / "demo", free_port()
    server = DemoProcess(data, port, "completion:told")
    browser = ScriptedBrowser(server.origin)
    try:
        async with user_client(f"{server.origin}/mcp", browser, "alice") as (client, notices):
            with pytest.raises(MCPError) as caught:
                await client.call_tool("forecast", {"city": "Oslo"})
            elicitation = caught.value.data["elicitations"][0]
            page = await browser.open(elicitation["url"])
            try:
                await browser.submit(page, {"value": KEY, "action": "save"})
            except httpx2.TransportError:
                pass  # the page may be cut: the process dies right after the row is deleted
            assert server.process.wait(timeout=10) == -9
            assert await notices.wait_for(elicitation["elicitationId"], timeout=3)
    finally:
        server.stop()
        await browser.http.aclose()
