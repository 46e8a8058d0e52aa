"""An external OpenID Connect provider as the source of identity, on both sides.

MCP side: `JwtVerifier` accepts the provider's JWT access tokens, checked against its JWKS.
Browser side: `OidcLogin` signs the person in at the same provider (code flow, PKCE, nonce) and
keeps a server-side session, so the pages can compare its `sub` with the elicitation's principal.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

import anyio
import httpx
import jwt
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from mcp.server.auth.provider import AccessToken
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .._entries import Entries
from .._errors import ConfigError
from .._i18n import gettext as _
from .._onetime import OneTimeStore
from .._web import Web, message, safe_next
from ._sessions import BrowserSessions

_STATE_LIFE = 600.0


class Discovery:
    """The provider's metadata and signing keys, fetched once and cached."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer.rstrip("/")
        self._meta: dict[str, Any] | None = None
        self._keys: jwt.PyJWKClient | None = None
        self._lock = anyio.Lock()

    async def meta(self) -> dict[str, Any]:
        async with self._lock:
            if self._meta is None:
                url = f"{self.issuer}/.well-known/openid-configuration"
                async with httpx.AsyncClient(timeout=10) as http:
                    response = await http.get(url)
                if response.status_code != 200:
                    raise ConfigError(f"cannot read {url}: HTTP {response.status_code}")
                meta = response.json()
                if meta.get("issuer", "").rstrip("/") != self.issuer:
                    raise ConfigError(f"{url} names issuer {meta.get('issuer')!r}, not {self.issuer!r}")
                self._meta = meta
                self._keys = jwt.PyJWKClient(meta["jwks_uri"], cache_keys=True, lifespan=3600)
            return self._meta

    async def decode(self, token: str, *, audience: str | None, **options: Any) -> dict[str, Any]:
        """Verify a JWT's signature against the provider's keys, and its issuer, audience and expiry."""
        await self.meta()
        assert self._keys is not None
        keys = self._keys
        key = await anyio.to_thread.run_sync(keys.get_signing_key_from_jwt, token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=["RS256", "ES256", "PS256", "EdDSA"],
            issuer=self.issuer,
            audience=audience,
            options=cast(
                Any, {"require": ["exp", "iss", "sub"], "verify_aud": audience is not None, **options}
            ),
        )
        return claims


class JwtVerifier:
    """The SDK's `TokenVerifier` for an external provider's JWT access tokens (RFC 9068)."""

    def __init__(self, issuer: str, *, audience: str, discovery: Discovery | None = None) -> None:
        self.discovery = discovery or Discovery(issuer)
        self.audience = audience

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = await self.discovery.decode(token, audience=self.audience)
        except (jwt.PyJWTError, ConfigError, httpx.HTTPError):
            return None
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or ""),
            scopes=str(claims.get("scope", "")).split(),
            expires_at=int(claims["exp"]),
            resource=self.audience,
            subject=str(claims["sub"]),
            claims={"iss": claims["iss"]},
        )


@dataclass
class _Login:
    browser_id: str
    next_path: str
    verifier: str
    nonce: str


class OidcLogin:
    """Browser identity: sign in at the external provider; the principal is its `sub`."""

    def __init__(
        self,
        issuer: str,
        *,
        client_id: str,
        client_secret: str | None,
        discovery: Discovery | None = None,
        scopes: tuple[str, ...] = ("openid",),
    ) -> None:
        self.discovery = discovery or Discovery(issuer)
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self._logins: OneTimeStore[_Login] = OneTimeStore("oidc.login", _Login, _STATE_LIFE)
        self.sessions = BrowserSessions()

    async def current(self, request: Request) -> str | None:
        return await self.sessions.user(request)

    def keep_in(self, store: Entries) -> None:
        """Keep browser sessions and sign-ins in flight in `store`: `Handoff` calls this with its own."""
        self.sessions.keep_in(store)
        self._logins.keep_in(store)

    def login_url(self, request: Request, next_path: str) -> str | None:
        return f"{Web.of(request).root}/oidc/login?{urlencode({'next': next_path})}"

    def routes(self) -> list[BaseRoute]:
        return [Route("/oidc/login", self._start, methods=["GET"]), Route("/oidc/callback", self._callback)]

    def _client(self, web: Web) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=web.url("/oidc/callback"),
            code_challenge_method="S256",
            timeout=20,
        )

    async def _start(self, request: Request) -> Response:
        web = Web.of(request)
        browser_id = web.browser_id(request)
        assert browser_id is not None
        meta = await self.discovery.meta()
        nonce, verifier = secrets.token_urlsafe(16), generate_token(64)
        next_path = safe_next(request.query_params.get("next"), web.root)
        state = await self._logins.issue(_Login(browser_id, next_path, verifier, nonce))
        async with self._client(web) as oauth:
            url, _ = oauth.create_authorization_url(
                meta["authorization_endpoint"],
                state=state,
                code_verifier=verifier,
                nonce=nonce,
                scope=" ".join(self.scopes),
            )
        return RedirectResponse(url, status_code=303)

    async def _callback(self, request: Request) -> Response:
        web = Web.of(request)
        login = await self._logins.take(request.query_params.get("state", ""))
        if login is None or login.browser_id != web.browser_id(request):
            return message(
                request,
                400,
                title=_("Sign-in cannot be used"),
                text=_(
                    "This sign-in is unknown, was already used, expired, or was started in another browser."
                ),
                next_step=_("Open your link again to sign in."),
            )
        if request.query_params.get("error"):
            return message(
                request,
                400,
                title=_("Not signed in"),
                text=_("The sign-in was not completed."),
                next_step=_("Open your link again to sign in."),
            )
        meta = await self.discovery.meta()
        try:
            async with self._client(web) as oauth:
                answer = await oauth.fetch_token(
                    meta["token_endpoint"],
                    code=request.query_params.get("code", ""),
                    code_verifier=login.verifier,
                )
            claims = await self.discovery.decode(str(answer["id_token"]), audience=self.client_id)
        except (OAuthError, KeyError, jwt.PyJWTError, httpx.HTTPError):
            return message(
                request,
                400,
                title=_("Not signed in"),
                text=_("The identity provider's answer could not be verified."),
                next_step=_("Open your link again to sign in."),
            )
        if claims.get("nonce") != login.nonce:
            return message(
                request,
                400,
                title=_("Not signed in"),
                text=_("The sign-in did not match."),
                next_step=_("Open your link again to sign in."),
            )
        response = RedirectResponse(login.next_path, status_code=303)
        await self.sessions.end(web.browser_id(request))
        # A new browser id at sign-in, as with password login.
        web.cookie.issue(response, await self.sessions.start(str(claims["sub"])))
        return response
