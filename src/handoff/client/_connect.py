"""Connecting to a server from the terminal: streamable HTTP (with OAuth sign-in) or a stdio command."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp import StdioServerParameters
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from ._elicitations import Elicitations, Waiter
from ._opener import Opener
from ._session import HandoffClient


def is_url(spec: Sequence[str]) -> bool:
    return len(spec) == 1 and spec[0].startswith(("http://", "https://"))


class MemoryTokens:
    """Tokens for this run only: nothing is written to disk."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class LoopbackCallback:
    """Receives the OAuth redirect on http://127.0.0.1:PORT/callback, for one sign-in at a time."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/callback"
        self._result: AuthorizationCodeResult | None = None
        self._arrived = anyio.Event()

        async def callback(request: Request) -> HTMLResponse:
            code = request.query_params.get("code")
            if code:
                self._result = AuthorizationCodeResult(
                    code=code, state=request.query_params.get("state"), iss=request.query_params.get("iss")
                )
                self._arrived.set()
                return HTMLResponse("<p>Signed in. You can close this tab and go back to the terminal.</p>")
            return HTMLResponse("<p>Sign-in did not complete. Go back to the terminal.</p>", status_code=400)

        self.app = Starlette(routes=[Route("/callback", callback)])

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[LoopbackCallback]:
        server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve)
            try:
                yield self
            finally:
                server.should_exit = True

    async def wait(self, timeout: float = 300) -> AuthorizationCodeResult:
        with anyio.fail_after(timeout):
            await self._arrived.wait()
        self._arrived = anyio.Event()
        assert self._result is not None
        return self._result


@contextlib.asynccontextmanager
async def connect(
    spec: Sequence[str],
    elicitations: Elicitations,
    *,
    mode: str = "auto",
    sign_in: Opener,
    waiter: Waiter | None = None,
    wait_timeout: float = 600.0,
) -> AsyncIterator[HandoffClient]:
    """A connected `HandoffClient` for a URL (OAuth sign-in through `sign_in`) or a stdio command."""
    options: dict[str, Any] = {
        "mode": mode,
        "elicitations": elicitations,
        "waiter": waiter,
        "wait_timeout": wait_timeout,
    }
    if not is_url(spec):
        params = StdioServerParameters(command=spec[0], args=list(spec[1:]))
        client = HandoffClient(params, **options)
        async with client:
            yield client
        return
    callback = LoopbackCallback()
    async with callback.serving():
        auth = OAuthClientProvider(
            server_url=spec[0],
            client_metadata=OAuthClientMetadata(
                client_name="handoff terminal client",
                redirect_uris=[callback.url],  # type: ignore[list-item]
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
            ),
            storage=MemoryTokens(),
            redirect_handler=sign_in,
            callback_handler=callback.wait,
        )
        async with httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30, read=wait_timeout + 60)) as http:
            client = HandoffClient(streamable_http_client(spec[0], http_client=http), **options)
            async with client:
                yield client
