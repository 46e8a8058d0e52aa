"""An official-SDK MCP client signed in through the demo server's OAuth, for the walkthrough and tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientMetadata,
)

from ..client._tokens import MemoryTokens, ServerTokens
from ._browser import ScriptedBrowser

REDIRECT_URI = "http://127.0.0.1:1/callback"
"""Never served: the scripted browser stops at the redirect and hands the code over."""


def signed_in_http(
    mcp_url: str, browser: ScriptedBrowser, user: str, password: str, hooks: Sequence[Any] = ()
) -> httpx2.AsyncClient:
    """An HTTP client whose OAuth sign-in is done by `browser` as `user`."""
    answer: dict[str, str] = {}

    async def redirect(url: str) -> None:
        answer.clear()
        answer.update(await browser.authorize(url, user, password))

    async def callback() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(code=answer["code"], state=answer.get("state"), iss=answer.get("iss"))

    auth = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="handoff demo client",
            redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=ServerTokens(MemoryTokens(), mcp_url),
        redirect_handler=redirect,
        callback_handler=callback,
    )
    return httpx2.AsyncClient(
        auth=auth,
        timeout=httpx2.Timeout(30, read=300),
        event_hooks={"response": list(hooks)} if hooks else None,
    )


def demo_client(mcp_url: str, http: httpx2.AsyncClient, **options: Any) -> Client:
    """The official `mcp` Client over streamable HTTP with `http` (legacy mode unless told otherwise)."""
    options.setdefault("mode", "legacy")
    return Client(streamable_http_client(mcp_url, http_client=http), **options)
