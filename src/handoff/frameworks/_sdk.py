"""The official SDK's `MCPServer`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError

from ._request import Refusal, ToolRequest

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .._handoff import Handoff


class SdkFramework:
    """`mcp.server.mcpserver.MCPServer`: tools get its `Context`; errors are its `ToolError`."""

    name = "sdk"

    def context_types(self) -> tuple[type, ...]:
        return (Context,)

    def request(self, ctx: Any) -> ToolRequest | None:
        if not isinstance(ctx, Context):
            return None
        server = ctx.mcp_server
        return ToolRequest(ctx.request_context, str(server.name or ""), self)

    def tool_error(self, refusal: Refusal) -> Exception:
        return ToolError(str(refusal))

    def answer(self, error: MCPError) -> Exception:
        return error  # MCPServer lets an MCPError through as it is

    def owns(self, server: Any) -> bool:
        return isinstance(server, MCPServer)

    def has_verified_users(self, server: Any) -> bool:
        return getattr(server.settings, "auth", None) is not None

    def http_app(self, handoff: Handoff, server: Any, options: dict[str, Any]) -> Starlette:
        app: Starlette = server.streamable_http_app(**options)
        return app

    async def run_stdio(self, handoff: Handoff, server: Any) -> None:
        await server.run_stdio_async()
