"""Clients we did not write, in front of `handoff bridge URL` with a real `handoff demo` behind it,
and a person in Debian's Chromium (the bridge's system browser) who signs in and finishes the page:
the TypeScript SDK's client declaring form mode only, over stdio, and FastMCP's `Client` (which
declares URL mode, so it opens the link itself). Each gets the real result of its one `tools/call`,
and the value typed in the browser is in nothing either client received."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from _bridge import HERE, SECRET, bridge_command, bridge_env
from conftest import Running

pytestmark = pytest.mark.anyio
PEER = HERE / "peer"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Running]:
    server = Running(tmp_path / "data").start()
    yield server
    server.stop()


def person(tmp_path: Path) -> dict[str, str]:
    """The browser the bridge (or the client) opens: Chromium, and the person at it."""
    return {
        "BROWSER": f"{shlex.quote(sys.executable)} {HERE / 'chromium_browser.py'} %s",
        "CHROMIUM_LOG": str(tmp_path / "chromium.log"),
        "CHROMIUM_SECRET": SECRET,
    }


def chromium_log(tmp_path: Path) -> str:
    log = tmp_path / "chromium.log"
    return log.read_text() if log.exists() else ""


async def test_the_typescript_sdk_client_with_form_only_gets_the_real_result(demo: Running, tmp_path: Path):
    bridge = bridge_command(tmp_path, demo.mcp_url)
    argv = ["node", str(PEER / "bridged.mjs"), "forecast", json.dumps({"city": "Oslo"}), "--", bridge.command]
    env = bridge_env(tmp_path, person(tmp_path))
    with anyio.fail_after(180):
        done = await anyio.run_process([*argv, *bridge.args], env=env, cwd=PEER, check=False)
    assert done.returncode == 0, done.stderr.decode()
    said = json.loads(done.stdout.decode().strip().splitlines()[-1])

    text = "\n".join(block.get("text", "") for block in said["result"]["content"])
    assert not said["result"].get("isError"), text
    assert "Forecast for Oslo" in text
    (message,) = said["asked"]
    assert (
        "asks you to open a link in your browser" in message and f"Link: {demo.origin}/handoff/e/" in message
    )
    seen = chromium_log(tmp_path)
    assert "landed: " in seen and "finished: Saved" in seen  # signed in with OAuth, then finished the page
    recorded = (tmp_path / "stdout.log").read_text()
    assert "Forecast for Oslo" in recorded  # the recording is what the client read
    assert SECRET not in recorded and SECRET not in done.stdout.decode()


async def test_fastmcps_client_gets_the_link_checked_then_the_real_result(demo: Running, tmp_path: Path):
    import webbrowser

    from fastmcp import Client
    from fastmcp.client.elicitation import ElicitResult
    from fastmcp.client.transports import StdioTransport
    from mcp_types import ElicitRequestURLParams

    links: list[Any] = []
    received: list[Any] = []

    async def elicit(message: str, response_type: Any, params: Any, context: Any) -> ElicitResult[Any]:
        assert isinstance(params, ElicitRequestURLParams)
        links.append(params)
        await anyio.to_thread.run_sync(webbrowser.get().open, params.url)  # the person finishes in Chromium
        return ElicitResult(action="accept")

    async def on_message(message: Any) -> None:
        received.append(message)

    bridge = bridge_command(tmp_path, demo.mcp_url)
    os.environ.update(person(tmp_path))  # FastMCP's client opens the link with $BROWSER, as the bridge does
    webbrowser._tryorder = None  # type: ignore[attr-defined]  # read $BROWSER afresh
    try:
        transport = StdioTransport(bridge.command, bridge.args, env=bridge_env(tmp_path, person(tmp_path)))
        client = Client(transport, elicitation_handler=elicit, message_handler=on_message, mode="legacy")
        with anyio.fail_after(180):
            async with client:
                result = await client.call_tool("forecast", {"city": "Oslo"}, raise_on_error=False)
    finally:
        for name in person(tmp_path):
            os.environ.pop(name, None)
        webbrowser._tryorder = None  # type: ignore[attr-defined]

    text = "\n".join(getattr(block, "text", "") for block in result.content)
    assert not result.is_error, text
    assert "Forecast for Oslo" in text
    (link,) = links
    assert link.url.startswith(f"{demo.origin}/handoff/e/")
    assert link.message.startswith("Link check: nothing suspicious found")
    assert chromium_log(tmp_path).count("finished: Saved") == 1
    recorded = (tmp_path / "stdout.log").read_text()
    assert SECRET not in recorded and SECRET not in repr([result, links, received])
