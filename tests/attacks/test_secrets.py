"""Invariant 5: a secret entered on the page never shows up on the MCP wire, in logs, audit or the file."""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass

import pytest
from _mcp import text_of, user_client
from mcp import MCPError

pytestmark = pytest.mark.anyio

MARK = "Qz7vRainbowKumquat93"
SECRET = f"wk_{MARK}_ünï€"
FORMS = {
    SECRET.encode(),
    MARK.encode(),
    json.dumps(SECRET).encode(),  # as a JSON string (\u escapes)
    SECRET.encode("utf-16-le"),
    MARK.encode("utf-16-le"),
}
"""Every way the secret's bytes could be written down."""


def _absent(where: str, data: bytes) -> None:
    for form in FORMS:
        assert form not in data, f"the secret appears in {where}"


@dataclass
class Entered:
    running: object
    record_id: str
    pages: list[str]
    results: list[str]


@pytest.fixture
async def entered(running, browsers, caplog) -> Entered:
    """Alice is asked for her weather key, enters it on the page, and both eras' tool calls use it."""
    for name in ("", "handoff", "mcp", "httpx", "httpx2", "uvicorn", "starlette", "authlib"):
        caplog.set_level(logging.DEBUG, logger=name)
    browser = browsers()
    async with user_client(running.mcp_url, browser, "alice") as (client, _):
        with pytest.raises(MCPError) as caught:
            await client.call_tool("forecast", {"city": "Oslo"})
        (elicitation,) = caught.value.data["elicitations"]
        page = await browser.open(elicitation["url"])
        done = await browser.submit(page, {"value": SECRET, "action": "save"})
        assert not isinstance(done, str) and done.title == "Saved"
        legacy = text_of(await client.call_tool("forecast", {"city": "Oslo"}))
    async with user_client(running.mcp_url, browser, "alice", mode="2026-07-28") as (client, _):
        modern = text_of(await client.call_tool("forecast", {"city": "Bergen"}))
    assert "Oslo" in legacy and "Bergen" in modern
    assert await running.demo.handoff.vault.get("alice", "weather_api_key") == SECRET
    return Entered(running, elicitation["elicitationId"], [page.text, done.text], [legacy, modern])


async def test_not_on_the_mcp_wire_nor_on_any_page(entered):
    traffic = entered.running.recorder.traffic
    assert entered.results[0].encode() in traffic  # the recorder saw the tool's answer
    _absent("the MCP traffic", traffic)
    for text in entered.pages:
        _absent("a page", text.encode())


async def test_not_in_any_log_line_even_at_debug(entered, caplog):
    records = caplog.get_records("setup")  # the story ran in the fixture
    assert any(entered.record_id in r.getMessage() for r in records if r.levelno == logging.DEBUG)
    handler = logging.StreamHandler()
    for record in records:
        line = handler.format(record) + (
            logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        )
        _absent(f"a log line of {record.name}", f"{line} {record.args!r}".encode())


async def test_not_in_the_audit_table(entered):
    path = entered.running.data_dir / "handoff.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT * FROM audit").fetchall()
    assert any(entered.record_id in row and "completed" in row for row in rows)
    _absent("the audit table", repr(rows).encode())
    _absent("the audit table", "".join(str(v) for row in rows for v in row).encode())


async def test_not_in_the_database_files_as_plaintext(entered):
    files = sorted(p for p in entered.running.data_dir.rglob("*") if p.is_file())
    assert any(p.name == "handoff.db" for p in files)
    data = b"".join(p.read_bytes() for p in files)
    assert b"weather_api_key" in data  # the row is there: only its value is sealed
    _absent("the data directory's files", data)
