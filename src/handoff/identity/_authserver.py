"""The MCP server as its own OAuth 2.1 authorization server, on the SDK's auth routes.

The SDK serves /authorize, /token, /register and /revoke; this provider keeps
clients, pending sign-ins, codes, refresh tokens and consents in the store,
sends the authorize step to a consent page that uses the same browser login as
the out-of-band pages, and issues short-lived signed access tokens whose `sub`
is the signed-in user and whose `aud` is this MCP server.

What it defends against, besides the SDK's own checks: redirect URIs that are
not https, loopback http or an app's own scheme (refused at registration and
again at authorization); consent phishing (the page says where the code goes
and that a self-registered name is unverified; consent is remembered per
client and redirect URI); replayed codes and refresh tokens (the whole grant
is revoked, RFC 9700 §4.14); tokens minted for another resource (RFC 8707);
unauthenticated growth (registrations, pending sign-ins and metadata are
bounded per requester: a flood evicts the flooder's own oldest entries, never
anyone else's); and a sign-in link sent to someone else (the consent is given
only in the browser that started the request signed in, or that signed in for
this very request). On plain http, where the browser shares its cookie with
every local port, the cookie counts for nothing: every consent page asks for
the sign-in itself, for its request.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    IdentityAssertionParams,
    RefreshToken,
    RegistrationError,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import InvalidRedirectUriError, OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .._clock import issued_in_time
from .._entries import FOREVER, Entries
from .._errors import ConfigError
from .._exact import show
from .._i18n import gettext as _
from .._web import (
    BrowserCookie,
    Web,
    content_security_policy,
    message,
    read_body,
    remote_address,
    render,
    replaying,
)
from ._login import PAGE_SIGN_IN_LIFE, PasswordLogin, SignInRefused, page_sign_in
from ._redirects import destination, form_target, redirect_problem, same_redirect
from ._throttle import Throttle

logger = logging.getLogger("handoff.auth")

REQUEST_LIFE = 600.0
CODE_LIFE = 300.0
CONSENT_LIFE = 180 * 86400.0
NEW_CLIENT_LIFE = 86400.0
"""A registered client that never completes a sign-in is forgotten after a day."""
MAX_NEW_CLIENTS = 5000
"""Registered clients that have not signed in yet, from everyone together."""
MAX_NEW_CLIENTS_PER_ADDRESS = 50
"""Of those, the newest kept per address (an IPv6 /64 counts as one): a flood forgets its own oldest."""
MAX_PENDING_REQUESTS = 2000
"""Sign-ins waiting for consent, from everyone together; a signed-in browser and a client that signed in
before are not held back by it (their own bounds below keep them small)."""
MAX_PENDING_PER_CLIENT = 20
MAX_PENDING_PER_ADDRESS = 50
MAX_PENDING_PER_USER = 20
"""The newest waiting sign-ins kept per client id and per address, or per user for a browser signed in
when it started them: one more forgets that requester's oldest."""
MAX_CLIENT_NAME = 100
MAX_REDIRECT_URIS = 10
MAX_METADATA = 8192
"""Bytes of registration metadata (JSON) one client may keep."""

_CLIENT, _NEW_CLIENT = "as.client", "as.client.new"
_REQUEST, _CODE, _USED_CODE = "as.request", "as.code", "as.code.used"
_REFRESH, _USED_REFRESH, _GRANT, _CONSENT = "as.refresh", "as.refresh.used", "as.grant", "as.consent"
_NEWEST = "as.newest"
"""Per requester, the keys of its newest entries (with their expiry): what to forget when it asks again."""


