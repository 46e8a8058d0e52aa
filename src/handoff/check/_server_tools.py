"""Finding a gated tool: call the server's tools (or the one named) until one asks for a browser step.

Arguments come from each tool's input schema (the required properties, given plain test values).
Tools that may be destructive by their annotations are never called unless named with --tool:
`destructiveHint: true`, or `readOnlyHint: false` without `destructiveHint` (whose default is then
true). Read-only tools are tried first, then the rest (tools without annotations among them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.shared.exceptions import MCPError
from mcp_types import URL_ELICITATION_REQUIRED, ElicitRequestURLParams, InputRequiredResult, Tool

from ._server_target import Gated
from ._server_wire import Connection

CALL_TIMEOUT = 30.0


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


async def find_gated(
    connection: Connection, tool: str | None, arguments: dict[str, Any] | None, *, modern: bool
) -> Found:
    """The first tool that asks for a browser step; `connection` declares URL mode and declines
    elicitation/create (so a tool asking in-call ends at once)."""
    listed = await connection.client.list_tools()
    tools = {t.name: t for t in listed.tools}
    if tool is not None:
        candidates = [tools[tool]] if tool in tools else []
    else:
        candidates = sorted((t for t in listed.tools if not may_destroy(t)), key=lambda t: not _read_only(t))
    asked: list[ElicitRequestURLParams] = []
    tried: list[str] = []
    found: Gated | None = None
    for candidate in candidates:
        args = arguments if (tool is not None and arguments is not None) else arguments_for(candidate)
        before = len(connection.requests)
        tried.append(candidate.name)
        delivery = None
        try:
            result = await connection.call(candidate.name, args, CALL_TIMEOUT)
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
            break
    return Found(found, asked, tried, list(tools))
