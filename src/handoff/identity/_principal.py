"""Who is calling on the MCP side: always from verified credentials, never from what a client says."""

from __future__ import annotations

from typing import Any, Protocol

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken


class McpIdentity(Protocol):
    """Maps the request a tool runs in to a principal, or None when nobody is authenticated."""

    def principal(self, request_context: Any) -> str | None: ...

    def client_id(self, request_context: Any) -> str | None: ...


def access_token(request_context: Any) -> AccessToken | None:
    """The access token the bearer middleware verified for this request, if any."""
    request = getattr(request_context, "request", None)
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        user = scope.get("user")
        if isinstance(user, AuthenticatedUser):
            return user.access_token
    return get_access_token()


class TokenSubject:
    """The principal is the verified access token's subject (`sub`).

    Pass `issuer=True` when several issuers share one server, so that equal
    subjects from different issuers stay different principals.
    """

    def __init__(self, *, issuer: bool = False) -> None:
        self.issuer = issuer

    def principal(self, request_context: Any) -> str | None:
        token = access_token(request_context)
        if token is None or not token.subject:
            return None
        if self.issuer:
            iss = (token.claims or {}).get("iss")
            return f"{iss}#{token.subject}" if iss else token.subject
        return token.subject

    def client_id(self, request_context: Any) -> str | None:
        token = access_token(request_context)
        return token.client_id if token else None


class LocalUser:
    """A loopback-only, single-user server: every caller is the one local principal."""

    def __init__(self, name: str = "local") -> None:
        self.name = name

    def principal(self, request_context: Any) -> str | None:
        return self.name

    def client_id(self, request_context: Any) -> str | None:
        return None
