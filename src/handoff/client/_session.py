"""`HandoffClient`: the official SDK client, with URL elicitation done right and sign-in built in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp import Client
from mcp.client._transport import TransportStreams
from mcp.client.auth import OAuthFlowError
from mcp.client.client import _connect_transport
from mcp.client.session import ClientSession, IncomingMessage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import ClientCapabilities

from .._errors import HandoffError
from ._elicitations import Elicitations, Waiter
from ._retry import retry_after_elicitation
from ._signin import SignIn, SignInFailed


@dataclass
class HandoffClient(Client):
    """`mcp.Client` that declares exactly the elicitation modes it supports, asks consent before any
    URL is opened, and retries a tool call after error -32042 once the browser step is done.

    On 2026-07-28 connections the SDK's own multi-round-trip driver retries; the
    same consent and URL checks run for the URL requests inside `InputRequiredResult`.

    With `auth=SignIn(...)` and a server URL, it signs in when the server answers 401 (see
    `SignIn`). Whenever signing in is what stands in the way (no `auth` for a server that needs
    it, declined, timed out), entering it or calling a tool raises `SignInFailed`, one line.
    """

    auth: SignIn | None = field(default=None, kw_only=True)
    """Sign in with OAuth in the browser when the server asks for it; the server must be a URL."""
    elicitations: Elicitations | None = field(default=None, kw_only=True)
    waiter: Waiter | None = field(default=None, kw_only=True)
    """Lets a person say "done" or cancel while a call waits for the browser."""
    wait_timeout: float = field(default=600.0, kw_only=True)
    max_rounds: int = field(default=3, kw_only=True)
    _refused: bool = field(init=False, default=False, repr=False, compare=False)
    """The MCP endpoint's last answer was 401."""

    def __post_init__(self) -> None:
        if self.elicitations is not None:
            self.elicitation_callback = self.elicitations.handle_request
            user_handler = self.message_handler
            elicitations = self.elicitations

            async def on_message(message: IncomingMessage) -> None:
                await elicitations.on_message(message)
                if user_handler is not None:
                    await user_handler(message)

            self.message_handler = on_message
        super().__post_init__()
        if isinstance(self.server, str):
            # The SDK would build a plain client for the URL; this one signs in (given `auth`) and
            # notices a 401, which the SDK reports only as "Server returned an error response".
            self._connect = _connect_transport(self._http_transport(self.server))
        elif self.auth is not None:
            raise TypeError("auth= signs in to a server at a URL; pass the server's URL as a string")

    @contextlib.asynccontextmanager
    async def _http_transport(self, url: str) -> AsyncIterator[TransportStreams]:
        timeout = httpx2.Timeout(30, read=max(300.0, self.wait_timeout + 60))

        async def watch(response: httpx2.Response) -> None:
            if response.request.url == url:
                self._refused = response.status_code == 401

        async with contextlib.AsyncExitStack() as stack:
            if self.auth is not None:
                http = await stack.enter_async_context(self.auth.http(url, timeout=timeout))
            else:
                http = await stack.enter_async_context(httpx2.AsyncClient(timeout=timeout))
            http.event_hooks = {"response": [watch]}
            yield await stack.enter_async_context(streamable_http_client(url, http_client=http))

    async def __aenter__(self) -> HandoffClient:
        try:
            await super().__aenter__()
        except BaseException as exc:
            failure = self._sign_in_failure(exc)
            if failure is None:
                raise
            raise failure from None
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            await super().__aexit__(*exc_info)
        except BaseException as exc:
            failure = self._sign_in_failure(exc)
            if failure is None:
                raise
            raise failure from None

    def _sign_in_failure(self, exc: BaseException) -> HandoffError | None:
        """The one error to show when signing in is what failed, else None (the error stands)."""
        leaves = list(_leaves(exc))
        for leaf in leaves:
            if isinstance(leaf, HandoffError):
                return leaf
        for leaf in leaves:
            if isinstance(leaf, OAuthFlowError):
                return SignInFailed(f"could not sign in to {self.server}: {leaf}")
        if self._refused and any(isinstance(leaf, MCPError | httpx2.HTTPError) for leaf in leaves):
            if self.auth is None:
                return SignInFailed(
                    f"{self.server} asks you to sign in (HTTP 401 Unauthorized); "
                    "pass auth=SignIn() to HandoffClient"
                )
            return SignInFailed(
                f"{self.server} still refuses this client after signing in (HTTP 401 Unauthorized); "
                "sign out to forget the stored sign-in, then sign in again"
            )
        return None

    async def _build_session(self, exit_stack: AsyncExitStack) -> ClientSession:
        session = await super()._build_session(exit_stack)
        elicitations = self.elicitations
        if elicitations is not None:
            base = session._build_capabilities

            def declared(version: str) -> ClientCapabilities:
                return base(version).model_copy(update={"elicitation": elicitations.capability})

            session._build_capabilities = declared  # type: ignore[method-assign]
        return session

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        """`Client.call_tool`, retried after -32042 once the person finished in the browser."""

        async def call() -> Any:
            return await Client.call_tool(self, name, arguments, *args, **kwargs)

        try:
            if self.elicitations is None:
                return await call()
            return await retry_after_elicitation(
                call,
                self.elicitations,
                waiter=self.waiter,
                timeout=self.wait_timeout,
                max_rounds=self.max_rounds,
            )
        except Exception as exc:
            failure = self._sign_in_failure(exc)
            if failure is None or failure is exc:
                raise
            raise failure from None


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc
