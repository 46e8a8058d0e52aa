"""Signing in to an MCP server with OAuth in the person's browser, the SDK's OAuth provider underneath."""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp.client.auth import OAuthClientProvider, OAuthFlowError
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    handle_auth_metadata_response,
    issuers_match,
    validate_metadata_issuer,
)
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

from .._errors import HandoffError
from .._exact import printable
from ._callback import LoopbackCallback
from ._opener import Opener, system_browser
from ._revocation import SignedOut, revoke
from ._tokens import MemoryTokens, ServerTokens, TokenStore

_EARLY = 30.0
"""Seconds before its expiry that an access token is refreshed, so it does not expire in flight."""


class SignInFailed(HandoffError):
    """Signing in to a server did not work: declined, timed out, or refused by the server."""


def _to_stderr(line: str) -> None:
    print(printable(line), file=sys.stderr, flush=True)


@dataclass
class SignIn:
    """How `HandoffClient` signs in to a server that asks for it: OAuth 2.1 in the person's browser.

        sign_in = SignIn(FileTokens())  # keep sign-ins between runs; SignIn() keeps them in memory
        async with HandoffClient("https://mcp.example.com/mcp", auth=sign_in) as client:
            ...
        await sign_in.sign_out("https://mcp.example.com/mcp")  # revoke at the server, forget here

    Stored tokens are used first and an expired access token is refreshed (the rotated refresh token
    saved). Only when the server still answers 401 does `opener` (the system browser) open its
    authorization page, with PKCE and, the first time, dynamic client registration (again whenever the
    server no longer knows the stored client, found out before the browser opens); `notify` says
    that the program waits, and the answer comes back to a listener on 127.0.0.1 for at most
    `timeout` seconds. Anything that stops the sign-in raises `SignInFailed`.
    """

    tokens: TokenStore = field(default_factory=MemoryTokens)
    """Where sign-ins are kept: `MemoryTokens()` for this run, `FileTokens()` between runs."""
    opener: Opener = system_browser
    timeout: float = 300.0
    """Seconds to wait for the person to finish signing in in the browser."""
    client_name: str = "handoff"
    """The name the server shows on its consent page."""
    notify: Callable[[str], None] = _to_stderr
    """Where progress lines go ("Waiting for you to sign in…"); standard error by default."""

    async def provider(self, server: str) -> OAuthClientProvider:
        """The SDK's OAuth provider (an `httpx2.Auth`) for the MCP endpoint `server`, with this sign-in's
        tokens, browser and loopback callback."""
        storage = await ServerTokens.open(self.tokens, server)
        registered = storage.saved.client
        port = None
        if registered is not None and registered.redirect_uris:
            port = LoopbackCallback.port_of(str(registered.redirect_uris[0]))
        callback = LoopbackCallback(port or 0, app=self.client_name)
        if registered is not None and (port is None or not callback.is_free()):
            # The registration names a redirect URI this run cannot serve: keep its tokens, and
            # register anew (on a free port) if the server asks for a sign-in.
            storage.forget_client()
            callback = LoopbackCallback(app=self.client_name)
        browser = _BrowserStep(self, server, callback)
        return _Provider(
            server_url=server,
            client_metadata=OAuthClientMetadata(
                client_name=self.client_name,
                redirect_uris=[callback.url],  # type: ignore[list-item]
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",  # noqa: S106 (a public client: PKCE, no secret to keep)
            ),
            storage=storage,
            redirect_handler=browser.redirect,
            callback_handler=browser.result,
        )

    @contextlib.asynccontextmanager
    async def http(
        self,
        server: str,
        *,
        timeout: httpx2.Timeout | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> AsyncIterator[httpx2.AsyncClient]:
        """An HTTP client that signs in to `server` when it answers 401, for `streamable_http_client`."""
        auth = await self.provider(server)
        async with httpx2.AsyncClient(
            auth=auth, timeout=timeout or httpx2.Timeout(30, read=300), transport=transport
        ) as http:
            yield http

    async def sign_out(self, server: str) -> SignedOut | None:
        """Revoke the server's tokens where it advertises a revocation endpoint (RFC 7009), then forget
        them here whatever the server said; None when no sign-in was stored for `server`.

        Call it once the clients using this sign-in are closed: a request with a revoked token would
        start a new sign-in."""
        saved = await self.tokens.load(server)
        if saved is None:
            return None
        async with httpx2.AsyncClient(timeout=30) as http:
            done = await revoke(server, saved, http)
        await self.tokens.delete(server)
        return done


class _BrowserStep:
    """The authorization page in the browser and the redirect back: the SDK's two handlers."""

    def __init__(self, sign_in: SignIn, server: str, callback: LoopbackCallback) -> None:
        self.sign_in = sign_in
        self.server = server
        self.callback = callback
        self._result: AuthorizationCodeResult | None = None

    async def redirect(self, url: str) -> None:
        where = urlsplit(url).netloc
        state = parse_qs(urlsplit(url).query).get("state", [""])[0]
        sign_in = self.sign_in

        async def send_person() -> None:
            sign_in.notify(f"Waiting for you to sign in at {where} in your browser… (Ctrl-C to cancel)")
            try:
                await sign_in.opener(url)
            except Exception as exc:  # an opener of the caller's: a scripted browser, say
                raise SignInFailed(f"the sign-in at {where} did not go through: {exc}") from None

        try:
            got = await self.callback.receive(state, sign_in.timeout, send_person)
        except OSError as exc:
            raise SignInFailed(
                f"cannot listen on {self.callback.url} for the sign-in ({exc.strerror}); "
                "close the program using that port and try again"
            ) from None
        if got is None:
            raise SignInFailed(
                f"no sign-in from your browser within {sign_in.timeout:.0f} s; run it again when you "
                "are ready to sign in (if the page showed an error, sign out first to register anew)"
            )
        if got.error == "access_denied":
            raise SignInFailed(f"the sign-in at {where} was declined; try again and allow access")
        if got.error or not got.code:
            detail = printable(got.error_description or "", limit=200)
            raise SignInFailed(
                f"{where} did not complete the sign-in ({got.error or 'no code'}"
                f"{': ' + detail if detail else ''}); try again"
            )
        self._result = AuthorizationCodeResult(code=got.code, state=got.state, iss=got.iss)

    async def result(self) -> AuthorizationCodeResult:
        assert self._result is not None, "the SDK asks for the callback only after the redirect"
        result, self._result = self._result, None
        return result


class _Provider(OAuthClientProvider):
    """The SDK's provider, plus what stored sign-ins need: the access token's expiry survives a restart
    (so it is refreshed, not sent expired), and a registration the server no longer knows (it was
    reset, or another server now answers at that URL) is dropped before the browser opens, so the flow
    registers again instead of sending the person to an error page."""

    def __init__(self, *, storage: ServerTokens, **options: Any) -> None:
        super().__init__(storage=storage, **options)
        self._saved = storage

    async def _initialize(self) -> None:
        await super()._initialize()
        expires_at = self._saved.saved.expires_at
        if self.context.current_tokens is not None and expires_at is not None:
            self.context.token_expiry_time = expires_at - _EARLY

    async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """The SDK's flow, with one request slipped in once the authorization server's metadata has
        come: whether the server still knows the client this flow is about to send the person with."""
        flow = super()._auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                response = yield outgoing
                check = await self._registration_check(outgoing, response)
                if check is not None:
                    answer = yield check
                    if await _oauth_error(answer) == "invalid_client":
                        self._forget_client()
                outgoing = await flow.asend(response)
        except StopAsyncIteration:
            return
        finally:
            await flow.aclose()

    async def _registration_check(
        self, sent: httpx2.Request, response: httpx2.Response
    ) -> httpx2.Request | None:
        """For the authorization server's metadata (`response` to `sent`), with a registration held: a
        token request with a made-up refresh token. A server that knows the client refuses the token
        (`invalid_grant`); one that does not know it says `invalid_client` (RFC 6749 §5.2)."""
        client = self.context.client_info
        if client is None or response.status_code != 200:
            return None
        wanted = build_oauth_authorization_server_metadata_discovery_urls(
            self.context.auth_server_url, self.context.server_url
        )
        if str(sent.url) not in wanted:
            return None
        _, metadata = await handle_auth_metadata_response(response)
        if metadata is None:
            return None
        expected = self._expected_issuer()
        if self.context.auth_server_url is None and issuers_match(str(metadata.issuer), expected):
            expected = str(metadata.issuer)
        try:
            validate_metadata_issuer(metadata, expected)
        except OAuthFlowError:
            return None  # the SDK's flow refuses this metadata itself: nothing is sent to it
        form = {
            "grant_type": "refresh_token",
            "refresh_token": secrets.token_urlsafe(32),
            "client_id": client.client_id,
        }
        form, headers = self.context.prepare_token_auth(
            form, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        return httpx2.Request("POST", str(metadata.token_endpoint), data=form, headers=headers)

    def _forget_client(self) -> None:
        self.context.client_info = None
        self._saved.forget_client()

    async def _handle_refresh_response(self, response: httpx2.Response) -> bool:
        if response.status_code in (400, 401) and await _oauth_error(response) == "invalid_client":
            self._forget_client()
        return await super()._handle_refresh_response(response)


async def _oauth_error(response: httpx2.Response) -> str | None:
    try:
        body = json.loads(await response.aread())
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None
