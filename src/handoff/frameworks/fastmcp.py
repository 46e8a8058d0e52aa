"""FastMCP (4.1.2 and later): the same decorators, both eras, and handoff's own sign-in on FastMCP.

`handoff.app(server, **options)` is FastMCP's own streamable HTTP app (`server.http_app(path="/mcp",
**options)`, with FastMCP's auth routes and middleware) with `HandoffMiddleware` installed on the
server and the pages mounted beside it. `AuthServerProvider(auth)` makes the built-in `AuthServer` the
server's `auth=`; any FastMCP token verifier whose access tokens carry the user's `sub` (its
`JWTVerifier`, or a `RemoteAuthProvider` around one) works too, with `OidcLogin` for the pages.
"""

from __future__ import annotations

import contextvars
import logging
from typing import TYPE_CHECKING, Any

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.server.auth import OAuthProvider
from fastmcp.server.context import Context
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
)
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolRequestParams
from pydantic import AnyHttpUrl, ConfigDict, TypeAdapter

from ._request import Refusal, ToolRequest

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .._handoff import Handoff
    from ..identity import AuthServer

__all__ = ["AuthServerProvider", "HandoffMiddleware"]

_URL = TypeAdapter(AnyHttpUrl, config=ConfigDict(url_preserve_empty_path=True))

_served: contextvars.ContextVar[bool] = contextvars.ContextVar("handoff_fastmcp_middleware", default=False)
"""Whether this call passed through `HandoffMiddleware`."""


class _Answer(ToolError):
    """A JSON-RPC error a gated tool answers with. FastMCP turns any other exception a tool raises into
    a tool error (and logs it as a failure); a FastMCP error it passes up as it is, where
    `HandoffMiddleware` takes the protocol's error back out."""

    def __init__(self, error: MCPError) -> None:
        super().__init__(error.error.message, log_level=logging.DEBUG)
        self.error = error


class HandoffMiddleware(Middleware):
    """FastMCP middleware that lets a gated tool answer with a JSON-RPC error where the protocol asks
    for one: -32042 (URL elicitation required) on 2025-11-25, -32602 for a refused `requestState` on
    2026-07-28. Any other error of any tool stays exactly as FastMCP reports it."""

    async def on_call_tool(
        self,
        context: MiddlewareContext[CallToolRequestParams],
        call_next: CallNext[CallToolRequestParams, Any],
    ) -> Any:
        token = _served.set(True)
        try:
            return await call_next(context)
        except _Answer as answer:
            raise answer.error from None
        finally:
            _served.reset(token)


class FastMcpFramework:
    """`fastmcp.FastMCP`: tools get its `Context`; errors are its `ToolError`."""

    name = "fastmcp"

    def context_types(self) -> tuple[type, ...]:
        return (Context,)

    def request(self, ctx: Any) -> ToolRequest | None:
        if not isinstance(ctx, Context):
            return None
        if not _served.get():
            raise ToolError(
                "This FastMCP server serves handoff's tools without handoff's middleware, so it cannot "
                "ask for what the tool needs: serve it with handoff.app(server), or add "
                "HandoffMiddleware() (from handoff.frameworks.fastmcp) to the server."
            )
        wrapper = ctx.request_context
        if wrapper is None:
            raise ToolError("This tool can only be called over an MCP connection.")
        return ToolRequest(wrapper._srctx, str(ctx.fastmcp.name or ""), self)

    def tool_error(self, refusal: Refusal) -> Exception:
        return ToolError(str(refusal), log_level=logging.INFO)

    def answer(self, error: MCPError) -> Exception:
        return _Answer(error)

    def owns(self, server: Any) -> bool:
        return isinstance(server, FastMCP)

    def has_verified_users(self, server: Any) -> bool:
        return getattr(server, "auth", None) is not None

    def http_app(self, handoff: Handoff, server: Any, options: dict[str, Any]) -> Starlette:
        _install(server)
        options = {k: v for k, v in options.items() if k != "host"}  # FastMCP guards hosts itself
        options.setdefault("path", "/mcp")
        app: Starlette = server.http_app(**options)
        return app

    async def run_stdio(self, handoff: Handoff, server: Any) -> None:
        _install(server)
        await server.run_stdio_async(show_banner=False)


def _install(server: Any) -> None:
    """Let the protocol's own errors through the server's tool-error handling (see HandoffMiddleware)."""
    if not any(isinstance(m, HandoffMiddleware) for m in server.middleware):
        server.add_middleware(HandoffMiddleware())


class AuthServerProvider(OAuthProvider):
    """The built-in `AuthServer` as a FastMCP auth provider: the FastMCP server is its own OAuth
    authorization server (`/authorize`, `/token`, `/register`, `/revoke`, and the metadata FastMCP
    serves), and every MCP request carries an access token it issued, checked for this endpoint
    (`aud`), its expiry and its grant (revoked grants are refused). One browser sign-in serves the
    OAuth consent and handoff's pages."""

    def __init__(self, auth: AuthServer, *, required_scopes: list[str] | None = None) -> None:
        base = auth._issuer
        super().__init__(
            base_url=base,
            issuer_url=base,
            client_registration_options=ClientRegistrationOptions(enabled=True),
            revocation_options=RevocationOptions(enabled=True),
            required_scopes=required_scopes,
        )
        # The issuer as the tokens and the authorization responses name it (`iss`), compared as exact
        # strings: without the trailing slash `AnyHttpUrl(...)` adds to a URL without a path.
        self.issuer_url = _URL.validate_python(base)
        self.auth = auth

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return await self.auth.get_client(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        await self.auth.register_client(client_info)

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        return await self.auth.authorize(client, params)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        return await self.auth.load_authorization_code(client, authorization_code)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        return await self.auth.exchange_authorization_code(client, authorization_code)

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        return await self.auth.load_refresh_token(client, refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        return await self.auth.exchange_refresh_token(client, refresh_token, scopes)

    async def load_access_token(self, token: str) -> AccessToken | None:  # type: ignore[override]
        return await self.auth.load_access_token(token)

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        await self.auth.revoke_token(token)
