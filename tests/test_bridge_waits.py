"""While a bridged call waits: progress to the client in front, cancellation both ways, bounded
waits, and a flood of links from upstream, against tests/bridge_upstream.py over stdio."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from _bridge import HERE, FormOnlyClient, bridge_command, bridged, text_of
from mcp import Client, StdioServerParameters
from mcp_types import ElicitResult

ERAS = ["legacy", "2026-07-28"]
pytestmark = pytest.mark.anyio


def upstream(tmp_path: Path, *extra: str) -> StdioServerParameters:
    """The bridge in front of tests/bridge_upstream.py (2025-11-25 upstream: it sends its links in
    `elicitation/create`); the browser only notes the links it is given, in tmp_path/opened.log."""
    opened = shlex.quote(str(tmp_path / "opened.log"))
    return bridge_command(
        tmp_path,
        "--",
        sys.executable,
        str(HERE / "bridge_upstream.py"),
        str(tmp_path / "upstream.log"),
        extra=("--protocol", "legacy", *extra),
        more_env={"BROWSER": f"sh -c 'echo \"$0\" >> {opened}' %s"},
    )


def read(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def until(path: Path, line: str, times: int = 1) -> None:
    """Until `line` is in the file `times` times (the upstream server wrote it), at most 30 s."""
    for _ in range(1500):
        if read(path).count(line) >= times:
            return
        await anyio.sleep(0.02)
    raise AssertionError(f"{line!r} never appeared {times} times in {path.name}: {read(path)}")


@pytest.mark.parametrize("era", ERAS)
async def test_upstream_progress_is_relayed_to_the_call_that_asked_for_it(tmp_path: Path, era: str):
    heard: list[tuple[float, float | None, str | None]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        heard.append((value, total, message))

    async with bridged(Client(upstream(tmp_path), mode=era)) as client:
        result = await client.call_tool("work", {"steps": 3}, progress_callback=progress)

    assert text_of(result) == "worked in 3 steps"
    assert heard == [(n, 3, f"step {n} of 3") for n in (1, 2, 3)]


@pytest.mark.parametrize("era", ERAS)
async def test_a_call_waiting_on_a_person_hears_progress_then_ends_when_the_wait_is_over(
    tmp_path: Path, era: str
):
    heard: list[str | None] = []
    asked: list[Any] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        heard.append(message)

    async def consent(context: Any, params: Any) -> ElicitResult:
        asked.append(params)
        return ElicitResult(action="accept", content={"choice": "open in my browser"})

    command = upstream(tmp_path, "--timeout", "2", "--progress-every", "0.2")
    async with bridged(FormOnlyClient(command, mode=era, elicitation_callback=consent)) as client:
        result = await client.call_tool("link_then_hang", {}, progress_callback=progress)

    assert len(asked) == 1
    assert read(tmp_path / "opened.log") == ["https://example.com/step/never"]  # opened once, by the bridge
    assert result.is_error
    assert "not finished within 2 s" in text_of(result), text_of(result)
    assert "waiting for you to finish in your browser (link_then_hang)" in heard


@pytest.mark.parametrize("era", ERAS)
async def test_a_client_that_does_not_answer_about_the_link_gets_a_tool_error_saying_so(
    tmp_path: Path, era: str
):
    answered = anyio.Event()

    async def consent(context: Any, params: Any) -> ElicitResult:
        await answered.wait()  # the person never answers while the call waits
        return ElicitResult(action="cancel")

    command = upstream(tmp_path, "--timeout", "1")
    async with bridged(FormOnlyClient(command, mode="legacy", elicitation_callback=consent)) as client:
        result = await client.call_tool("link_then_hang", {})
        answered.set()

    assert result.is_error
    assert "No answer about the link within 1 s, so link_then_hang was stopped" in text_of(result)
    assert read(tmp_path / "opened.log") == []
    assert (
        "handoff bridge: link_then_hang: no answer about the link within 1 s"
        in (tmp_path / "stderr.log").read_text()
    )


@pytest.mark.parametrize("era", ERAS)
async def test_a_client_that_cancels_its_call_cancels_it_upstream_and_nothing_stays_pending(
    tmp_path: Path, era: str
):
    log = tmp_path / "upstream.log"
    async with bridged(Client(upstream(tmp_path), mode=era)) as client:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(client.call_tool, "hang", {})
            await until(log, "hang: started")
            tasks.cancel_scope.cancel()  # the SDK client sends notifications/cancelled
        await until(log, "hang: cancelled")
        # the step is gone: the same call again starts anew upstream, and can be cancelled again
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(client.call_tool, "hang", {})
            await until(log, "hang: started", 2)
            tasks.cancel_scope.cancel()
        await until(log, "hang: cancelled", 2)
    assert read(log) == ["hang: started", "hang: cancelled"] * 2
    assert (
        "hang: cancelled by the client; the call upstream is cancelled"
        in (tmp_path / "stderr.log").read_text()
    )


async def test_a_link_the_server_withdraws_is_withdrawn_from_the_client_too(tmp_path: Path):
    withdrawn: list[str] = []

    async def consent(context: Any, params: Any) -> ElicitResult:
        (tmp_path / "asked").touch()
        try:
            await anyio.sleep_forever()
        finally:
            withdrawn.append(params.message)  # the bridge cancelled its question
        raise AssertionError("unreachable")

    command = upstream(tmp_path)
    async with bridged(FormOnlyClient(command, mode="legacy", elicitation_callback=consent)) as client:
        result = await client.call_tool("withdraw", {"asked": str(tmp_path / "asked")})

    assert text_of(result) == "withdrawn"
    assert len(withdrawn) == 1 and "Link: https://example.com/step/withdrawn" in withdrawn[0]
    assert read(tmp_path / "opened.log") == []
    assert "handoff bridge: withdraw: the server withdrew its link" in (tmp_path / "stderr.log").read_text()


@pytest.mark.parametrize("era", ERAS)
async def test_a_flood_of_links_asks_the_person_once_per_link_at_most(tmp_path: Path, era: str):
    asked: list[str] = []

    async def consent(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"choice": "not now"})

    async with bridged(FormOnlyClient(upstream(tmp_path), mode=era, elicitation_callback=consent)) as client:
        result = await client.call_tool("flood", {"links": 8})

    links = [line for message in asked for line in message.splitlines() if line.startswith("Link: ")]
    assert len(asked) == 5  # the limit on links in a minute; the other three are declined unseen
    assert len(set(links)) == 5  # each one twice upstream, asked about once
    assert text_of(result) == "0 accepted of 16"
    assert read(tmp_path / "opened.log") == []
    assert read(tmp_path / "upstream.log") == [f"flood: {['decline'] * 16}"]
