"""The configuration that puts `handoff bridge URL` in front of a client, as each client reads it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

CLIENTS = ("claude-desktop", "claude-code", "codex", "cursor", "vscode")
WHERE = {
    "claude-desktop": "claude_desktop_config.json (Settings > Developer > Edit Config), under mcpServers",
    "claude-code": "run this command",
    "codex": "~/.codex/config.toml",
    "cursor": "~/.cursor/mcp.json, or .cursor/mcp.json in a project",
    "vscode": ".vscode/mcp.json in a workspace (or MCP: Open User Configuration)",
}
TOOL_TIMEOUT = 600
"""Seconds Codex lets a tool call take: long enough for a person to finish in the browser."""


def executable() -> str:
    """The handoff command as an absolute path (clients start it without this shell's PATH)."""
    script = Path(sys.executable).parent / ("handoff.exe" if os.name == "nt" else "handoff")
    if script.exists():
        return str(script.absolute())
    return shutil.which("handoff") or "handoff"


def server_name(url: str) -> str:
    """A name for the server in the client's list: its host, in letters, digits and dashes."""
    host = urlsplit(url).hostname or "server"
    return re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-") or "server"


def config(client: str, url: str, *, accept: str = "none") -> str:
    """The snippet for `client`, exact: a JSON or TOML document, or the command line to run."""
    command = executable()
    args = ["bridge", *(["--accept", accept] if accept != "none" else []), url]
    name = server_name(url)
    if client == "claude-code":
        return shlex.join(["claude", "mcp", "add", name, "--", command, *args])
    if client == "codex":
        return (
            f"[mcp_servers.{json.dumps(name)}]\n"
            f"command = {json.dumps(command)}\n"
            f"args = {json.dumps(args)}\n"
            f"tool_timeout_sec = {TOOL_TIMEOUT}\n"
        )
    entry: dict[str, object] = {"command": command, "args": args}
    if client == "vscode":
        return json.dumps({"servers": {name: {"type": "stdio", **entry}}}, indent=2)
    return json.dumps({"mcpServers": {name: entry}}, indent=2)