def _digest(*parts: str) -> str:
    """Store keys for codes, tokens and consents: the value itself never sits in the store."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class _Requester:
    """Who sent the SDK's /authorize or /register request: its address and its browser's id, if any."""

    address: str | None
    browser_id: str | None


_requester: ContextVar[_Requester | None] = ContextVar("handoff_oauth_requester", default=None)


class OAuthRequesters:
    """ASGI middleware for the SDK's /authorize and /register, which hand the provider no request: who
    asks (the address as the pages see it, the browser cookie's id) is noted for the provider, so that
    it bounds what each requester may keep and binds a sign-in to the browser that started it."""

    def __init__(
        self, app: ASGIApp, cookie: BrowserCookie, paths: tuple[str, ...] = ("/authorize", "/register")
    ):
        self.app = app
        self.cookie = cookie
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        # On plain http the browser shares its cookie with every local port: it names nobody here.
        browser_id = self.cookie.read(request) if self.cookie.secure else None
        token = _requester.set(_Requester(remote_address(request), browser_id))
        try:
            await self.app(scope, receive, send)
        finally:
            _requester.reset(token)


def _source(address: str | None) -> str:
    """The address a bound counts by: an IPv6 address by its /64 (one host's usual share), else itself."""
    if address is None:
        return "unknown"
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class _Client(OAuthClientInformationFull):
    """A registered client whose loopback redirect URIs match on any port, and whose others match exactly."""

    def validate_redirect_uri(self, redirect_uri: AnyUrl | None) -> AnyUrl:
        if redirect_uri is None:
            return super().validate_redirect_uri(None)
        given = str(redirect_uri)
        if redirect_problem(given) is not None:
            raise InvalidRedirectUriError(
                f"Redirect URI '{given[:80]}' is not allowed: {redirect_problem(given)}"
            )
        if not any(same_redirect(str(r), given) for r in self.redirect_uris or []):
            raise InvalidRedirectUriError(f"Redirect URI '{given[:80]}' not registered for client")
        return redirect_uri


def _registration_problem(client: OAuthClientInformationFull) -> str | None:
    uris = [str(u) for u in client.redirect_uris or []]
    if not uris:
        return "register at least one redirect URI"
    if len(uris) > MAX_REDIRECT_URIS:
        return f"register at most {MAX_REDIRECT_URIS} redirect URIs"
    for uri in uris:
        if (problem := redirect_problem(uri)) is not None:
            return problem
    if client.client_name is not None and len(client.client_name) > MAX_CLIENT_NAME:
        return f"client_name is longer than {MAX_CLIENT_NAME} characters"
    if len(client.model_dump_json(exclude_none=True)) > MAX_METADATA:
        return f"the client metadata is larger than {MAX_METADATA} bytes"
    return None


class AuthServer(PasswordLogin):
    """Password login that also answers the SDK's OAuth authorize step (same session, same user).

    `users` maps user names to `hash_password(...)` strings; `signing_key` (32+
    random bytes) signs access tokens; `issuer` is the server's public URL;
    `resource` is the MCP endpoint tokens are for (default `issuer + "/mcp"`);
    `store` keeps clients, codes, refresh tokens and consents; by default it is
    the store of the `Handoff` this identity is given to (with
    `Handoff.embedded`, the SQLite file), so a restart forgets nothing.
    `scope_descriptions` says in words what each scope lets a client do, on
    the consent page.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        signing_key: bytes,
        issuer: str,
        pages_url: str,
        resource: str | None = None,
        store: Entries | None = None,
        token_life: int = 3600,
        refresh_life: float = 30 * 86400.0,
        scope_descriptions: Mapping[str, str] | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        if len(signing_key) < 32:
            raise ConfigError(
                "AuthServer signing_key must be at least 32 random bytes, for example secrets.token_bytes(32)"
            )
        super().__init__(users, throttle=throttle)
        self._key = signing_key
        self._issuer = issuer.rstrip("/")
        self._pages_url = pages_url.rstrip("/")
        self.resource = (resource or f"{self._issuer}/mcp").rstrip("/")
        if store is not None:
            self.keep_in(store)
        self._token_life = token_life
        self._refresh_life = refresh_life
        self._scope_descriptions = dict(scope_descriptions or {})
        self._configured: dict[str, _Client] = {}

    @property
    def store(self) -> Entries:
        """Where grants, clients and consents live: the same store as the browser sessions."""
        return self.sessions.store

    def routes(self) -> list[BaseRoute]:
        return [
            *super().routes(),
            Route("/authorize/{request_id}", self._consent_page, methods=["GET"]),
            Route("/authorize/{request_id}", self._consent, methods=["POST"]),
        ]

    # Clients

    def add_client(self, client_info: OAuthClientInformationFull) -> None:
        """Register a client up front (a confidential one, for example), as configuration: its name is
        the operator's, so the consent page shows it as verified."""
        if client_info.client_id is None:
            raise ConfigError("a configured OAuth client needs a client_id")
        if (problem := _registration_problem(client_info)) is not None:
            raise ConfigError(f"OAuth client {client_info.client_id!r}: {problem}")
        self._configured[client_info.client_id] = _Client.model_validate(client_info.model_dump())

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        if (configured := self._configured.get(client_id)) is not None:
            return configured
        if len(client_id) > 100:
            return None
        stored = await self.store.get(_CLIENT, client_id) or await self.store.get(_NEW_CLIENT, client_id)
        return _Client.model_validate(stored["info"]) if stored else None

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        if (problem := _registration_problem(client_info)) is not None:
            if "redirect" in problem:
                raise RegistrationError(error="invalid_redirect_uri", error_description=problem)
            raise RegistrationError(error="invalid_client_metadata", error_description=problem)
        expires_at = time.time() + NEW_CLIENT_LIFE
        added = await self.store.add(
            _NEW_CLIENT,
            client_info.client_id,
            {"info": client_info.model_dump(mode="json", exclude_none=True)},
            expires_at=expires_at,
            limit=MAX_NEW_CLIENTS,
        )
        if not added:
            logger.warning("client registration refused: %d new clients are waiting", MAX_NEW_CLIENTS)
            raise RegistrationError(
                error="invalid_client_metadata",
                error_description="too many clients registered recently; try again later",
            )
        requester = _requester.get()
        address = _source(requester.address if requester else None)
        await self._keep_newest(
            _digest("client", "address", address),
            client_info.client_id,
            expires_at,
            MAX_NEW_CLIENTS_PER_ADDRESS,
            forget=_NEW_CLIENT,
        )

    async def _keep_newest(
        self, requester: str, key: str, expires_at: float, limit: int, *, forget: str
    ) -> None:
        """Note `key` as the requester's newest entry, and forget (in space `forget`) its own entries
        beyond the newest `limit`: a requester that floods pushes out only what it made itself."""
        evicted: list[str] = []

        def add(value: dict[str, Any] | None) -> tuple[dict[str, Any], float]:
            now = time.time()
            kept = [(k, until) for k, until in (value or {}).get("keys", []) if until > now and k != key]
            kept.append((key, expires_at))
            evicted[:] = [k for k, _ in kept[:-limit]]
            kept = kept[-limit:]
            return {"keys": kept}, max(until for _, until in kept)

        await self.store.change(_NEWEST, requester, add)
        for old in evicted:
            await self.store.delete(forget, old)

    async def _forget_newest(self, requester: str, key: str) -> None:
        """Take `key` off the requester's list (it moved to another requester's)."""

        def remove(value: dict[str, Any] | None) -> tuple[dict[str, Any] | None, float]:
            kept = [(k, until) for k, until in (value or {}).get("keys", []) if k != key]
            return ({"keys": kept}, max(until for _, until in kept)) if kept else (None, 0.0)

        await self.store.change(_NEWEST, requester, remove)

    async def _settle(self, client_id: str) -> None:
        """A client that completed a sign-in is kept: it moves out of the bounded new-client pool."""
        stored = await self.store.take(_NEW_CLIENT, client_id)
        if stored is not None:
            await self.store.put(_CLIENT, client_id, stored, expires_at=FOREVER)

    def verified(self, client_id: str) -> bool:
        """True for clients the operator configured; a registered client's name is only its own claim."""
        return client_id in self._configured

    # Authorization

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        redirect_uri = str(params.redirect_uri)
        if (problem := redirect_problem(redirect_uri)) is not None:
            raise AuthorizeError(error="invalid_request", error_description=problem)
        if params.resource is not None and params.resource.rstrip("/") != self.resource:
            raise AuthorizeError(
                error="invalid_target",
                error_description=f"this server issues tokens only for {self.resource}",
            )
        assert client.client_id is not None
        requester = _requester.get() or _Requester(None, None)
        user = await self.sessions.user_of(requester.browser_id)
        settled = (
            self.verified(client.client_id) or await self.store.get(_CLIENT, client.client_id) is not None
        )
        # A browser signed in when it starts the request is the one that may consent without a password.
        bound = _digest("browser", requester.browser_id) if user and requester.browser_id else None
        owners = (
            [(_digest("request", "user", user), MAX_PENDING_PER_USER)]
            if user
            else [
                (_digest("request", "client", client.client_id), MAX_PENDING_PER_CLIENT),
                (_digest("request", "address", _source(requester.address)), MAX_PENDING_PER_ADDRESS),
            ]
        )
        request_id = secrets.token_urlsafe(24)
        now = time.time()
        added = await self.store.add(
            _REQUEST,
            request_id,
            {
                "client_id": client.client_id,
                "params": params.model_dump(mode="json"),
                "created": now,
                "expires_at": now + REQUEST_LIFE,
                "browser": bound,
                "owners": [owner for owner, _ in owners],
            },
            expires_at=now + REQUEST_LIFE,
            # Those who signed in before wait behind nobody: their own bounds keep them small.
            limit=None if user or settled else MAX_PENDING_REQUESTS,
        )
        if not added:
            logger.warning("sign-in refused: %d sign-ins are waiting for consent", MAX_PENDING_REQUESTS)
            raise AuthorizeError(
                error="temporarily_unavailable",
                error_description="too many sign-ins are waiting; try again in a few minutes",
            )
        for owner, limit in owners:
            await self._keep_newest(owner, request_id, now + REQUEST_LIFE, limit, forget=_REQUEST)
        return f"{self._pages_url}/authorize/{request_id}"

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        key = _digest(authorization_code)
        stored = await self.store.get(_CODE, key)
        if stored is None:
            used = await self.store.get(_USED_CODE, key)
            if used is not None:
                # A code presented twice: whoever holds it, the tokens it gave are no longer trusted.
                logger.warning("authorization code replayed; revoking the grant it started")
                await self.store.delete(_GRANT, used["grant"])
            return None
        code = AuthorizationCode.model_validate(stored["code"])
        if code.client_id != client.client_id:
            return None
        return code.model_copy(update={"code": authorization_code})

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        key = _digest(authorization_code.code)
        if await self.store.take(_CODE, key) is None:
            raise TokenError(error="invalid_grant", error_description="authorization code was already used")
        grant = secrets.token_urlsafe(16)
        await self.store.put(_USED_CODE, key, {"grant": grant}, expires_at=time.time() + CODE_LIFE * 2)
        assert authorization_code.subject is not None and client.client_id is not None
        await self._settle(client.client_id)
        return await self._issue(
            grant, authorization_code.subject, client.client_id, authorization_code.scopes
        )

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        key = _digest(refresh_token)
        stored = await self.store.get(_REFRESH, key)
        if stored is None:
            await self._revoke_if_replayed(key)
            return None
        if stored["client_id"] != client.client_id or await self.store.get(_GRANT, stored["grant"]) is None:
            return None
        return RefreshToken(
            token=refresh_token,
            client_id=stored["client_id"],
            scopes=stored["scopes"],
            expires_at=int(stored["expires_at"]),
            resource=self.resource,
            subject=stored["subject"],
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        key = _digest(refresh_token.token)
        stored = await self.store.take(_REFRESH, key)
        if stored is None:
            await self._revoke_if_replayed(key)
            raise TokenError(error="invalid_grant", error_description="refresh token was already used")
        grant = stored["grant"]
        await self.store.put(
            _USED_REFRESH, key, {"grant": grant}, expires_at=time.time() + self._refresh_life
        )
        if scopes and not set(scopes) <= set(stored["scopes"]):
            raise TokenError(error="invalid_scope", error_description="a refresh cannot widen the scopes")
        assert client.client_id is not None
        return await self._issue(grant, stored["subject"], client.client_id, scopes or stored["scopes"])

    async def _revoke_if_replayed(self, key: str) -> None:
        used = await self.store.get(_USED_REFRESH, key)
        if used is not None:
            logger.warning("a rotated refresh token was used again; revoking its whole grant")
            await self.store.delete(_GRANT, used["grant"])

    async def load_access_token(self, token: str) -> AccessToken | None:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=self._issuer,
                audience=self.resource,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "grant"], "verify_iat": False},
            )
        except jwt.InvalidTokenError:
            return None
        if not issued_in_time(claims["iat"]):  # expiry is strict; "issued at" tolerates a clock step
            return None
        if await self.store.get(_GRANT, str(claims["grant"])) is None:
            return None  # revoked, or its refresh token was replayed
        return AccessToken(
            token=token,
            client_id=claims["client_id"],
            scopes=claims.get("scope", "").split(),
            expires_at=claims["exp"],
            resource=claims["aud"],
            subject=claims["sub"],
            claims={"iss": claims["iss"], "grant": claims["grant"]},
        )

    async def exchange_identity_assertion(
        self, client: OAuthClientInformationFull, params: IdentityAssertionParams
    ) -> OAuthToken:
        raise TokenError(
            error="unsupported_grant_type", error_description="identity assertions are not accepted"
        )

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        """Revoking either token of a grant revokes the whole grant, access and refresh (RFC 7009 §2.1)."""
        if isinstance(token, AccessToken):
            grant = (token.claims or {}).get("grant")
        else:
            stored = await self.store.get(_REFRESH, _digest(token.token))
            grant = stored["grant"] if stored else None
        if grant:
            await self.store.delete(_GRANT, str(grant))

    async def _issue(self, grant: str, subject: str, client_id: str, scopes: list[str]) -> OAuthToken:
        now = time.time()
        await self.store.put(
            _GRANT, grant, {"subject": subject, "client_id": client_id}, expires_at=now + self._refresh_life
        )
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": subject,
            "aud": self.resource,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "iat": int(now),
            "exp": int(now) + self._token_life,
            "jti": secrets.token_urlsafe(12),
            "grant": grant,
        }
        refresh = secrets.token_urlsafe(32)
        await self.store.put(
            _REFRESH,
            _digest(refresh),
            {
                "client_id": client_id,
                "scopes": scopes,
                "subject": subject,
                "grant": grant,
                "expires_at": now + self._refresh_life,
            },
            expires_at=now + self._refresh_life,
        )
        return OAuthToken(
            access_token=jwt.encode(claims, self._key, algorithm="HS256"),
            expires_in=self._token_life,
            scope=" ".join(scopes) or None,
            refresh_token=refresh,
        )

    # Consent page

    def _request_of(self, next_path: str) -> str | None:
        """The pending request whose consent page `next_path` is, if it is one."""
        match = re.fullmatch(re.escape(self._pages_root()) + r"/authorize/([A-Za-z0-9_\-]{1,64})", next_path)
        return match.group(1) if match else None

    async def form_targets(self, next_path: str) -> tuple[str, ...]:
        """A sign-in that ends an OAuth authorize step may redirect on to that client's redirect URI."""
        request_id = self._request_of(next_path)
        pending = await self.store.get(_REQUEST, request_id) if request_id else None
        return (form_target(pending["params"]["redirect_uri"]),) if pending else ()

    async def sign_in_notice(self, request: Request, next_path: str) -> str | None:
        """A signed-in browser sent to sign in before a consent page: the request began elsewhere."""
        if self._request_of(next_path) is None or await self.current(request) is None:
            return None
        return _(
            "This sign-in request was started in another browser, or before you signed in here. Sign in "
            "again to see what it asks, and allow it only if you started it yourself."
        )

    async def signed_in_for(self, next_path: str, user: str, browser_id: str) -> None:
        """A sign-in on the way to a consent page binds that request to this browser, and to `user`'s
        own bound of waiting sign-ins (a flood by others can no longer push it out)."""
        request_id = self._request_of(next_path)
        if request_id is None:
            return
        owner = _digest("request", "user", user)
        before: list[str] = []

        def bind(value: dict[str, Any] | None) -> tuple[dict[str, Any] | None, float]:
            if value is None:
                return None, 0.0
            before[:] = value.get("owners", [])
            bound = {**value, "browser": _digest("browser", browser_id), "owners": [owner]}
            return bound, _expiry(value)

        pending = await self.store.change(_REQUEST, request_id, bind)
        if pending is None:
            return
        for old in before:
            if old != owner:
                await self._forget_newest(old, request_id)
        await self._keep_newest(owner, request_id, _expiry(pending), MAX_PENDING_PER_USER, forget=_REQUEST)

    def _pages_root(self) -> str:
        return urlsplit(self._pages_url).path

    async def _consenting(self, request: Request, pending: dict[str, Any]) -> str | None:
        """The user who may consent to `pending` in this browser: signed in, and in the browser that
        started the request signed in or that signed in for it since. Anyone else (a link passed on
        to another browser) is asked to sign in for this very request first."""
        user = await self.current(request)
        browser_id = Web.of(request).browser_id(request)
        if user is None or browser_id is None or pending.get("browser") != _digest("browser", browser_id):
            return None
        return user

    async def _consent_page(self, request: Request) -> Response:
        web = Web.of(request)
        request_id = request.path_params["request_id"]
        pending = await self.store.get(_REQUEST, request_id)
        client = await self.get_client(pending["client_id"]) if pending else None
        if pending is None or client is None:
            return _expired(request)
        if page_sign_in(self, web) is not None:
            return await self._consent_sign_in(request, request_id, pending)
        user = await self._consenting(request, pending)
        if user is None:
            login = self.login_url(request, f"{web.root}/authorize/{request_id}")
            assert login is not None
            return RedirectResponse(login, status_code=303)
        browser_id = web.browser_id(request)
        assert browser_id is not None
        csrf = web.cookie.csrf_token(browser_id, f"authorize:{request_id}")
        return await self._consent_for(request, request_id, pending, client, user, csrf)

    async def _consent_sign_in(
        self, request: Request, request_id: str, pending: dict[str, Any], error: SignInRefused | None = None
    ) -> Response:
        """On plain http the consent page asks for the sign-in itself, for this request."""
        web = Web.of(request)
        page = await self.sign_in_page(
            request,
            purpose=f"sign-in:authorize:{request_id}",
            action=f"{web.root}/authorize/{request_id}",
            error=error,
        )
        # A consent given before leads from the sign-in straight to the client: let the form go there.
        page.headers["content-security-policy"] = content_security_policy(
            (form_target(pending["params"]["redirect_uri"]),)
        )
        return page

    async def _consent_for(
        self,
        request: Request,
        request_id: str,
        pending: dict[str, Any],
        client: OAuthClientInformationFull,
        user: str,
        csrf: str,
    ) -> Response:
        """`user`'s consent page for the request (or the grant itself, for a consent remembered)."""
        params = AuthorizationParams.model_validate(pending["params"])
        redirect_uri = str(params.redirect_uri)
        scopes = params.scopes or []
        remembered = await self.store.get(_CONSENT, _digest(user, str(client.client_id), redirect_uri))
        if remembered is not None and set(scopes) <= set(remembered["scopes"]):
            if await self.store.take(_REQUEST, request_id) is None:
                return _expired(request)
            return await self._grant(params, str(client.client_id), user)
        verified = self.verified(str(client.client_id))
        name = show(client.client_name) if client.client_name else None
        page = render(
            request,
            "consent.html",
            request_id=request_id,
            user=user,
            signed_in=user,
            client_name=name.html if name else None,
            name_notes=name.notes if name else [],
            verified=verified,
            client_id=client.client_id,
            destination=destination(redirect_uri),
            loopback=redirect_uri.startswith("http:"),
            requested_at=float(pending.get("created", _expiry(pending) - REQUEST_LIFE)),
            scopes=[
                (s, _(self._scope_descriptions[s]) if s in self._scope_descriptions else "") for s in scopes
            ],
            changed=await self._consented_elsewhere(user, client, redirect_uri),
            csrf=csrf,
        )
        # The Allow button's POST is answered with a redirect to the client: let the form go exactly there.
        page.headers["content-security-policy"] = content_security_policy((form_target(redirect_uri),))
        return page

    async def _consented_elsewhere(
        self, user: str, client: OAuthClientInformationFull, redirect_uri: str
    ) -> bool:
        """True when this person allowed this client before, but to another of its redirect URIs."""
        for uri in {str(u) for u in client.redirect_uris or []} - {redirect_uri}:
            if await self.store.get(_CONSENT, _digest(user, str(client.client_id), uri)) is not None:
                return True
        return False

    async def _consent(self, request: Request) -> Response:
        web = Web.of(request)
        request_id = request.path_params["request_id"]
        form = await request.form()
        pending = await self.store.get(_REQUEST, request_id)
        if pending is None:
            return _expired(request)
        if page_sign_in(self, web) is None:
            user = await self._consenting(request, pending)
            if not web.cookie.csrf_ok(request, form.get("csrf"), f"authorize:{request_id}"):
                user = None
        elif "password" in form:
            return await self._signed_in_here(request, request_id, pending, form)
        else:  # on plain http the form itself says who signed in for this request, in this browser
            user = web.cookie.signed_in_user(request, form.get("csrf"), f"authorize:{request_id}")
            if pending.get("browser") != _digest("browser", web.browser_id(request) or ""):
                user = None  # someone signed in for it since, in another browser
        if user is None:
            return message(
                request,
                400,
                title=_("Form expired"),
                text=_("This form is stale or did not come from this page."),
                next_step=_("Start the sign-in again from your MCP client."),
            )
        pending = await self.store.take(_REQUEST, request_id)
        client = await self.get_client(pending["client_id"]) if pending else None
        if pending is None or client is None:
            return _expired(request)
        params = AuthorizationParams.model_validate(pending["params"])
        redirect_uri = str(params.redirect_uri)
        if redirect_problem(redirect_uri) is not None:
            return _expired(request)
        if form.get("decision") != "allow":
            target = construct_redirect_uri(redirect_uri, error="access_denied", state=params.state)
            return RedirectResponse(target, status_code=303)
        await self.store.put(
            _CONSENT,
            _digest(user, str(client.client_id), redirect_uri),
            {"scopes": sorted(set(params.scopes or []))},
            expires_at=time.time() + CONSENT_LIFE,
        )
        return await self._grant(params, str(client.client_id), user)

    async def _signed_in_here(
        self, request: Request, request_id: str, pending: dict[str, Any], form: FormData
    ) -> Response:
        """A sign-in typed on the consent page (plain http): the consent page for that person, its
        form carrying the proof; or the grant, for a consent remembered."""
        web = Web.of(request)
        user = await self.authenticate(request, form, f"sign-in:authorize:{request_id}")
        if isinstance(user, SignInRefused):
            return await self._consent_sign_in(request, request_id, pending, user)
        client = await self.get_client(pending["client_id"])
        browser_id = web.browser_id(request)
        if client is None or browser_id is None:
            return _expired(request)
        await self.signed_in_for(f"{self._pages_root()}/authorize/{request_id}", user, browser_id)
        csrf = web.cookie.signed_in_token(browser_id, f"authorize:{request_id}", user, PAGE_SIGN_IN_LIFE)
        page = await self._consent_for(request, request_id, pending, client, user, csrf)
        web.cookie.issue_device(page, user)
        return page

    async def _grant(self, params: AuthorizationParams, client_id: str, user: str) -> Response:
        code = secrets.token_urlsafe(32)
        authorization = AuthorizationCode(
            code="",
            scopes=params.scopes or [],
            expires_at=time.time() + CODE_LIFE,
            client_id=client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=self.resource,
            subject=user,
        )
        await self.store.put(
            _CODE,
            _digest(code),
            {"code": authorization.model_dump(mode="json")},
            expires_at=authorization.expires_at,
        )
        target = construct_redirect_uri(
            str(params.redirect_uri), code=code, state=params.state, iss=self._issuer
        )
        return RedirectResponse(target, status_code=303)


class PublicClientRevocation:
    """ASGI middleware for the SDK's `/revoke`: RFC 7009 lets a public client send only its `client_id`,
    but the SDK's form model requires a `client_secret` field; an absent one is passed on as empty (a
    confidential client that leaves it out still fails client authentication)."""

    def __init__(self, app: ASGIApp, path: str = "/revoke") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive) or b""
        if "client_secret" not in parse_qs(body.decode("latin-1")):
            body += b"&client_secret=" if body else b"client_secret="
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, replaying(body, receive), send)


def _expiry(pending: dict[str, Any]) -> float:
    """When a pending request ends (one kept before requests noted it: a full life from now)."""
    return float(pending.get("expires_at") or time.time() + REQUEST_LIFE)


def _expired(request: Request) -> Response:
    return message(
        request,
        404,
        title=_("Sign-in link expired"),
        text=_("This sign-in request is unknown or has expired."),
        next_step=_("Start again from your MCP client: it will open a new sign-in."),
        kind="expired",
    )
