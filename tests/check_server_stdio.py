"""handoff's own MCP server on stdio, for `handoff check server -- python check_server_stdio.py [DIR]`.

A single-user server as a person runs one on their machine: the MCP side over stdin/stdout (its
user is whoever runs it, `LocalUser`), the pages on a loopback port of its own (chosen afresh by
each process) behind `LocalIdentity`, which asks the browser for the passphrase whose hash is in
$CHECK_PASSPHRASE_FILE. With DIR it keeps everything in DIR/handoff.db (SQLite: one process at a
time claims the file, so a second process beside the first refuses to start); without, in memory.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

from handoff import Handoff, Keyring, LocalIdentity


def build(public_url: str, data: Path | None) -> tuple[Handoff, MCPServer]:
    options = {
        "public_url": public_url,
        "browser": LocalIdentity.from_file(os.environ["CHECK_PASSPHRASE_FILE"]),
        "secret_key": bytes.fromhex(os.environ["CHECK_SECRET_KEY"]),
        "keyring": Keyring.from_env(),
    }
    if data is None:
        handoff = Handoff.in_memory(**options)
    else:
        handoff = Handoff.embedded(db_path=data / "handoff.db", **options)
    mcp = MCPServer(
        "stdio-handoff", request_state_security=handoff.request_state_security(), log_level="WARNING"
    )

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
    @handoff.requires_secret("weather_key", label="Weather API key")
    async def forecast(city: str) -> str:
        """The weather in a city, fetched with the person's API key."""
        return f"Sunny in {city} (key ending …{handoff.secret('weather_key')[-4:]})"

    @mcp.tool(annotations=ToolAnnotations(destructive_hint=True))
    @handoff.requires_approval("payment", label="Send a payment")
    async def pay(amount: str) -> str:
        """Pay an amount, once a person approved it."""
        return f"paid {amount}"

    @mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
    @handoff.requires_approval("diary", label="Read your diary")
    async def read_diary(day: str = "today") -> str:
        """A day's entry of the person's diary, each time they approve."""
        return f"nothing happened {day}"

    return handoff, mcp


async def main(data: Path | None) -> None:
    pages_socket = socket.socket()
    pages_socket.bind(("127.0.0.1", 0))  # a port of its own for each process
    port = pages_socket.getsockname()[1]
    handoff, mcp = build(f"http://127.0.0.1:{port}", data)
    await handoff.serve_stdio(mcp, sock=pages_socket)


if __name__ == "__main__":
    anyio.run(main, Path(sys.argv[1]) if len(sys.argv) > 1 else None)
