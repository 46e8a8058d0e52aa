"""`handoff bridge` in front of a real `handoff demo`, driven by the official `mcp` client over stdio.

A client that declares form mode only gets the tool's real result from its one `tools/call` (the
bridge asks consent in a form, opens the browser itself, waits); a client without elicitation gets
the link in a tool error and resumes the step by calling again. What the person types in the
browser never reaches anything the client received: every byte the bridge wrote to its stdout is
recorded and searched.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _bridge import HERE, SECRET, FormOnlyClient, bridge_command, bridged, browser_log, text_of
from conftest import Running
from mcp import Client, StdioServerParameters
from mcp_types import ElicitResult

ERAS = ["legacy", "2026-07-28"]
pytestmark = pytest.mark.anyio


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Running]:
    server = Running(tmp_path / "data").start()
    yield server
    server.stop()


@pytest.mark.parametrize("era", ERAS)
async def test_a_form_only_client_gets_the_real_result_of_its_one_call(
    demo: Running, tmp_path: Path, era: str
):
    asked: list[Any] = []

    async def consent(context: Any, params: Any) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content={"choice": "open in my browser"})

    client = FormOnlyClient(bridge_command(tmp_path, demo.mcp_url), mode=era, elicitation_callback=consent)
    async with bridged(client):
        tools = await client.list_tools()
        forecast = next(t for t in tools.tools if t.name == "forecast")
        assert forecast.input_schema["properties"]["city"]["type"] == "string"
        assert forecast.annotations is not None and forecast.annotations.read_only_hint
        result = await client.call_tool("forecast", {"city": "Oslo"})

    assert not result.is_error, text_of(result)
    assert "Forecast for Oslo" in text_of(result)
    assert len(asked) == 1 and asked[0].mode in (None, "form")
    message = asked[0].message
    assert "asks you to open a link in your browser" in message
    assert f"Link: {demo.origin}/handoff/e/" in message and "Link check:" in message
    assert "entered secret" in browser_log(tmp_path)  # the bridge opened the browser, once consented
    recorded = (tmp_path / "stdout.log").read_text()
    assert "Forecast for Oslo" in recorded  # the recording is what the client read
    assert SECRET not in recorded and SECRET not in message


@pytest.mark.parametrize("era", ERAS)
async def test_a_form_only_client_that_says_not_now_gets_a_tool_error_and_no_browser(
    demo: Running, tmp_path: Path, era: str
):
    async def consent(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"choice": "not now"})

    client = FormOnlyClient(bridge_command(tmp_path, demo.mcp_url), mode=era, elicitation_callback=consent)
    async with bridged(client):
        result = await client.call_tool("forecast", {"city": "Oslo"})
    assert result.is_error
    assert "declined" in text_of(result)
    assert "entered secret" not in browser_log(tmp_path)


@pytest.mark.parametrize("era", ERAS)
async def test_a_client_without_elicitation_gets_the_link_then_resumes_the_step(
    demo: Running, tmp_path: Path, era: str
):
    import fake_browser

    client = Client(bridge_command(tmp_path, demo.mcp_url), mode=era)
    async with bridged(client):
        first = await client.call_tool("forecast", {"city": "Oslo"})
        assert first.is_error
        said = text_of(first)
        assert "Call the tool again when you are done" in said and "Link check:" in said
        assert "entered secret" not in browser_log(tmp_path)  # the bridge opens nothing itself
        link = re.search(r"Open this link yourself: (\S+)", said)
        assert link is not None and link.group(1).startswith(f"{demo.origin}/handoff/e/")
        os.environ["FAKE_SECRET"] = SECRET
        try:
            await fake_browser.main(link.group(1))  # the person opens it and finishes
        finally:
            del os.environ["FAKE_SECRET"]
        again = await client.call_tool("forecast", {"city": "Oslo"})

    assert not again.is_error, text_of(again)
    assert "Forecast for Oslo" in text_of(again)
    recorded = (tmp_path / "stdout.log").read_text()
    assert SECRET not in recorded


async def test_an_upstream_that_is_down_is_one_line_and_a_json_rpc_error(tmp_path: Path):
    from _server import free_port
    from mcp.shared.exceptions import MCPError

    url = f"http://127.0.0.1:{free_port()}/mcp"
    client = Client(bridge_command(tmp_path, url, extra=("--connect-timeout", "2")), mode="legacy")
    async with bridged(client):
        with pytest.raises(MCPError) as raised:
            await client.call_tool("forecast", {"city": "Oslo"})
    assert raised.value.error.message.startswith("handoff bridge: ")
    said = (tmp_path / "stderr.log").read_text()
    assert "Traceback" not in said
    lines = [line for line in said.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("handoff bridge: ") and url.split("/mcp")[0] in lines[0], (
        said
    )


@pytest.mark.parametrize("era", ERAS)
async def test_a_client_with_url_mode_gets_the_link_with_the_findings_in_front(
    demo: Running, tmp_path: Path, era: str
):
    import fake_browser

    links: list[Any] = []

    async def person(context: Any, params: Any) -> ElicitResult:
        links.append(params)
        os.environ["FAKE_SECRET"] = SECRET
        try:
            await fake_browser.main(params.url)  # the client in front opens it; the person finishes
        finally:
            del os.environ["FAKE_SECRET"]
        return ElicitResult(action="accept")

    client = Client(bridge_command(tmp_path, demo.mcp_url), mode=era, elicitation_callback=person)
    async with bridged(client):
        result = await client.call_tool("forecast", {"city": "Oslo"})

    assert not result.is_error, text_of(result)
    assert "Forecast for Oslo" in text_of(result)
    assert len(links) == 1 and links[0].mode == "url"
    assert links[0].url.startswith(f"{demo.origin}/handoff/e/")
    assert links[0].message.startswith("Link check: nothing suspicious found")
    assert "entered secret" not in browser_log(tmp_path)  # the bridge left the opening to the client
    assert SECRET not in (tmp_path / "stdout.log").read_text()


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("declared", ["url", "form"])
async def test_a_hostile_upstream_gets_no_link_opened_nor_passed_on(tmp_path: Path, era: str, declared: str):
    asked: list[Any] = []

    async def consent(context: Any, params: Any) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content={"choice": "open in my browser"})

    hostile = [sys.executable, str(HERE / "hostile_server.py"), "stdio"]
    protocol = "legacy" if era == "legacy" else "2026-07-28"
    command = bridge_command(tmp_path, "--", *hostile, extra=("--accept", "warn", "--protocol", protocol))
    kind = FormOnlyClient if declared == "form" else Client
    client = kind(command, mode=era, elicitation_callback=consent)
    async with bridged(client):
        tools = await client.list_tools()
        assert "link" in [tool.name for tool in tools.tools]
        result = await client.call_tool("link", {})

    said = (tmp_path / "stderr.log").read_text()
    assert "handoff bridge: link: link to (a link that does not parse) (block): decline" in said
    assert "after the link" in text_of(result)  # the server goes on regardless: its answer, as it is
    assert asked == []  # a blocked link is never passed on, whatever the client declared
    assert browser_log(tmp_path) == ""  # nor opened, though --accept warn opens links with warnings
    assert "\x1b" not in said.replace(said.split("\n", 1)[0], "")  # only the server's own first line


@pytest.mark.parametrize("era", ERAS)
async def test_accept_ok_opens_the_link_itself_for_a_client_nobody_watches(
    demo: Running, tmp_path: Path, era: str
):
    client = Client(bridge_command(tmp_path, demo.mcp_url, extra=("--accept", "ok")), mode=era)
    async with bridged(client):
        result = await client.call_tool("forecast", {"city": "Oslo"})
    assert not result.is_error, text_of(result)
    assert "Forecast for Oslo" in text_of(result)
    assert "entered secret" in browser_log(tmp_path)
    assert SECRET not in (tmp_path / "stdout.log").read_text()


def parsed_config(client: str, text: str) -> tuple[str, list[str]]:
    """The command and arguments a client reads from its configuration (`text`, as printed)."""
    import json
    import tomllib

    if client == "claude-code":
        words = shlex.split(text)
        assert words[:3] == ["claude", "mcp", "add"] and words[4] == "--"
        return words[5], words[6:]
    if client == "codex":
        (entry,) = tomllib.loads(text)["mcp_servers"].values()
        assert entry["tool_timeout_sec"] >= 600
        return entry["command"], entry["args"]
    document = json.loads(text)
    (entry,) = (document["servers"] if client == "vscode" else document["mcpServers"]).values()
    if client == "vscode":
        assert entry["type"] == "stdio"
    return entry["command"], entry["args"]


@pytest.mark.parametrize("name", ["claude-desktop", "claude-code", "codex", "cursor", "vscode"])
async def test_print_config_gives_each_client_a_configuration_that_runs_the_bridge(
    demo: Running, tmp_path: Path, name: str
):
    import anyio

    argv = [sys.executable, "-m", "handoff.cli", "bridge", "--print-config", name, demo.mcp_url]
    printed = (await anyio.run_process(argv)).stdout.decode()
    command, args = parsed_config(name, printed)
    assert Path(command).is_absolute() and args[-1] == demo.mcp_url
    env = bridge_command(tmp_path).env  # the browser stand-in, and this tree's handoff
    started = StdioServerParameters(command=command, args=args, env=env)
    async with bridged(Client(started, mode="legacy")) as client:
        tools = await client.list_tools()
    assert "forecast" in [tool.name for tool in tools.tools]
