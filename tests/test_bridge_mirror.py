"""The bridge mirrors more than tools: resources, prompts, completions, logging and `list_changed`
notices; it passes the upstream's form elicitations, sampling and roots to a client that declared
them, in the client's era, and tells the upstream when the client did not. Upstream:
tests/bridge_upstream.py over stdio; in front: the official `mcp` client."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from _bridge import HERE, bridge_command, bridged, text_of
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CreateMessageResult,
    ElicitResult,
    ListRootsResult,
    PromptListChangedNotification,
    PromptReference,
    ResourceListChangedNotification,
    ResourceTemplateReference,
    Root,
    TextContent,
    ToolListChangedNotification,
)

ERAS = ["legacy", "2026-07-28"]
pytestmark = pytest.mark.anyio


def upstream(tmp_path: Path) -> StdioServerParameters:
    server = [sys.executable, str(HERE / "bridge_upstream.py"), str(tmp_path / "upstream.log")]
    return bridge_command(tmp_path, "--", *server, extra=("--protocol", "legacy"))


@pytest.mark.parametrize("era", ["legacy", "auto"])  # auto: 2026-07-28, capabilities from server/discover
async def test_resources_prompts_and_completions_are_the_upstreams_own(tmp_path: Path, era: str):
    async with bridged(Client(upstream(tmp_path), mode=era)) as client:
        assert client.protocol_version == ("2025-11-25" if era == "legacy" else "2026-07-28")
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.prompts is not None
        assert client.server_capabilities.completions is not None
        resources = await client.list_resources()
        templates = await client.list_resource_templates()
        read = await client.read_resource("memo://greeting")
        note = await client.read_resource("memo://notes/seven")
        prompts = await client.list_prompts()
        prompt = await client.get_prompt("review", {"code": "x = 1"})
        names = await client.complete(
            PromptReference(type="ref/prompt", name="review"), {"name": "code", "value": "al"}
        )
        notes = await client.complete(
            ResourceTemplateReference(type="ref/resource", uri="memo://notes/{name}"),
            {"name": "name", "value": "b"},
        )

    (resource,) = resources.resources
    assert (str(resource.uri), resource.name, resource.mime_type) == (
        "memo://greeting",
        "greeting",
        "text/plain",
    )
    assert [t.uri_template for t in templates.resource_templates] == ["memo://notes/{name}"]
    assert getattr(read.contents[0], "text", None) == "hello from upstream"
    assert getattr(note.contents[0], "text", None) == "note seven"
    (review,) = prompts.prompts
    assert review.name == "review" and [a.name for a in review.arguments or []] == ["code"]
    assert getattr(prompt.messages[0].content, "text", None) == "Please review: x = 1"
    assert names.completion.values == ["alpha", "alpine"] and notes.completion.values == ["beta"]


async def test_log_messages_and_list_changed_notices_reach_the_client(tmp_path: Path):
    logged: list[Any] = []
    changed: set[type] = set()
    all_changed = anyio.Event()
    kinds = {ToolListChangedNotification, ResourceListChangedNotification, PromptListChangedNotification}

    async def log(params: Any) -> None:
        logged.append(params)

    async def notice(message: Any) -> None:
        if type(message) in kinds:
            changed.add(type(message))
        if changed == kinds:
            all_changed.set()

    client = Client(upstream(tmp_path), mode="legacy", logging_callback=log, message_handler=notice)
    async with bridged(client):
        assert client.server_capabilities.logging is not None
        await client.set_logging_level("warning")
        assert text_of(await client.call_tool("chatty", {})) == "chatted"  # an info message: not relayed
        await client.set_logging_level("info")
        assert text_of(await client.call_tool("chatty", {})) == "chatted"
        before = [t.name for t in (await client.list_tools()).tools]
        assert text_of(await client.call_tool("grow", {})) == "grew"
        with anyio.fail_after(30):
            await all_changed.wait()  # tools, resources and prompts: each notice came through
        after = [t.name for t in (await client.list_tools(cache_mode="refresh")).tools]
        resources = [r.name for r in (await client.list_resources(cache_mode="refresh")).resources]
        prompts = [p.name for p in (await client.list_prompts(cache_mode="refresh")).prompts]

    assert [(p.level, p.data) for p in logged] == [("info", "upstream says hello")]
    assert "grown" not in before and "grown" in after
    assert "grown" in resources and "grown" in prompts


@pytest.mark.parametrize("era", ERAS)
async def test_form_elicitation_sampling_and_roots_go_to_the_client_that_declared_them(
    tmp_path: Path, era: str
):
    asked: list[Any] = []
    sampled: list[Any] = []

    async def form(context: Any, params: Any) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content={"name": "Ada"})

    async def sampling(context: Any, params: Any) -> CreateMessageResult:
        sampled.append(params)
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="short"), model="stand-in"
        )

    async def roots(context: Any) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri="file:///work/project", name="project")])

    client = Client(
        upstream(tmp_path),
        mode=era,
        elicitation_callback=form,
        sampling_callback=sampling,
        list_roots_callback=roots,
    )
    async with bridged(client):
        named = await client.call_tool("ask_name", {})
        summary = await client.call_tool("summarize", {"text": "a long text"})
        listed = await client.call_tool("roots", {})

    assert text_of(named) == "accept: Ada"
    assert len(asked) == 1 and asked[0].message == "What is your name?"  # as the server asked it
    assert asked[0].requested_schema["properties"]["name"]["type"] == "string"
    assert text_of(summary) == "summary: short"
    assert getattr(sampled[0].messages[0].content, "text", None) == "Summarize: a long text"
    assert text_of(listed) == "file:///work/project"


@pytest.mark.parametrize("era", ERAS)
async def test_a_client_that_did_not_declare_them_has_the_upstream_told_so(tmp_path: Path, era: str):
    said: list[str] = []
    async with bridged(Client(upstream(tmp_path), mode=era)) as client:
        for tool, arguments in [("ask_name", {}), ("summarize", {"text": "a long text"}), ("roots", {})]:
            with pytest.raises(MCPError) as raised:  # the upstream's tool failed on the error it got
                await client.call_tool(tool, arguments)
            said.append(raised.value.error.message)
    assert said == [
        "the client does not support form mode elicitation",
        "the client does not support sampling",
        "the client does not support roots",
    ]
