"""Local mode and a custom identity hook, end to end over real HTTP."""

from __future__ import annotations

import httpx2
import pytest
from _server import ServerThread, free_port
from mcp import Client, MCPError
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request

from handoff import ConfigError, CustomIdentity, Handoff, Keyring, LocalIdentity, TokenSubject, generate_key
from handoff._need import Invocation
from handoff.demo import ScriptedBrowser
from handoff.ledger import Draft, Status

pytestmark = pytest.mark.anyio


def _local(port: int) -> tuple[Handoff, MCPServer]:
    handoff = Handoff.in_memory(
        public_url=f"http://127.0.0.1:{port}",
        browser=LocalIdentity(),
        secret_key=b"s" * 32,
        keyring=Keyring.parse(generate_key()),
    )
    mcp = MCPServer("local", log_level="WARNING")

    @mcp.tool()
    @handoff.requires_secret("token", label="Token")
    async def use_token() -> str:
        return f"token has {len(handoff.secret('token'))} characters"

    return handoff, mcp


async def test_local_mode_story_without_any_login():
    port = free_port()
    handoff, mcp = _local(port)
    server = ServerThread(handoff.app(mcp), port).start()

    async def elicit(*_: object) -> None:
        raise AssertionError("unexpected elicitation/create")

    try:
        async with Client(
            f"http://127.0.0.1:{port}/mcp", mode="legacy", elicitation_callback=elicit
        ) as client:
            with pytest.raises(MCPError) as caught:
                await client.call_tool("use_token", {})
            url = caught.value.data["elicitations"][0]["url"]
            record = await handoff.ledger.get(caught.value.data["elicitations"][0]["elicitationId"])
            assert record.principal == "local"
            async with ScriptedBrowser(f"http://127.0.0.1:{port}") as browser:
                page = await browser.open(url)
                assert page.status == 200 and page.title == "Token"
                done = await browser.submit(page, {"value": "abcdef", "action": "save"})
                assert not isinstance(done, str) and done.title == "Saved"
            result = await client.call_tool("use_token", {})
            assert "6 characters" in result.content[0].text  # type: ignore[union-attr]
    finally:
        server.stop()


def test_local_mode_refuses_to_bind_beyond_loopback():
    handoff, mcp = _local(9)
    with pytest.raises(ConfigError, match="loopback"):
        handoff.app(mcp, host="0.0.0.0")
    with pytest.raises(ConfigError, match="loopback"):
        Handoff.in_memory(
            public_url="https://mcp.example.com",
            browser=LocalIdentity(),
            secret_key=b"s" * 32,
            keyring=Keyring.parse(generate_key()),
        )


async def test_custom_identity_hook_decides_who_the_browser_user_is():
    async def from_front_end(request: Request) -> str | None:
        return request.headers.get("x-verified-user")  # set by a trusted reverse proxy in this deployment

    port = free_port()
    handoff = Handoff.in_memory(
        public_url=f"http://127.0.0.1:{port}",
        browser=CustomIdentity(from_front_end),
        mcp_identity=TokenSubject(),  # the front end verifies the MCP side's tokens too
        secret_key=b"s" * 32,
        keyring=Keyring.parse(generate_key()),
    )
    handoff.requires_secret("k", label="Key")
    mcp = MCPServer("custom", log_level="WARNING")
    server = ServerThread(handoff.app(mcp), port).start()
    try:
        record = await handoff.ledger.create(
            Draft(
                principal="alice",
                kind="secret",
                params=handoff.needs["secret:k"].params(Invocation("custom", "tool", {})),
            )
        )
        url = handoff.url_for(record.id)
        async with httpx2.AsyncClient() as http:
            anonymous = await http.get(url)
            assert anonymous.status_code == 401 and "Key" not in anonymous.text
            bob = await http.get(url, headers={"x-verified-user": "bob"})
            assert bob.status_code == 403
            alice = await http.get(url, headers={"x-verified-user": "alice"})
            assert alice.status_code == 200 and "Key" in alice.text
        assert (await handoff.ledger.get(record.id)).status is Status.PENDING
        assert [e.event for e in await handoff.audit.read(record_id=record.id)] == [
            "identity_mismatch",
            "opened",
        ]
    finally:
        server.stop()


async def test_unauthenticated_calls_are_refused_before_anything_is_created():
    async def nobody(request: Request) -> str | None:
        return None

    handoff = Handoff.in_memory(
        public_url="http://127.0.0.1:9",
        browser=CustomIdentity(nobody),
        secret_key=b"s" * 32,
        keyring=Keyring.parse(generate_key()),
    )
    mcp = MCPServer("anon", log_level="WARNING")

    @mcp.tool()
    @handoff.requires_secret("k", label="Key")
    async def needs_key() -> str:
        return "ran"

    async with Client(mcp, mode="legacy") as client:
        result = await client.call_tool("needs_key", {})
    assert result.is_error and "verified user" in result.content[0].text  # type: ignore[union-attr]
    assert await handoff.audit.read() == []
