"""The one place where the server framework differs: the SDK's `MCPServer`, or FastMCP.

The gate adds a context parameter that every framework in use injects (and leaves out of the tool's
schema), then turns whatever context arrived into a `ToolRequest`: the SDK's per-request context,
which both frameworks carry, and the server's name. Gate, needs and eras only ever see that, raise
`Refusal` for a tool error, and never import a framework; `handoff.app(server)` asks the framework
of `server` for its HTTP app.

FastMCP is looked at only once the program imported it (a FastMCP server's module does so before it
declares a tool): a server written for the SDK never loads FastMCP.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable
from typing import Any

from .._errors import ConfigError
from ._request import Framework, Refusal, ToolRequest

__all__ = [
    "Framework",
    "Refusal",
    "ToolRequest",
    "context_annotation",
    "context_parameter",
    "framework_of",
    "request_of",
]

_known: dict[str, Framework] = {}


def frameworks() -> list[Framework]:
    """The frameworks in use in this program: the SDK's always, FastMCP once it was imported."""
    if "sdk" not in _known:
        from ._sdk import SdkFramework

        _known["sdk"] = SdkFramework()
    if "fastmcp" not in _known and "fastmcp" in sys.modules:
        from .fastmcp import FastMcpFramework

        _known["fastmcp"] = FastMcpFramework()
    return list(_known.values())


def context_annotation() -> Any:
    """The annotation of the gate's own context parameter: every framework in use injects it."""
    types = [t for framework in frameworks() for t in framework.context_types()]
    annotation: Any = types[0]
    for other in types[1:]:
        annotation = annotation | other
    return annotation


def _is_context(annotation: Any, types: tuple[type, ...]) -> bool:
    candidates = [annotation, *typing.get_args(annotation)]
    return any(inspect.isclass(c) and issubclass(c, types) for c in candidates)


def context_parameter(fn: Callable[..., Any]) -> str | None:
    """The tool's own parameter annotated with a framework's context, if it declares one."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        return None
    types = tuple(t for framework in frameworks() for t in framework.context_types())
    return next((name for name, hint in hints.items() if name != "return" and _is_context(hint, types)), None)


def request_of(ctx: Any) -> ToolRequest:
    """The tool call a framework's context belongs to."""
    for framework in frameworks():
        request = framework.request(ctx)
        if request is not None:
            return request
    raise TypeError(
        f"expected the context of an MCP tool call (the SDK's or FastMCP's Context), got {type(ctx).__name__}"
    )


def framework_of(server: Any) -> Framework:
    """The framework `server` is built with, or a ConfigError naming the servers handoff can serve."""
    for framework in frameworks():
        if framework.owns(server):
            return framework
    raise ConfigError(
        f"handoff serves an MCPServer (from the mcp SDK) or a FastMCP server (fastmcp 4.1 or later), "
        f"not a {type(server).__name__}"
    )
