"""Finding a gated tool: call the server's tools (or the one named) until one asks for a browser step.

Arguments come from each tool's input schema (the required properties, given plain test values).
Unless --tool names one, only tools whose annotations say they are safe to call are called: MCP's
defaults are `readOnlyHint: false` and `destructiveHint: true`, so a tool is called unasked when it is
annotated `readOnlyHint: true` or `destructiveHint: false`; with --call-unannotated, also a tool that
has no hints at all. Read-only tools are tried first. At most `max_tools` are called, each with a
short bound (a tool that asks for a browser step asks at once).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.shared.exceptions import MCPError
from mcp_types import URL_ELICITATION_REQUIRED, InputRequiredResult, Tool

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


def safe_to_call(tool: Tool, *, unannotated: bool = False) -> bool:
    """Whether the checker may call `tool` unasked: its annotations say it only reads, or that it
    destroys nothing; with `unannotated`, also when it gives neither hint."""
    hints = tool.annotations
    if hints is not None and (hints.read_only_hint is True or hints.destructive_hint is False):
        return True
    return unannotated and (
        hints is None or (hints.read_only_hint is None and hints.destructive_hint is None)
    )


def why_not_called(tool: Tool) -> str:
    """Why `tool` is not called unasked, in a few words."""
    hints = tool.annotations
    if hints is not None and hints.destructive_hint is True:
        return "destructiveHint: true"
    if hints is not None and hints.read_only_hint is False:
        return "readOnlyHint: false"
    return "no safety hints"


def carries_elicitations(error: MCPError) -> bool:
    """Whether a JSON-RPC error carries URL mode elicitations in its data, whatever its code."""
    data = error.error.data
    entries = data.get("elicitations") if isinstance(data, dict) else None
    return isinstance(entries, list) and any(isinstance(e, dict) and e.get("mode") == "url" for e in entries)


def _read_only(tool: Tool) -> bool:
    return tool.annotations is not None and tool.annotations.read_only_hint is True


@dataclass
class Found:
    gated: Gated | None
    """The tool the era's checks use."""
    asked: list[dict[str, Any]]
    """The params of every elicitation/create in url mode seen while looking, as sent (checked for
    what they carry)."""
    tried: list[str]
    listed: list[str]
    """The names of every tool the server lists."""
    not_called: list[str] = field(default_factory=list)
    """The tools left out past `max_tools`."""
    unsafe: list[str] = field(default_factory=list)
    """The tools not called because their annotations do not say they are safe to call."""

    def none_found(self, max_tools: int) -> str:
        """Why no gated tool was found."""
        tried = ", ".join(self.tried) or "none"
        why = f"no tool asked for a browser step (tried: {tried}"
        if self.not_called:
            why += f"; not called, past --max-tools {max_tools}: {', '.join(self.not_called)}"
        if self.unsafe:
            why += f"; not called, as their annotations do not say they are safe: {', '.join(self.unsafe)}"
        hint = "; name one with --tool"
        if any(u.endswith("(no safety hints)") for u in self.unsafe):
            hint += ", or pass --call-unannotated"
        return why + ")" + hint


async def find_gated(
    connection: Connection,
    tool: str | None,
    arguments: dict[str, Any] | None,
    *,
    modern: bool,
    list_timeout: float,
    max_tools: int = MAX_TOOLS,
    unannotated: bool = False,
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
    unsafe: list[str] = []
    if tool is not None:
        candidates = [tools[tool]] if tool in tools else []
    else:
        candidates, unsafe = callable_tools(listed.tools, unannotated=unannotated)
    asked: list[dict[str, Any]] = []
    tried: list[str] = []
    found: Gated | None = None
    not_called = [c.name for c in candidates[max_tools:]]
    timeout = CALL_TIMEOUT if tool is not None else PROBE_TIMEOUT
    for candidate in candidates[:max_tools]:
        args = arguments if (tool is not None and arguments is not None) else arguments_for(candidate)
        before = len(connection.url_requests())
        tried.append(candidate.name)
        doing(f"while calling {candidate.name}, looking for a gated tool")
        delivery = None
        try:
            result = await connection.call(candidate.name, args, timeout)
            if isinstance(result, InputRequiredResult):
                delivery = "input_required"
        except MCPError as exc:
            if not modern and (exc.code == URL_ELICITATION_REQUIRED or carries_elicitations(exc)):
                delivery = "error"  # a wrong code with URL elicitations in its data is judged later
        except TimeoutError:
            pass
        new = connection.url_requests()[before:]
        asked += new
        if new and delivery is None and not modern:
            delivery = "request"
        if delivery is not None and found is None:
            found = Gated(candidate.name, args, delivery, candidate.input_schema or {})
        if found is not None and (modern or asked or tool is not None):
            not_called = []  # what is left was not needed
            break
    return Found(found, asked, tried, list(tools), not_called, unsafe)


def callable_tools(tools: list[Tool], *, unannotated: bool) -> tuple[list[Tool], list[str]]:
    """The tools the checker may call unasked, in the order it tries them (read-only first), and the
    others, each named with why it is not called."""
    safe = sorted(
        (t for t in tools if safe_to_call(t, unannotated=unannotated)), key=lambda t: not _read_only(t)
    )
    unsafe = [t for t in tools if t not in safe]
    return safe, [f"{t.name} ({why_not_called(t)})" for t in unsafe]
