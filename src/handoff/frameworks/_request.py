"""One `tools/call` as handoff sees it, whichever framework served it, and the framework behind it."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from mcp.server.context import ServerRequestContext
from mcp.server.elicitation import UrlElicitationResult, elicit_url
from mcp.shared.exceptions import MCPError
from mcp_types import ClientCapabilities, InputResponseRequestParams, InputResponses

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .._handoff import Handoff


class Refusal(Exception):
    """A gated call cannot run now, in words for the person: the framework turns it into its own tool
    error (a result with `isError`, never a protocol error)."""


class Framework(Protocol):
    """What differs between the server frameworks handoff serves tools on."""

    name: str

    def context_types(self) -> tuple[type, ...]:
        """The context classes this framework injects into a tool by annotation."""
        ...

    def request(self, ctx: Any) -> ToolRequest | None:
        """The call `ctx` (one of `context_types`) belongs to; None if `ctx` is not this framework's."""
        ...

    def tool_error(self, refusal: Refusal) -> Exception:
        """What to raise from a tool so that the client gets `refusal` as a tool error."""
        ...

    def answer(self, error: MCPError) -> Exception:
        """What to raise from a tool so that the client gets `error` as the JSON-RPC error it is."""
        ...

    def owns(self, server: Any) -> bool:
        """Whether `server` is an MCP server of this framework."""
        ...

    def has_verified_users(self, server: Any) -> bool:
        """Whether `server` verifies an access token on every MCP request."""
        ...

    def http_app(self, handoff: Handoff, server: Any, options: dict[str, Any]) -> Starlette:
        """The server's streamable HTTP app (MCP at /mcp, with its auth routes), ready for handoff."""
        ...

    async def run_stdio(self, handoff: Handoff, server: Any) -> None:
        """Serve MCP on this process's stdin and stdout until the client closes them."""
        ...


@dataclass
class ToolRequest:
    """A tool call as the SDK's request context carries it (both frameworks run on the SDK's low-level
    server): params, session, protocol version, the HTTP request; plus the server's name."""

    context: ServerRequestContext[Any, Any]
    server: str
    framework: Framework = field(repr=False)

    @property
    def params(self) -> dict[str, Any]:
        """The raw `tools/call` params (name, arguments, and a retry's `requestState`)."""
        params = self.context.params
        return dict(params) if isinstance(params, Mapping) else {}

    @functools.cached_property
    def _input(self) -> InputResponseRequestParams:
        return InputResponseRequestParams.model_validate(self.params)

    @property
    def request_state(self) -> str | None:
        """The `requestState` a 2026-07-28 retry echoes (the SDK's own envelope already opened)."""
        return self._input.request_state

    @property
    def input_responses(self) -> InputResponses | None:
        return self._input.input_responses

    @property
    def protocol_version(self) -> str:
        return self.context.protocol_version

    @property
    def session(self) -> Any:
        """The SDK session: where a 2025-11-25 completion notice goes."""
        return self.context.session

    @property
    def client_capabilities(self) -> ClientCapabilities | None:
        capabilities: ClientCapabilities | None = self.context.session.client_capabilities
        return capabilities

    @property
    def remote(self) -> str | None:
        client = getattr(self.context.request, "client", None)
        return getattr(client, "host", None)

    async def elicit_url(self, message: str, url: str, elicitation_id: str) -> UrlElicitationResult:
        """Send `elicitation/create` in url mode inside this call (2025-11-25)."""
        return await elicit_url(
            session=self.context.session,
            message=message,
            url=url,
            elicitation_id=elicitation_id,
            related_request_id=self.context.request_id,
        )
