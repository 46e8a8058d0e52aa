"""handoff on FastMCP: FastMCP's own Client against the demo written on FastMCP, in both eras; the
tool's schema; the middleware that lets protocol errors through; the identities FastMCP verifies.

(The end-to-end modules run on FastMCP too, with the official `mcp` client: see conftest.)"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jwt
import pytest
from _server import ServerThread, free_port
from conftest import Running
from fastmcp import Client as FastMCPClient
from fastmcp import Context as FastMCPContext
from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import JWTVerifier
from mcp import MCPError
from mcp_types import URL_ELICITATION_REQUIRED, ElicitCompleteNotification, ElicitRequestURLParams
from test_external_idp import (
    Setup,
    access_token_for,
    provider_and_handoff,
    sign_in_at_provider,
)

from handoff import ConfigError, Handoff, Keyring, LocalIdentity, LocalUser, generate_key, hash_password
from handoff.demo import DEMO_USERS
from handoff.demo._client import signed_in_http
from handoff.frameworks.fastmcp import AuthServerProvider, HandoffMiddleware

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("framework", ["fastmcp"], indirect=True)]

KEY = "wk_fastmcpKeyThatMustNeverLeak"


class Notices:
    """Completion notices as FastMCP's Client hands them to a message handler."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.changed = anyio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ElicitCompleteNotification):
            self.ids.append(message.params.elicitation_id)
            self.changed.set()
            self.changed = anyio.Event()

    async def wait_for(self, elicitation_id: str, timeout: float = 5) -> bool:
        with anyio.move_on_after(timeout):
            while elicitation_id not in self.ids:
                await self.changed.wait()
        return elicitation_id in self.ids


def fastmcp_client(running: Running, browser: Any, user: str, **options: Any) -> FastMCPClient[Any]:
    """FastMCP's own Client over streamable HTTP, signed in through the demo's OAuth in `browser`."""
    http = signed_in_http(running.mcp_url, browser, user, DEMO_USERS[user])
    assert http.auth is not None
    return FastMCPClient(running.mcp_url, auth=http.auth, **options)


async def no_request(*_: Any) -> Any:
    """Declares URL mode elicitation; the 2025 tests expect -32042, never an `elicitation/create`."""
    raise AssertionError("the server sent elicitation/create where -32042 was expected")


async def enter_key(browser: Any, url: str) -> None:
    page = await browser.open(url)
    assert page.status == 200 and page.title == "Weather API key", page.text
    done = await browser.submit(page, {"value": KEY, "action": "save"})
    assert not isinstance(done, str) and done.title == "Saved"


async def test_the_schema_shows_only_the_tools_own_parameters(running, browsers):
    async with fastmcp_client(running, browsers(), "alice") as client:
        tools = {tool.name: tool for tool in await client.list_tools()}
    assert tools["forecast"].input_schema["properties"] == {"city": {"type": "string"}}
    assert tools["forecast"].input_schema["required"] == ["city"]
    assert tools["list_notes"].input_schema["properties"] == {
        "folder": {"type": "string", "default": "inbox"}
    }
    assert set(tools["send_payment"].input_schema["properties"]) == {
        "amount",
        "currency",
        "payee",
        "description",
    }
    assert all("ctx" not in str(tool.input_schema) for tool in tools.values())
    assert "weather" in (tools["forecast"].description or "")


async def test_2025_with_fastmcps_client_error_32042_then_the_notice_then_the_retry(running, browsers):
    alice, bob = browsers(), browsers()
    notices = Notices()
    async with fastmcp_client(
        running, alice, "alice", mode="legacy", message_handler=notices, elicitation_handler=no_request
    ) as client:
        assert "alice" in str((await client.call_tool("whoami", {})).data)
        with pytest.raises(MCPError) as caught:
            await client.call_tool("forecast", {"city": "Oslo"})
        assert caught.value.code == URL_ELICITATION_REQUIRED  # not masked into a tool error
        (elicitation,) = caught.value.data["elicitations"]
        url, eid = elicitation["url"], elicitation["elicitationId"]
        assert url == f"{running.origin}/handoff/e/{eid}"

        page = await bob.open(url)
        page = await bob.sign_in(page, "bob", DEMO_USERS["bob"])
        assert page.status == 403 and "not yours" in page.title.lower()
        assert (await running.demo.handoff.ledger.get(eid)).pending

        await enter_key(alice, url)
        assert await notices.wait_for(eid)
        result = await client.call_tool("forecast", {"city": "Oslo"})
        assert "Forecast for Oslo" in str(result.data)


