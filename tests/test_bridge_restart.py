"""The upstream server restarted while a bridged call waits for the person: the call still ends, with
the tool's result once the person finishes, or a tool error that says what happened; it never
hangs."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest
from _bridge import SECRET, FormOnlyClient, bridge_command, bridged, browser_log, eventually, text_of
from conftest import Running
from mcp_types import ElicitResult

ERAS = ["legacy", "2026-07-28"]
pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("era", ERAS)
async def test_a_call_waiting_while_the_upstream_restarts_still_ends(tmp_path: Path, era: str):
    import fake_browser

    demo = Running(tmp_path / "data").start()
    links: list[str] = []
    asked = anyio.Event()

    async def consent(context: Any, params: Any) -> ElicitResult:
        link = re.search(r"Link: (\S+)", params.message)
        assert link is not None
        links.append(link.group(1))
        asked.set()
        return ElicitResult(action="accept", content={"choice": "open in my browser"})

    # the browser the bridge opens only looks at the page: the person finishes it after the restart
    command = bridge_command(tmp_path, demo.mcp_url, extra=("--timeout", "20"), more_env={"FAKE_FINISH": "0"})
    outcome: list[Any] = []
    try:
        async with bridged(FormOnlyClient(command, mode=era, elicitation_callback=consent)) as client:
            async with anyio.create_task_group() as tasks:

                async def call() -> None:
                    outcome.append(await client.call_tool("forecast", {"city": "Oslo"}))

                tasks.start_soon(call)
                with anyio.fail_after(60):
                    await asked.wait()
                await eventually(
                    lambda: "only looked at" in browser_log(tmp_path), "the browser opening the page"
                )
                demo.stop()
                demo = Running(tmp_path / "data", port=demo.port).start()  # the same server, restarted
                os.environ["FAKE_SECRET"] = SECRET
                try:
                    await fake_browser.main(links[0])  # the person finishes the page on the new process
                finally:
                    del os.environ["FAKE_SECRET"]
                await eventually(lambda: bool(outcome), "the call ending")  # within --timeout: no hang
    finally:
        demo.stop()

    (result,) = outcome
    assert not result.is_error, text_of(result)
    assert "Forecast for Oslo" in text_of(result)  # the one call's real result, after the restart
    assert SECRET not in (tmp_path / "stdout.log").read_text()


async def test_a_call_waiting_when_a_stdio_upstream_dies_ends_with_a_clear_error(tmp_path: Path):
    from mcp.shared.exceptions import MCPError
    from test_bridge_waits import read, until, upstream

    async def consent(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"choice": "open in my browser"})

    log = tmp_path / "upstream.log"
    async with bridged(
        FormOnlyClient(upstream(tmp_path), mode="legacy", elicitation_callback=consent)
    ) as client:
        async with anyio.create_task_group() as tasks:
            failed: list[MCPError] = []

            async def call() -> None:
                with pytest.raises(MCPError) as raised:
                    await client.call_tool("link_then_hang", {})
                failed.append(raised.value)

            tasks.start_soon(call)
            await until(log, "link_then_hang: accept")
            (pid,) = [int(line.split()[-1]) for line in read(log) if line.startswith("pid ")]
            os.kill(pid, signal.SIGKILL)  # the server dies while the person is in the browser
        # and the bridge says so, for the next call too
        with pytest.raises(MCPError) as again:
            await client.call_tool("work", {"steps": 1})

    (error,) = failed
    print("FIRST", error.error.message, "AGAIN", again.value.error.message)
    assert "bridge_upstream.py" in error.error.message and "Traceback" not in error.error.message
    assert (
        again.value.error.message == error.error.message or "bridge_upstream.py" in again.value.error.message
    )
