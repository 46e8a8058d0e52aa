"""Every kind of page a person can meet, and a link to each, on a running demo server."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx2
from _mcp import user_client
from mcp import MCPError
from test_authserver import OAuthPeer

from handoff.demo import ScriptedBrowser

APP_NAME = "Acme Desktop"
"""The name the consent page's app registers itself under (so it is shown as not verified)."""
DEMO_APP = "handoff demo client"
"""The name the demo's MCP client registered: the app a record page says asked."""

PAYMENT = {"amount": "12.50", "currency": "EUR", "payee": "Jamie Doe", "description": "Lunch"}


@dataclass
class Links:
    """Links to one fresh record of each kind, made by alice's MCP client, and the other pages."""

    secret: str
    approval: str
    connect: str
    consent: str
    unknown: str
    index: str
    forgotten_client: str
    """A sign-in for a client id the server does not know (an app registered at a server since reset)."""


async def _record_url(origin: str, mcp_url: str, tool: str, arguments: dict[str, str]) -> str:
    async with ScriptedBrowser(origin) as browser, user_client(mcp_url, browser, "alice") as (client, _):
        try:
            await client.call_tool(tool, arguments)
        except MCPError as refused:
            return str(refused.data["elicitations"][0]["url"])
    raise AssertionError(f"{tool} ran without asking for anything")


async def links(origin: str, mcp_url: str) -> Links:
    async with httpx2.AsyncClient() as http:
        peer = OAuthPeer(origin, http)
        client = await peer.client(name=APP_NAME)
    consent, _ = peer.authorize_url(client, "http://127.0.0.1:9/callback")
    forgotten, _ = peer.authorize_url({"client_id": secrets.token_urlsafe(16)}, "http://127.0.0.1:9/callback")
    return Links(
        secret=await _record_url(origin, mcp_url, "forecast", {"city": "Lisbon"}),
        approval=await _record_url(origin, mcp_url, "send_payment", PAYMENT),
        connect=await _record_url(origin, mcp_url, "next_meeting", {}),
        consent=consent,
        unknown=f"{origin}/handoff/e/{secrets.token_urlsafe(24)}",
        index=f"{origin}/handoff/",
        forgotten_client=forgotten,
    )


async def expired_link(origin: str, mcp_url: str) -> str:
    """A link whose record has expired (the server's links must live only a moment)."""
    return await _record_url(origin, mcp_url, "forecast", {"city": "Oslo"})