async def test_2026_with_fastmcps_client_input_required_then_the_held_retry(running, browsers):
    alice = browsers()
    asked: list[ElicitRequestURLParams] = []

    async def on_elicitation(message: str, response_type: Any, params: Any, context: Any) -> dict[str, Any]:
        assert isinstance(params, ElicitRequestURLParams)
        asked.append(params)
        # The person opens the link while FastMCP's Client retries; the server holds that retry.
        tg.start_soon(enter_key, alice, params.url)
        return {}

    async with (
        fastmcp_client(running, alice, "alice", elicitation_handler=on_elicitation) as client,
        anyio.create_task_group() as tg,
    ):
        result = await client.call_tool("forecast", {"city": "Porto"})
    assert "Forecast for Porto" in str(result.data)
    (params,) = asked
    assert params.mode == "url" and params.url.startswith(f"{running.origin}/handoff/e/")
    assert "elicitationId" not in params.model_dump(by_alias=True, exclude_none=True)


async def test_2026_without_url_mode_gets_32021_on_fastmcp(running, browsers):
    async with fastmcp_client(running, browsers(), "alice") as client:  # no elicitation handler
        with pytest.raises(MCPError) as caught:
            await client.call_tool("forecast", {"city": "Oslo"})
    assert caught.value.code == -32021
    assert caught.value.data["requiredCapabilities"]["elicitation"] == {"url": {}}


async def test_unauthenticated_and_foreign_tokens_are_refused(running):
    auth = running.demo.auth
    claims = {
        "iss": running.origin,
        "sub": "alice",
        "aud": "https://another.example/mcp",  # signed with the right key, for another resource
        "exp": int(time.time()) + 600,
        "client_id": "x",
        "grant": "g",
    }
    foreign = jwt.encode(claims, auth._key, algorithm="HS256")
    async with httpx2.AsyncClient() as http:
        for headers in ({}, {"authorization": "Bearer not-a-token"}, {"authorization": f"Bearer {foreign}"}):
            response = await http.post(running.mcp_url, headers=headers, json={})
            assert response.status_code == 401, headers
            assert "resource_metadata" in response.headers["www-authenticate"]


def _local_server(handoff: Handoff) -> FastMCP:
    server = FastMCP("local-fastmcp", mask_error_details=True)  # handoff's own messages still get through

    @server.tool
    @handoff.requires_secret("api_key", label="API key")
    async def use_key(ctx: FastMCPContext, n: int = 1) -> str:
        """Uses the caller's API key."""
        return f"{handoff.principal(ctx)} has a key of {len(handoff.secret('api_key'))} characters ({n})"

    return server


@pytest.fixture
def local(tmp_path: Path) -> Handoff:
    return Handoff.in_memory(
        public_url="http://127.0.0.1:9",
        browser=LocalIdentity(hash_password("a long local passphrase")),
        secret_key=b"k" * 32,
        keyring=Keyring.parse(generate_key()),
        mcp_identity=LocalUser("local"),
    )


async def test_the_tools_own_fastmcp_context_is_used_and_stays_out_of_the_schema(local):
    server = _local_server(local)
    server.add_middleware(HandoffMiddleware())
    async with FastMCPClient(server, mode="legacy", elicitation_handler=no_request) as client:
        (tool,) = await client.list_tools()
        assert set(tool.input_schema["properties"]) == {"n"}
        with pytest.raises(MCPError) as caught:
            await client.call_tool("use_key", {"n": 2})
        assert caught.value.code == URL_ELICITATION_REQUIRED
        await local.vault.put("local", "api_key", "sk-123")
        result = await client.call_tool("use_key", {"n": 2})
    assert result.data == "local has a key of 6 characters (2)"


async def test_without_handoffs_middleware_the_call_says_how_to_serve_it(local):
    server = _local_server(local)
    async with FastMCPClient(server, mode="legacy") as client:
        result = await client.call_tool("use_key", {}, raise_on_error=False)
    assert result.is_error
    assert "handoff.app(server)" in result.content[0].text and "HandoffMiddleware()" in result.content[0].text
    assert await local.ledger.latest("local", "secret:api_key") is None  # nothing was asked


