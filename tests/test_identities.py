"""Local mode and a custom identity hook, end to end over real HTTP."""

from __future__ import annotations

import httpx2
import pytest
from _server import ServerThread, free_port
from mcp import Client, MCPError
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request

from handoff import (
    ConfigError,
    CustomIdentity,
    Handoff,
    Keyring,
    LocalIdentity,
    TokenSubject,
    generate_key,
    hash_password,
)
from handoff._need import Invocation
from handoff.demo import ScriptedBrowser
from handoff.ledger import Draft, Status

pytestmark = pytest.mark.anyio


PASSPHRASE = "correct horse battery staple"
LOCAL = LocalIdentity(hash_password(PASSPHRASE))


def _local(port: int) -> tuple[Handoff, MCPServer]:
    handoff = Handoff.in_memory(
        public_url=f"http://127.0.0.1:{port}",
        browser=LocalIdentity(LOCAL.users["local"]),
        secret_key=b"s" * 32,
        keyring=Keyring.parse(generate_key()),
    )
    mcp = MCPServer("local", log_level="WARNING")

    @mcp.tool()
    @handoff.requires_secret("token", label="Token")
    async def use_token() -> str:
        return f"token has {len(handoff.secret('token'))} characters"

    @mcp.tool()
    @handoff.requires_approval("payment", label="Send a payment")
    async def pay(amount: str) -> str:
        return f"paid {amount}"

    return handoff, mcp


async def test_local_mode_story_with_the_persons_passphrase():
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
                assert page.title.startswith("Sign in to ") and "passphrase" in page.text
                assert "User name" not in page.text
                page = await browser.sign_in(page, "local", PASSPHRASE)
                assert page.status == 200 and page.title == "Token"
                done = await browser.submit(page, {"value": "abcdef", "action": "save"})
                assert not isinstance(done, str) and done.title == "Saved"
            result = await client.call_tool("use_token", {})
            assert "6 characters" in result.content[0].text  # type: ignore[union-attr]
    finally:
        server.stop()


async def test_with_local_identity_another_local_program_cannot_approve_or_enter_anything():
    """The AI agent's shell is a local process too: without the passphrase, no page does anything."""
    port = free_port()
    handoff, mcp = _local(port)
    server = ServerThread(handoff.app(mcp), port).start()
    try:

        async def elicit(*_: object) -> None:
            raise AssertionError("unexpected elicitation/create")

        async with Client(
            f"http://127.0.0.1:{port}/mcp", mode="legacy", elicitation_callback=elicit
        ) as client:
            with pytest.raises(MCPError) as caught:
                await client.call_tool("pay", {"amount": "1000"})
        url = caught.value.data["elicitations"][0]["url"]
        async with ScriptedBrowser(f"http://127.0.0.1:{port}") as agent:
            page = await agent.open(url)
            assert page.title.startswith("Sign in to ") and "1000" not in page.text
            posted = await agent.http.post(url, data={"action": "approve", "csrf": page.csrf or ""})
            assert (
                posted.status_code == 403 and "Form expired" in posted.text
            )  # the sign-in's token is no approval
            for guess in ("local", "password", "", "1234"):
                wrong = await agent.submit(page, {"username": "local", "password": guess, "next": page.url})
                assert not isinstance(wrong, str) and wrong.status in (401, 429)
        record = await handoff.ledger.get(caught.value.data["elicitations"][0]["elicitationId"])
        assert record.pending
    finally:
        server.stop()


def test_local_identity_needs_a_passphrase_hash_and_reads_it_from_a_private_file(tmp_path):
    with pytest.raises(ConfigError, match="hash of the person's passphrase"):
        LocalIdentity(PASSPHRASE)
    from handoff.identity import write_passphrase

    path = write_passphrase(tmp_path / "keys" / "passphrase", PASSPHRASE)
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        LocalIdentity.from_file(path)
    path.chmod(0o600)
    assert LocalIdentity.from_file(path).verify("local", PASSPHRASE)
    with pytest.raises(ConfigError, match="handoff passphrase"):
        LocalIdentity.from_file(tmp_path / "missing")


def test_local_mode_refuses_to_bind_beyond_loopback():
    handoff, mcp = _local(9)
    with pytest.raises(ConfigError, match="loopback"):
        handoff.app(mcp, host="0.0.0.0")
    with pytest.raises(ConfigError, match="loopback"):
        Handoff.in_memory(
            public_url="https://mcp.example.com",
            browser=LOCAL,
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
