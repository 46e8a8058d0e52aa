"""What the bridge tests share: the bridge as a command the SDK client starts (its stdout and stderr
recorded), and a client that declares form mode elicitation only."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from _server import python_path
from mcp import Client, StdioServerParameters
from mcp.client.session import ClientSession
from mcp_types import ClientCapabilities, ElicitationCapability, FormElicitationCapability

HERE = Path(__file__).parent
SECRET = "wk_demo_bridge_9f3c2a71"


class FormOnlyClient(Client):
    """The SDK's client, declaring form mode elicitation only (as clients without URL mode do)."""

    async def _build_session(self, exit_stack: AsyncExitStack) -> ClientSession:
        session = await super()._build_session(exit_stack)
        base = session._build_capabilities

        def declared(version: str) -> ClientCapabilities:
            form_only = ElicitationCapability(form=FormElicitationCapability())
            return base(version).model_copy(update={"elicitation": form_only})

        session._build_capabilities = declared  # type: ignore[method-assign]
        return session


def bridge_env(tmp_path: Path, more_env: dict[str, str] | None = None) -> dict[str, str]:
    """What the bridge runs with: the browser stand-in (logging to tmp_path/browser.log), a token file
    in tmp_path, this tree's handoff; `more_env` adds to (or replaces) that."""
    return {
        **os.environ,
        "BROWSER": f"{shlex.quote(sys.executable)} {HERE / 'fake_browser.py'} %s",
        "FAKE_SECRET": SECRET,
        "FAKE_LOG": str(tmp_path / "browser.log"),
        "HANDOFF_TOKENS": str(tmp_path / "tokens.json"),
        "PYTHONPATH": python_path(HERE),
        **(more_env or {}),
    }


def bridge_command(
    tmp_path: Path, *server: str, extra: tuple[str, ...] = (), more_env: dict[str, str] | None = None
) -> StdioServerParameters:
    """The bridge, its stdout recorded in tmp_path/stdout.log on its way to the client, its stderr
    in tmp_path/stderr.log (its environment: `bridge_env`)."""
    bridge = shlex.join([sys.executable, "-m", "handoff.cli", "bridge", *extra, *server])
    bridge += f" 2>{shlex.quote(str(tmp_path / 'stderr.log'))}"
    record = shlex.quote(str(tmp_path / "stdout.log"))
    env = bridge_env(tmp_path, more_env)
    return StdioServerParameters(command="sh", args=["-c", f"{bridge} | tee {record}"], env=env)


@asynccontextmanager
async def bridged(client: Client) -> AsyncIterator[Client]:
    async with client:
        yield client


def browser_log(tmp_path: Path) -> str:
    log = tmp_path / "browser.log"
    return log.read_text() if log.exists() else ""


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Until `condition()` holds (something another process does), at most 60 s."""
    for _ in range(3000):
        if condition():
            return
        await anyio.sleep(0.02)
    raise AssertionError(f"{what} did not happen within 60 s")
