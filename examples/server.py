# examples/server.py: an MCP server whose tools need a user's API key, a GitHub connection and a
# person's approval. It keeps its database and dev keys in examples/.handoff/server, made on the first run.
# Run: ALICE_PASSWORD_HASH=$(python -c 'from handoff import hash_password; print(hash_password("pw"))') \
#   HANDOFF_OAUTH_GITHUB_CLIENT_ID=... HANDOFF_OAUTH_GITHUB_CLIENT_SECRET=... python examples/server.py
import hashlib
import hmac
import os
from pathlib import Path

import uvicorn
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

from handoff import Appearance, AuthServer, Handoff, Keyring, dev_key, provider

PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000")  # https, unless loopback
DATA = Path(__file__).parent / ".handoff" / "server"
SECRET = dev_key(DATA / "pages.key")  # CSRF tokens, sealed request states; in production, from your secrets

auth = AuthServer(  # the server is its own OAuth authorization server; one sign-in serves the pages too
    {"alice": os.environ["ALICE_PASSWORD_HASH"]},  # user name -> hash_password("...")
    signing_key=hmac.new(SECRET, b"access tokens", hashlib.sha256).digest(),
    issuer=PUBLIC_URL,
    pages_url=f"{PUBLIC_URL}/handoff",
)
handoff = Handoff.embedded(
    public_url=PUBLIC_URL,
    db_path=DATA / "handoff.db",  # ledger, vault, audit and sign-ins: one file
    browser=auth,
    secret_key=SECRET,
    keyring=Keyring.dev(DATA / "vault.key"),  # in production Keyring.from_env(): HANDOFF_VAULT_KEYS
    providers=[provider("github")],  # client id and secret from HANDOFF_OAUTH_GITHUB_CLIENT_ID/_SECRET
    appearance=Appearance(name="Weather & Payments", accent="#0b6e4f"),  # what people see on the pages
)
mcp = MCPServer(
    "weather-and-payments",
    request_state_security=handoff.request_state_security(),  # 2026 retries survive restarts
    auth_server_provider=auth,
    auth=AuthSettings(
        issuer_url=PUBLIC_URL,
        resource_server_url=f"{PUBLIC_URL}/mcp",
        client_registration_options=ClientRegistrationOptions(enabled=True),
        revocation_options=RevocationOptions(enabled=True),
        validate_token_resource=True,  # refuse tokens issued for another resource (RFC 8707)
    ),
)


def check_weather_key(value: str) -> str | None:
    return None if value.startswith("wk_") else "Weather keys start with wk_."


@mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
@handoff.requires_secret("weather_key", label="Weather API key", validate=check_weather_key)
async def forecast(city: str) -> str:
    key = handoff.secret("weather_key")  # only ever read inside the gated tool
    return f"Sunny in {city} (fetched with the key ending …{key[-4:]})"


@mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
@handoff.requires_connection("github", scopes=["repo"])
async def list_issues(repo: str) -> str:
    token = handoff.token("github")  # refreshed before expiry, once
    return f"Would list the issues of {repo} with a token of {len(token)} characters."


@mcp.tool(annotations=ToolAnnotations(destructive_hint=True))  # check server skips it unless --tool
@handoff.requires_approval(
    "payment",
    label="Send a payment",
    describe=lambda a: {"Amount": f"{a['amount']} {a['currency']}", "Payee": a["payee"]},
)
async def send_payment(amount: str, currency: str, payee: str) -> str:
    return f"Paid {amount} {currency} to {payee}."


app = handoff.app(mcp)  # MCP at /mcp, OAuth at /authorize, /token, /register, /revoke; pages at /handoff

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
