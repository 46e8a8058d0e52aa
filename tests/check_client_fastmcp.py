"""A terminal MCP client on FastMCP's `Client` in `auto` mode, for `handoff check client` tests.

Usage: `python check_client_fastmcp.py URL`. The client negotiates the era itself (server/discover,
then initialize for a 2025-11-25 server), declares elicitation (form and url), and for each url
request shows the server and the full link and asks on the terminal before it opens it with the
`webbrowser` module (which honours $BROWSER); a link that is not http(s) is declined without asking.
On 2025-11-25 a -32042 call is retried once after the completion notice of its elicitation, at most
$PEER_WAIT seconds (10 by default) later; on 2026-07-28 the client answers each InputRequiredResult
through the same handler and retries by itself.

Two variants, for the checks that must tell them apart: PEER_MANUAL=1 takes no notice of
notifications and lets the person retry by hand (Enter once the browser step is done);
PEER_ANY_LINK=1 has no check of its own on links: it opens whatever the person accepts.
"""

from __future__ import annotations

import os
import sys
import webbrowser
from typing import Any
from urllib.parse import urlsplit

import anyio
from fastmcp import Client
from fastmcp.client.elicitation import ElicitResult
from mcp.shared.exceptions import MCPError
from mcp_types import URL_ELICITATION_REQUIRED, ElicitCompleteNotification, ElicitRequestURLParams

WAIT = float(os.environ.get("PEER_WAIT", "10"))
MANUAL = os.environ.get("PEER_MANUAL") == "1"
ANY_LINK = os.environ.get("PEER_ANY_LINK") == "1"
completed: dict[str, anyio.Event] = {}
prompting = anyio.Lock()


def say(text: str) -> None:
    print(text, flush=True)


async def answer(question: str) -> str:
    print(question, end="", flush=True)
    line = await anyio.to_thread.run_sync(sys.stdin.readline)
    return line.strip().lower()


async def consent_and_open(server: str, message: str, url: str) -> str:
    async with prompting:  # the SDK answers a round's requests at once; the person reads one at a time
        return await _consent_and_open(server, message, url)


async def _consent_and_open(server: str, message: str, url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https") and not ANY_LINK:
        say(f"{server} sent a {scheme or 'schemeless'}: link; only web links are opened, so it was declined.")
        return "decline"
    say(f"{server} asks you to open a link in your browser.\n  Reason: {message}\n  Link: {url}")
    if await answer("Open it? [y/N] ") not in ("y", "yes"):
        return "decline"
    webbrowser.open(url)
    return "accept"


def main(url: str) -> int:
    client: Client[Any]

    def server() -> str:
        info = client.server_info
        return f"{info.name if info and info.name else 'The server'} ({url})"

    async def elicit(message: str, response_type: Any, params: Any, context: Any) -> ElicitResult[Any]:
        if isinstance(params, ElicitRequestURLParams):
            return ElicitResult(action=await consent_and_open(server(), message, params.url))
        return ElicitResult(action="decline")  # no form is filled in here

    async def on_message(message: Any) -> None:
        if isinstance(message, ElicitCompleteNotification):
            event = completed.get(message.params.elicitation_id)
            if event is not None:  # unknown ids, and ids already completed, are ignored
                event.set()

    async def run() -> int:
        nonlocal client
        client = Client(url, elicitation_handler=elicit, message_handler=on_message, mode="auto")
        asked: set[str] = set()
        async with client:
            for _round in range(4):
                try:
                    result = await client.call_tool("check", {})
                except MCPError as error:
                    if error.code != URL_ELICITATION_REQUIRED:
                        say(f"Not run: {error}")
                        return 1
                    items = (error.error.data or {}).get("elicitations", [])
                    if any(item["elicitationId"] in asked for item in items):
                        say("Not run: the server asked again for a step already opened")
                        return 1
                    for item in items:
                        asked.add(item["elicitationId"])
                        completed[item["elicitationId"]] = anyio.Event()
                        if await consent_and_open(server(), item["message"], item["url"]) != "accept":
                            say("Not run: declined, so the tool was not run")
                            return 1
                    if MANUAL:
                        await answer("Press Enter once you are done in your browser. ")
                        continue
                    with anyio.move_on_after(WAIT) as waited:
                        for item in items:
                            await completed[item["elicitationId"]].wait()
                    if waited.cancelled_caught:
                        say(f"Not run: no completion notice within {WAIT:g} s")
                        return 1
                    continue
                say(" ".join(getattr(block, "text", "") for block in result.content))
                return 0
        say("Not run: too many rounds")
        return 1

    return anyio.run(run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
