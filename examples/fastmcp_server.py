# examples/fastmcp_server.py: the same tools on FastMCP (pip install 'mcp-handoff[fastmcp]'), with its own
# database and dev keys in examples/.handoff/fastmcp_server.
# Run: ALICE_PASSWORD_HASH=$(python -c 'from handoff import hash_password; print(hash_password("pw"))') \
#   HANDOFF_OAUTH_GITHUB_CLIENT_ID=... HANDOFF_OAUTH_GITHUB_CLIENT_SECRET=... \
#   python examples/fastmcp_server.py
import hashlib
import hmac
import os
from pathlib import Path

import uvicorn
from fastmcp import Context, FastMCP

from handoff import AuthServer, Handoff, Keyring, dev_key, provider
from handoff.frameworks.fastmcp import AuthServerProvider

PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000")  # https, unless loopback
DATA = Path(__file__).parent / ".handoff" / "fastmcp_server"
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
)
mcp = FastMCP(
    "weather-and-payments",
    auth=AuthServerProvider(auth),  # /authorize, /token, /register, /revoke; tokens checked for /mcp
    request_state_security=handoff.request_state_security(),  # 2026 retries survive restarts
)


def check_weather_key(value: str) -> str | None:
    return None if value.startswith("wk_") else "Weather keys start with wk_."


@mcp.tool(annotations={"readOnlyHint": True})
async def whoami(ctx: Context) -> str:
    return f"You are {handoff.principal(ctx)}."  # the verified token's subject


@mcp.tool(annotations={"readOnlyHint": True})
@handoff.requires_secret("weather_key", label="Weather API key", validate=check_weather_key)
async def forecast(city: str) -> str:
    key = handoff.secret("weather_key")  # only ever read inside the gated tool
    return f"Sunny in {city} (fetched with the key ending …{key[-4:]})"


@mcp.tool(annotations={"readOnlyHint": True})
@handoff.requires_connection("github", scopes=["repo"])
async def list_issues(repo: str) -> str:
    token = handoff.token("github")  # refreshed before expiry, once
    return f"Would list the issues of {repo} with a token of {len(token)} characters."


@mcp.tool(annotations={"destructiveHint": True})  # check server skips it unless --tool
@handoff.requires_approval(
    "payment",
    label="Send a payment",
    describe=lambda a: {"Amount": f"{a['amount']} {a['currency']}", "Payee": a["payee"]},
)
async def send_payment(amount: str, currency: str, payee: str) -> str:
    return f"Paid {amount} {currency} to {payee}."


app = handoff.app(mcp)  # FastMCP's own app (MCP at /mcp, its OAuth routes) with the pages at /handoff

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
