"""The MCP server as its own OAuth 2.1 authorization server, on the SDK's auth routes.

The SDK serves /authorize, /token and /register; this provider stores clients
and codes, sends the authorize step to a consent page that uses the same
browser login as the out-of-band pages, and issues short-lived signed access
tokens whose `sub` is the logged-in user.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    IdentityAssertionParams,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .._web import Web, message, render
from ._login import PasswordLogin

_REQUEST_LIFE = 600.0
_CODE_LIFE = 300.0


@dataclass
class _PendingAuthorization:
    client: OAuthClientInformationFull
    params: AuthorizationParams
    expires_at: float


class AuthServer(PasswordLogin):
    """Password login that also answers the SDK's OAuth authorize step (same session, same user)."""

    def __init__(
        self,
        users: dict[str, str],
        *,
        signing_key: bytes,
        issuer: str,
        pages_url: str,
        token_life: int = 3600,
    ) -> None:
        super().__init__(users)
        self._key = signing_key
        self._issuer = issuer
        self._pages_url = pages_url.rstrip("/")
        self._token_life = token_life
        self._clients: dict[str, OAuthClientInformationFull] = {}
        self._requests: dict[str, _PendingAuthorization] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._refresh: dict[str, RefreshToken] = {}

    def routes(self) -> list[BaseRoute]:
        return [
            *super().routes(),
            Route("/authorize/{request_id}", self._consent_page, methods=["GET"]),
            Route("/authorize/{request_id}", self._consent, methods=["POST"]),
        ]

    # OAuthAuthorizationServerProvider

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self._clients.get(client_id)

    def add_client(self, client_info: OAuthClientInformationFull) -> None:
        """Register a client up front (a confidential one, for example), as configuration."""
        assert client_info.client_id is not None
        self._clients[client_info.client_id] = client_info

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        self._clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        request_id = secrets.token_urlsafe(24)
        self._requests[request_id] = _PendingAuthorization(client, params, time.time() + _REQUEST_LIFE)
        return f"{self._pages_url}/authorize/{request_id}"

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        code = self._codes.get(authorization_code)
        if code is None or code.client_id != client.client_id or code.expires_at < time.time():
            return None
        return code

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        if self._codes.pop(authorization_code.code, None) is None:
            raise TokenError(error="invalid_grant", error_description="authorization code was already used")
        assert authorization_code.subject is not None
        return self._issue(
            authorization_code.subject, client, authorization_code.scopes, authorization_code.resource
        )

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        token = self._refresh.get(refresh_token)
        if token is None or token.client_id != client.client_id:
            return None
        return token

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        if self._refresh.pop(refresh_token.token, None) is None:
            raise TokenError(error="invalid_grant", error_description="refresh token was already used")
        assert refresh_token.subject is not None
        return self._issue(
            refresh_token.subject, client, scopes or refresh_token.scopes, refresh_token.resource
        )

    async def load_access_token(self, token: str) -> AccessToken | None:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=self._issuer,
                options={"require": ["exp", "sub", "iss"], "verify_aud": False},
            )
        except jwt.InvalidTokenError:
            return None
        return AccessToken(
            token=token,
            client_id=claims["client_id"],
            scopes=claims.get("scope", "").split(),
            expires_at=claims["exp"],
            resource=claims.get("aud"),
            subject=claims["sub"],
            claims={"iss": claims["iss"]},
        )

    async def exchange_identity_assertion(
        self, client: OAuthClientInformationFull, params: IdentityAssertionParams
    ) -> OAuthToken:
        raise TokenError(
            error="unsupported_grant_type", error_description="identity assertions are not accepted"
        )

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        if isinstance(token, RefreshToken):
            self._refresh.pop(token.token, None)

    def _issue(
        self, subject: str, client: OAuthClientInformationFull, scopes: list[str], resource: str | None
    ) -> OAuthToken:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": subject,
            "client_id": client.client_id,
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + self._token_life,
            "jti": secrets.token_urlsafe(12),
        }
        if resource:
            claims["aud"] = resource
        refresh = secrets.token_urlsafe(32)
        assert client.client_id is not None
        self._refresh[refresh] = RefreshToken(
            token=refresh, client_id=client.client_id, scopes=scopes, subject=subject, resource=resource
        )
        return OAuthToken(
            access_token=jwt.encode(claims, self._key, algorithm="HS256"),
            expires_in=self._token_life,
            scope=" ".join(scopes) or None,
            refresh_token=refresh,
        )

    # Consent page

    def _pending(self, request_id: str) -> _PendingAuthorization | None:
        pending = self._requests.get(request_id)
        if pending is None or pending.expires_at < time.time():
            return None
        return pending

    async def _consent_page(self, request: Request) -> Response:
        web = Web.of(request)
        request_id = request.path_params["request_id"]
        pending = self._pending(request_id)
        if pending is None:
            return message(
                web.root,
                404,
                title="Sign-in link expired",
                text="This sign-in request is unknown or has expired. Start again from your MCP client.",
            )
        user = await self.current(request)
        if user is None:
            login = self.login_url(request, f"{web.root}/authorize/{request_id}")
            assert login is not None
            return RedirectResponse(login, status_code=303)
        browser_id = web.browser_id(request)
        assert browser_id is not None
        return render(
            "consent.html",
            root=web.root,
            request_id=request_id,
            user=user,
            client_name=pending.client.client_name or pending.client.client_id,
            scopes=pending.params.scopes or [],
            csrf=web.cookie.csrf_token(browser_id, f"authorize:{request_id}"),
        )

    async def _consent(self, request: Request) -> Response:
        web = Web.of(request)
        request_id = request.path_params["request_id"]
        form = await request.form()
        user = await self.current(request)
        if user is None or not web.cookie.csrf_ok(request, form.get("csrf"), f"authorize:{request_id}"):
            return message(web.root, 400, title="Form expired", text="Please start the sign-in again.")
        pending = self._requests.pop(request_id, None)
        if pending is None or pending.expires_at < time.time():
            return message(
                web.root,
                404,
                title="Sign-in link expired",
                text="This sign-in request is unknown or has expired. Start again from your MCP client.",
            )
        redirect_uri = str(pending.params.redirect_uri)
        if form.get("decision") != "allow":
            target = construct_redirect_uri(redirect_uri, error="access_denied", state=pending.params.state)
            return RedirectResponse(target, status_code=303)
        code = secrets.token_urlsafe(32)
        assert pending.client.client_id is not None
        self._codes[code] = AuthorizationCode(
            code=code,
            scopes=pending.params.scopes or [],
            expires_at=time.time() + _CODE_LIFE,
            client_id=pending.client.client_id,
            code_challenge=pending.params.code_challenge,
            redirect_uri=pending.params.redirect_uri,
            redirect_uri_provided_explicitly=pending.params.redirect_uri_provided_explicitly,
            resource=pending.params.resource,
            subject=user,
        )
        target = construct_redirect_uri(redirect_uri, code=code, state=pending.params.state, iss=self._issuer)
        return RedirectResponse(target, status_code=303)
