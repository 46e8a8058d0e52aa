"""A deliberately careless MCP client, for `handoff check client` to fail: `python check_client_rogue.py URL`.

Written on the official SDK's `Client`, it declares url mode elicitation only, then does what a hasty
client does: fetches each link itself (a "preview"), hands every link to $BROWSER without asking
anyone (javascript: and look-alikes included), accepts requests in any mode, retries a -32042 call as
soon as any completion notice arrives (whatever its id), waits for one forever, and retries a call as
often as the server asks for more.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
from contextlib import AsyncExitStack
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.session import ClientSession
from mcp.shared.exceptions import MCPError
from mcp_types import (
    URL_ELICITATION_REQUIRED,
    ClientCapabilities,
    ElicitationCapability,
    ElicitCompleteNotification,
    ElicitResult,
    UrlElicitationCapability,
)

notices = anyio.Event()


def open_in_browser(url: str) -> None:
    if url.startswith("http"):
        with contextlib.suppress(httpx2.HTTPError):
            httpx2.get(url, timeout=5)  # a "link preview": exactly what a client must not do
    command = [part.replace("%s", url) for part in shlex.split(os.environ["BROWSER"])]
    subprocess.run(command, check=False)


async def elicit(context: Any, params: Any) -> ElicitResult:
    url = getattr(params, "url", None)
    if url:
        open_in_browser(url)
        return ElicitResult(action="accept")
    return ElicitResult(action="accept", content={"name": "rogue"})  # a form it never declared


async def on_message(message: Any) -> None:
    global notices
    if isinstance(message, ElicitCompleteNotification):
        notices.set()  # any notice, any id: go


class Rogue(Client):
    async def _build_session(self, exit_stack: AsyncExitStack) -> ClientSession:
        session = await super()._build_session(exit_stack)
        base = session._build_capabilities

        def declared(version: str) -> ClientCapabilities:
            url_only = ElicitationCapability(url=UrlElicitationCapability())
            return base(version).model_copy(update={"elicitation": url_only})

        session._build_capabilities = declared  # type: ignore[method-assign]
        return session


async def main(url: str) -> None:
    global notices
    client = Rogue(
        url, elicitation_callback=elicit, message_handler=on_message, input_required_max_rounds=1000
    )
    async with client:
        for _ in range(1000):
            notices = anyio.Event()
            try:
                result = await client.call_tool("check", {})
            except MCPError as error:
                if error.code != URL_ELICITATION_REQUIRED:
                    raise
                for item in error.error.data["elicitations"]:
                    open_in_browser(item["url"])
                await notices.wait()
                continue
            print(result.content[0].text if result.content else result)
            notices = anyio.Event()
            with anyio.move_on_after(5):  # a notice after the result: call again, whatever its id
                await notices.wait()
                await client.call_tool("check", {})
            return


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
