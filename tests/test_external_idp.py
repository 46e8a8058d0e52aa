"""An external OpenID provider as identity: JWT access tokens on the MCP side, sign-in there for the pages."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import jwt
import pytest
from _mcp import text_of
from _server import ServerThread, free_port
from _web import go, submit
from conftest import start_oidc
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

from handoff import Handoff, Keyring, generate_key
from handoff.identity import Discovery, JwtVerifier, OidcLogin

pytestmark = pytest.mark.anyio

PAGES_CLIENT, PAGES_SECRET = "handoff-pages", "handoff-pages-secret-value"
AGENT_CLIENT, AGENT_SECRET = "mcp-agent", "mcp-agent-secret-value"
AGENT_REDIRECT = "http://127.0.0.1:1/agent-callback"
KEY = "sk-external-idp-secret"


@dataclass
class Setup:
    base: str
    oidc: str
    handoff: Handoff

    @property
    def mcp_url(self) -> str:
        return f"{self.base}/mcp"


@dataclass
class Provider:
    """The tests' OpenID provider with two clients (the pages, an agent), and a Handoff whose pages
    sign people in there."""

    port: int
    base: str
    process: subprocess.Popen[str]
    oidc: str
    discovery: Discovery
    handoff: Handoff


def provider_and_handoff(tmp_path: Path) -> Provider:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process, oidc = start_oidc(
        {
            "clients": [
                {
                    "client_id": PAGES_CLIENT,
                    "client_secret": PAGES_SECRET,
                    "redirect_uris": [f"{base}/handoff/oidc/callback"],
                },
                {"client_id": AGENT_CLIENT, "client_secret": AGENT_SECRET, "redirect_uris": [AGENT_REDIRECT]},
            ],
            "resource": f"{base}/mcp",
        }
    )
    discovery = Discovery(oidc)
    handoff = Handoff.embedded(
        public_url=base,
        db_path=tmp_path / "h.db",
        secret_key=b"p" * 32,
        keyring=Keyring.parse(generate_key()),
        browser=OidcLogin(oidc, client_id=PAGES_CLIENT, client_secret=PAGES_SECRET, discovery=discovery),
    )
    return Provider(port, base, process, oidc, discovery, handoff)


@pytest.fixture
def setup(tmp_path) -> Iterator[Setup]:
    world = provider_and_handoff(tmp_path)
    base, oidc, discovery, handoff = world.base, world.oidc, world.discovery, world.handoff
    mcp = MCPServer(
        "idp-test",
        log_level="WARNING",
        token_verifier=JwtVerifier(oidc, audience=f"{base}/mcp", discovery=discovery),
        auth=AuthSettings(
            issuer_url=oidc,
            resource_server_url=f"{base}/mcp",  # type: ignore[arg-type]
            validate_token_resource=True,
        ),
    )

    @mcp.tool()
    @handoff.requires_secret("api_key", label="API key")
    async def use_key() -> str:
        return f"key of {len(handoff.secret('api_key'))} characters"

    server = ServerThread(handoff.app(mcp), world.port).start()
    try:
        yield Setup(base, oidc, handoff)
    finally:
        server.stop()
        world.process.terminate()
        world.process.wait(timeout=10)


async def access_token_for(setup: Setup, user: str) -> str:
    """The agent signs in at the provider as `user` (code flow with PKCE) and gets a JWT access token."""
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    async with (
        AsyncOAuth2Client(
            client_id=AGENT_CLIENT,
            client_secret=AGENT_SECRET,
            redirect_uri=AGENT_REDIRECT,
            code_challenge_method="S256",
        ) as oauth,
        httpx2.AsyncClient() as browser,
    ):
        verifier = "v" * 64
        url, state = oauth.create_authorization_url(
            f"{setup.oidc}/auth", code_verifier=verifier, scope="openid", resource=setup.mcp_url
        )
        visit = await go(browser, url)
        visit = await submit(browser, visit, {"login": user, "password": "any"})
        response = await browser.post(visit.forms()[0].action, data=visit.forms()[0].fields)
        while not response.headers["location"].startswith(AGENT_REDIRECT):
            response = await browser.get(httpx2.URL(str(response.url)).join(response.headers["location"]))
        code = httpx2.URL(response.headers["location"]).params["code"]
        token = await oauth.fetch_token(
            f"{setup.oidc}/token", code=code, code_verifier=verifier, resource=setup.mcp_url
        )
    return str(token["access_token"])


def client_for(setup: Setup, token: str) -> Client:
    http = httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=30)
    return Client(
        streamable_http_client(setup.mcp_url, http_client=http),
        mode="legacy",
        elicitation_callback=lambda *_: None,
    )  # type: ignore[arg-type,return-value]


async def sign_in_at_provider(http: httpx2.AsyncClient, url: str, user: str):
    visit = await go(http, url)  # our pages send the anonymous browser to the provider
    assert visit.hops[1].startswith(f"{visit.hops[0].split('/handoff/')[0]}/handoff/oidc/login")
    visit = await submit(http, visit, {"login": user, "password": "any"})
    return await submit(http, visit, {})


async def test_provider_tokens_and_provider_sign_in_must_name_the_same_person(setup: Setup):
    token = await access_token_for(setup, "alice")
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "alice"
    async with client_for(setup, token) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("use_key", {})
        url = caught.value.data["elicitations"][0]["url"]
        record = await setup.handoff.ledger.get(caught.value.data["elicitations"][0]["elicitationId"])
        assert record.principal == "alice"

        async with httpx2.AsyncClient() as bob:
            landed = await sign_in_at_provider(bob, url, "bob")
            assert landed.status == 403 and "not yours" in landed.text.lower()
        async with httpx2.AsyncClient() as alice:
            landed = await sign_in_at_provider(alice, url, "alice")
            assert landed.status == 200 and "API key" in landed.text and landed.url == url
            done = await submit(alice, landed, {"value": KEY, "action": "save"})
            assert "Saved" in done.text
        result = await client.call_tool("use_key", {})
        assert text_of(result) == f"key of {len(KEY)} characters"
    events = [(e.event, e.principal) for e in await setup.handoff.audit.read(record_id=record.id)]
    assert ("identity_mismatch", "bob") in events and ("completed", "alice") in events


async def test_forged_or_foreign_tokens_are_refused(setup: Setup):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {
        "iss": setup.oidc,
        "sub": "alice",
        "aud": setup.mcp_url,
        "exp": int(time.time()) + 600,
        "client_id": AGENT_CLIENT,
    }
    forged = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "forged"})
    async with httpx2.AsyncClient() as http:
        for token in (forged, "not-a-jwt", jwt.encode(claims, "x" * 32, algorithm="HS256")):
            response = await http.post(setup.mcp_url, headers={"authorization": f"Bearer {token}"}, json={})
            assert response.status_code == 401, token[:20]
    real = await access_token_for(setup, "alice")
    assert await JwtVerifier(setup.oidc, audience="https://another.example/mcp").verify_token(real) is None
    assert (await JwtVerifier(setup.oidc, audience=setup.mcp_url).verify_token(real)).subject == "alice"