def test_handoff_app_refuses_a_fastmcp_server_without_authentication(tmp_path):
    from handoff.demo import build_demo

    demo = build_demo("http://127.0.0.1:9", tmp_path, framework="fastmcp")
    with pytest.raises(ConfigError, match="FastMCP server has no authentication"):
        demo.handoff.app(FastMCP("no-auth"))
    with pytest.raises(ConfigError, match=r"MCPServer \(from the mcp SDK\) or a FastMCP server"):
        demo.handoff.app(object())
    assert isinstance(demo.mcp.auth, AuthServerProvider)


# FastMCP's own JWTVerifier against an external OpenID provider (oidc-provider), the pages signing
# the browser in at the same provider: the principal is the provider's verified `sub`.


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[Setup]:
    world = provider_and_handoff(tmp_path)
    port, base, process, oidc, handoff = world.port, world.base, world.process, world.oidc, world.handoff
    server = FastMCP(
        "idp-fastmcp",
        auth=JWTVerifier(jwks_uri=f"{oidc}/jwks", issuer=oidc, audience=f"{base}/mcp"),
    )

    @server.tool
    @handoff.requires_secret("api_key", label="API key")
    async def use_key() -> str:
        return f"key of {len(handoff.secret('api_key'))} characters"

    thread = ServerThread(handoff.app(server), port).start()
    try:
        yield Setup(base, oidc, handoff)
    finally:
        thread.stop()
        process.terminate()
        process.wait(timeout=10)


async def test_fastmcps_jwt_verifier_names_the_principal_and_the_pages_check_it(idp: Setup):
    token = await access_token_for(idp, "alice")
    async with FastMCPClient(
        idp.mcp_url, auth=token, mode="legacy", elicitation_handler=no_request
    ) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("use_key", {})
        (elicitation,) = caught.value.data["elicitations"]
        url = elicitation["url"]
        assert (await idp.handoff.ledger.get(elicitation["elicitationId"])).principal == "alice"

        async with httpx2.AsyncClient() as bob:
            landed = await sign_in_at_provider(bob, url, "bob")
            assert landed.status == 403 and "not yours" in landed.text.lower()
        await idp.handoff.vault.put("alice", "api_key", "sk-alice")
        result = await client.call_tool("use_key", {})
    assert result.data == "key of 8 characters"
    async with httpx2.AsyncClient() as http:
        forged = jwt.encode(
            {"iss": idp.oidc, "sub": "alice", "aud": idp.mcp_url}, "x" * 32, algorithm="HS256"
        )
        response = await http.post(idp.mcp_url, headers={"authorization": f"Bearer {forged}"}, json={})
        assert response.status_code == 401


async def test_a_fastmcp_server_on_stdio_asks_for_a_key_in_the_browser(tmp_path: Path):
    """`serve_stdio` installs HandoffMiddleware, so -32042 reaches a client that started the server."""
    from _mcp import Notices, refuse_elicitation
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import get_default_environment

    from handoff.demo import ScriptedBrowser
    from handoff.identity import write_passphrase

    port = free_port()
    env = {
        **get_default_environment(),
        "PASSPHRASE_FILE": str(write_passphrase(tmp_path / "hash", "a long local passphrase")),
        "SERVER_SECRET": generate_key(),
        "HANDOFF_VAULT_KEYS": generate_key(),
    }
    script = str(Path(__file__).with_name("fastmcp_stdio_server.py"))
    notices = Notices()
    params = StdioServerParameters(command=sys.executable, args=[script, str(port)], env=env)
    options = {
        "mode": "legacy",
        "message_handler": notices.handler,
        "elicitation_callback": refuse_elicitation,
    }
    async with Client(params, **options) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("use_key", {})
        elicitation = caught.value.data["elicitations"][0]
        async with ScriptedBrowser(f"http://127.0.0.1:{port}") as person:
            page = await person.sign_in(
                await person.open(elicitation["url"]), "local", "a long local passphrase"
            )
            assert page.title == "API key" and "fastmcp-on-stdio" in page.text
            saved = await person.submit(page, {"value": "sk-42", "action": "save"})
            assert not isinstance(saved, str) and saved.title == "Saved"
        assert await notices.wait_for(elicitation["elicitationId"])
        assert "key ends with 42" in str(await client.call_tool("use_key", {}))
