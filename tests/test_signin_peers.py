"""handoff's client signs in at authorization servers it did not write: the TypeScript SDK's own
(`mcpAuthRouter`, the most common TypeScript setup, in tests/peer/authed.mjs), which gives every
client that does not register as public a client_secret."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from _server import free_port
from conftest import PEER

from handoff.client import HandoffClient, MemoryTokens, SignIn

HANDOFF = Path(sys.executable).parent / "handoff"


@pytest.fixture(scope="module")
def ts_authed() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        ["node", str(PEER / "authed.mjs"), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and "listening" in process.stdout.readline()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def follow_the_redirect(url: str) -> None:
    """The SDK's demo provider signs in whoever asks: its authorization page redirects at once."""
    async with httpx2.AsyncClient(follow_redirects=False) as http:
        answer = await http.get(url)
        assert answer.status_code == 302, answer.text
        await http.get(answer.headers["location"])


@pytest.mark.anyio
async def test_handoff_registers_as_a_public_client_and_signs_in(ts_authed):
    sign_in = SignIn(MemoryTokens(), opener=follow_the_redirect)
    async with HandoffClient(f"{ts_authed}/mcp", auth=sign_in, mode="legacy") as client:
        result = await client.call_tool("whoami", {})
    assert result.content[0].text.startswith("client ")  # type: ignore[union-attr]
    async with httpx2.AsyncClient() as http:
        registered = (await http.get(f"{ts_authed}/registered")).json()
    assert registered[-1] == {"method": "none", "secret": False}


def test_check_server_signs_in_there_and_says_it_tested_nothing(ts_authed):
    """Its one tool asks for no browser step: exit 3, no traceback."""
    done = subprocess.run(
        [
            str(HANDOFF),
            "check",
            "server",
            f"{ts_authed}/mcp",
            "--user",
            "any",
            "--password",
            "any",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"].startswith("nothing tested")
    legacy = {r["reason"] for r in report["results"] if r["era"] == "2025-11-25"}
    assert legacy == {"no tool asked for a browser step (tried: whoami); name one with --tool"}


@pytest.mark.anyio
async def test_a_secret_issued_with_no_method_is_sent_as_rfc_7591_defaults():
    from mcp.shared.auth import OAuthClientInformationFull

    from handoff.client._tokens import ServerTokens

    tokens = await ServerTokens.open(MemoryTokens(), "https://mcp.example.com/mcp")
    issued = OAuthClientInformationFull(
        client_id="c", client_secret="s", redirect_uris=["http://127.0.0.1:1/cb"]
    )  # type: ignore[list-item]
    await tokens.set_client_info(issued)
    saved = await tokens.get_client_info()
    assert saved is not None and saved.token_endpoint_auth_method == "client_secret_basic"
