"""Finding a gated tool: call the server's tools (or the one named) until one asks for a browser step.

Arguments come from each tool's input schema (the required properties, given plain test values).
Tools that may be destructive by their annotations are never called unless named with --tool:
`destructiveHint: true`, or `readOnlyHint: false` without `destructiveHint` (whose default is then
true). Read-only tools are tried first, then the rest (tools without annotations among them). At most
`max_tools` are called, each with a short bound (a tool that asks for a browser step asks at once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.shared.exceptions import MCPError
from mcp_types import URL_ELICITATION_REQUIRED, ElicitRequestURLParams, InputRequiredResult, Tool

from ._server_target import Gated
from ._server_wire import Connection, WireStopped

CALL_TIMEOUT = 30.0
PROBE_TIMEOUT = 10.0
"""Seconds for a tool not named with --tool to answer while looking for a gated one."""
MAX_TOOLS = 5


def arguments_for(tool: Tool) -> dict[str, Any]:
    """Test arguments for a tool: each required property, its default or a plain value of its type."""
    schema = tool.input_schema or {}
    properties: dict[str, Any] = schema.get("properties", {})
    arguments: dict[str, Any] = {}
    for name in schema.get("required", []):
        spec = properties.get(name, {})
        if "default" in spec:
            arguments[name] = spec["default"]
        elif spec.get("enum"):
            arguments[name] = spec["enum"][0]
        else:
            kind = spec.get("type", "string")
            kind = kind[0] if isinstance(kind, list) else kind
            values: dict[str, Any] = {"integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}
            arguments[name] = values.get(kind, "handoff-check")
    return arguments


def may_destroy(tool: Tool) -> bool:
    """Whether the tool's annotations say calling it may destroy something (the spec's defaults)."""
    hints = tool.annotations
    if hints is None or hints.read_only_hint:
        return False
    if hints.destructive_hint is not None:
        return hints.destructive_hint
    return hints.read_only_hint is False  # not read-only, and destructive unless it says otherwise


def _read_only(tool: Tool) -> bool:
    return tool.annotations is not None and tool.annotations.read_only_hint is True


@dataclass
class Found:
    gated: Gated | None
    """The tool the era's checks use."""
    asked: list[ElicitRequestURLParams]
    """Every elicitation/create in url mode seen while looking (checked for its parameters)."""
    tried: list[str]
    listed: list[str]
    """The names of every tool the server lists."""
    not_called: list[str] = field(default_factory=list)
    """The tools left out past `max_tools`."""

    def none_found(self, max_tools: int) -> str:
        """Why no gated tool was found."""
        tried = ", ".join(self.tried) or "none"
        why = f"no tool asked for a browser step (tried: {tried}"
        if self.not_called:
            why += f"; not called, past --max-tools {max_tools}: {', '.join(self.not_called)}"
        return why + "); name one with --tool"


async def find_gated(
    connection: Connection,
    tool: str | None,
    arguments: dict[str, Any] | None,
    *,
    modern: bool,
    list_timeout: float,
    max_tools: int = MAX_TOOLS,
    doing: Callable[[str], None] = lambda _what: None,
) -> Found:
    """The first tool that asks for a browser step, calling at most `max_tools`; `connection`
    declares URL mode and declines elicitation/create (so a tool asking in-call ends at once). The
    tool list must come within `list_timeout` seconds (TimeoutError)."""
    try:
        with anyio.fail_after(list_timeout):
            listed = await connection.client.list_tools()
    except TimeoutError:
        raise WireStopped(f"the server did not list its tools within {list_timeout:g} s") from None
    tools = {t.name: t for t in listed.tools}
    if tool is not None:
        candidates = [tools[tool]] if tool in tools else []
    else:
        candidates = sorted((t for t in listed.tools if not may_destroy(t)), key=lambda t: not _read_only(t))
    asked: list[ElicitRequestURLParams] = []
    tried: list[str] = []
    found: Gated | None = None
    not_called = [c.name for c in candidates[max_tools:]]
    timeout = CALL_TIMEOUT if tool is not None else PROBE_TIMEOUT
    for candidate in candidates[:max_tools]:
        args = arguments if (tool is not None and arguments is not None) else arguments_for(candidate)
        before = len(connection.requests)
        tried.append(candidate.name)
        doing(f"while calling {candidate.name}, looking for a gated tool")
        delivery = None
        try:
            result = await connection.call(candidate.name, args, timeout)
            if isinstance(result, InputRequiredResult):
                delivery = "input_required"
        except MCPError as exc:
            if exc.code == URL_ELICITATION_REQUIRED and not modern:
                delivery = "error"
        except TimeoutError:
            pass
        new = [r for r in connection.requests[before:] if isinstance(r, ElicitRequestURLParams)]
        asked += new
        if new and delivery is None and not modern:
            delivery = "request"
        if delivery is not None and found is None:
            found = Gated(candidate.name, args, delivery, candidate.input_schema or {})
        if found is not None and (modern or asked or tool is not None):
            not_called = []  # what is left was not needed
            break
    return Found(found, asked, tried, list(tools), not_called)
