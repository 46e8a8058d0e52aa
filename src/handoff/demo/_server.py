"""The demo server: two users, tools that need secrets, SQLite with a dev key.

Its texts that pages show (labels, help, checks, what an approval shows) are marked with `N_`: they
are in handoff's catalogs, and pages show them in the person's language like handoff's own."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.auth import OAuthClientInformationFull
from mcp_types import ToolAnnotations
from starlette.applications import Starlette

from .._appearance import Appearance
from .._handoff import Handoff
from .._i18n import N_
from ..identity import AuthServer, hash_password
from ..oauth import Provider, provider
from ..vault import Keyring, dev_key

DEMO_USERS = {"alice": "alice-demo-password", "bob": "bob-demo-password"}

Framework = Literal["sdk", "fastmcp"]
"""The server framework the demo's tools are written with: the SDK's MCPServer, or FastMCP."""
FRAMEWORKS: tuple[Framework, ...] = ("sdk", "fastmcp")

READ_ONLY = ToolAnnotations(read_only_hint=True)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True)
"""What the demo's tools tell clients (and `handoff check server`) about what calling them changes."""

ToolDecorator = Callable[[ToolAnnotations], Callable[[Callable[..., Any]], object]]
"""The framework's `tool(annotations=…)` decorator."""


def check_weather_key(value: str) -> str | None:
    """The demo's validation hook: weather keys look like `wk_` and at least 12 more characters."""
    if not value.startswith("wk_") or len(value) < 15:
        return N_(
            "That does not look like a weather key: it starts with wk_ and has at least 12 more characters."
        )
    return None


_SECRET_POST = "client_secret_post"  # noqa: S105 - an authentication method's name


def demo_calendar(auth: AuthServer, public_url: str, secret_key: bytes, name: str) -> Provider:
    """A third-party provider for the demo that needs no outside service: the demo's own OAuth server
    plays the calendar service, and the demo MCP server is its client (a confidential one, registered
    for the connect flow's exact callback, under the server's `name`): the consent page asks whether
    the server may read your calendar."""
    secret = hmac.new(secret_key, b"handoff/demo/calendar-client", hashlib.sha256).hexdigest()
    auth.add_client(
        OAuthClientInformationFull(
            client_id="demo-calendar",
            client_secret=secret,
            client_name=name,
            redirect_uris=[f"{public_url}/handoff/oauth/callback"],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method=_SECRET_POST,
            scope="calendar",
        )
    )
    return provider(
        "calendar",
        label=N_("Demo Calendar"),
        authorize_url=f"{public_url}/authorize",
        token_url=f"{public_url}/token",
        client_id="demo-calendar",
        client_secret=secret,
        token_auth_method=_SECRET_POST,
    )


def fingerprint(value: str) -> str:
    """Which value a tool used, without showing it: the start of its SHA-256, said to be one (the last
    characters of a key after an ellipsis would be taken for the key's own)."""
    return f"SHA-256 fingerprint {hashlib.sha256(value.encode()).hexdigest()[:8]}"


def describe_payment(arguments: Mapping[str, Any]) -> dict[str, object]:
    """What the approval page shows for a payment (its labels in the person's language, from
    handoff's catalogs): no description row when it has none."""
    shown: dict[str, object] = {
        N_("Amount"): f"{arguments.get('amount')} {arguments.get('currency')}",
        N_("Payee"): arguments.get("payee"),
    }
    if arguments.get("description"):
        shown[N_("Description")] = arguments["description"]
    return shown


@dataclass
class Demo:
    handoff: Handoff
    mcp: Any
    """The MCP server: an `MCPServer`, or a `FastMCP` server."""
    auth: AuthServer
    app: Starlette
    public_url: str
    framework: Framework = "sdk"

    @property
    def mcp_url(self) -> str:
        return f"{self.public_url}/mcp"


DEMO_APPEARANCE = Appearance(
    name="Juniper Assistant",
    logo=Path(__file__).with_name("logo.svg"),
    accent="#0b6e4f",
    support_url="mailto:help@juniper.example",
)
"""How the demo's pages present themselves: a made-up product's name, logo and colour."""


def build_demo(
    public_url: str,
    data_dir: str | Path,
    *,
    users: dict[str, str] | None = None,
    ttl: float = 480.0,
    wait_timeout: float = 120.0,
    retry_wait: float = 25.0,
    providers: Sequence[Provider] | None = None,
    database_url: str | None = None,
    framework: Framework = "sdk",
    appearance: Appearance = DEMO_APPEARANCE,
    metrics_address: str | None = None,
) -> Demo:
    """The demo server on `framework`: the same tools, sign-in and pages on the SDK's MCPServer or on
    FastMCP, its pages presented as `appearance`, and its MCP server called by the appearance's name
    (so that an MCP client names it as its pages do); `metrics_address` serves its metrics."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {', '.join(FRAMEWORKS)}, not {framework!r}")
    data = Path(data_dir)
    name = appearance.name or "handoff-demo"
    secret_key = dev_key(data / "pages.key")
    signing_key = hmac.new(secret_key, b"handoff/demo/access-token", hashlib.sha256).digest()
    public_url = public_url.rstrip("/")
    auth = AuthServer(
        {u: hash_password(p) for u, p in (users or DEMO_USERS).items()},
        signing_key=signing_key,
        issuer=public_url,
        pages_url=f"{public_url}/handoff",
        scope_descriptions={"calendar": N_("read your Demo Calendar")},
    )
    if providers is None:
        providers = [demo_calendar(auth, public_url, secret_key, name)]
    handoff = Handoff.embedded(
        public_url=public_url,
        db_path=data / "handoff.db",
        database_url=database_url,
        browser=auth,
        secret_key=secret_key,
        keyring=Keyring.dev(data / "vault.key"),
        ttl=ttl,
        wait_timeout=wait_timeout,
        retry_wait=retry_wait,
        providers=providers,
        appearance=appearance,
        metrics_address=metrics_address,
    )
    instructions = "Demo tools that need a user's API keys, entered in the user's own browser."
    tool: ToolDecorator
    if framework == "fastmcp":
        mcp, tool = _fastmcp_server(name, handoff, auth, instructions)
    else:
        mcp = MCPServer(
            name,
            request_state_security=handoff.request_state_security(),
            log_level="WARNING",
            instructions=instructions,
            auth_server_provider=auth,
            auth=AuthSettings(
                issuer_url=public_url,  # type: ignore[arg-type]
                resource_server_url=f"{public_url}/mcp",  # type: ignore[arg-type]
                client_registration_options=ClientRegistrationOptions(enabled=True),
                revocation_options=RevocationOptions(enabled=True),
                validate_token_resource=True,
            ),
        )

        def tool(annotations: ToolAnnotations) -> Callable[[Callable[..., Any]], object]:
            return mcp.tool(annotations=annotations)

        @tool(READ_ONLY)
        async def whoami(ctx: Context) -> str:
            """Say which user this connection is signed in as."""
            return f"You are {handoff.principal(ctx)}."

    @tool(READ_ONLY)
    @handoff.requires_secret(
        "weather_api_key",
        label=N_("Weather API key"),
        help=N_("Demo keys start with wk_, for example wk_demo_1234567890."),
        validate=check_weather_key,
    )
    async def forecast(city: str) -> str:
        """Tomorrow's forecast for a city, using your weather API key."""
        key = handoff.secret("weather_api_key")
        return f"Forecast for {city}: sunny, 21°C (fetched with your key, {fingerprint(key)})"

    @tool(READ_ONLY)
    @handoff.requires_secret(
        "notes_token",
        label=N_("Notes token"),
        help=N_("Any text works in the demo."),
        delivery="request",
    )
    async def list_notes(folder: str = "inbox") -> str:
        """List the notes in a folder, using your notes token (asks in-call, then waits for the browser)."""
        token = handoff.secret("notes_token")
        return f"You have 3 notes in {folder} (token of {len(token)} characters)."

    if "calendar" in handoff.providers:

        @tool(READ_ONLY)
        @handoff.requires_connection("calendar", scopes=["calendar"])
        async def next_meeting() -> str:
            """Your next meeting, read from your calendar account (connected in your browser)."""
            token = handoff.token("calendar")
            return (
                f"Next meeting: design review at 14:00 (read with your calendar token, {fingerprint(token)})"
            )

    @tool(DESTRUCTIVE)  # money leaves: `handoff check server` calls it only when --tool names it
    @handoff.requires_approval("payment", label=N_("Send a payment"), describe=describe_payment)
    async def send_payment(amount: str, currency: str, payee: str, description: str = "") -> str:
        """Send a payment. Runs only after you approve exactly these details in your browser."""
        return f"Paid {amount} {currency} to {payee}."

    app = handoff.app(mcp, host="127.0.0.1")
    return Demo(handoff=handoff, mcp=mcp, auth=auth, app=app, public_url=public_url, framework=framework)


def _fastmcp_server(
    name: str, handoff: Handoff, auth: AuthServer, instructions: str
) -> tuple[Any, ToolDecorator]:
    """The demo's FastMCP server (signed in with the same AuthServer), and its tool decorator."""
    from fastmcp import Context as FastMCPContext
    from fastmcp import FastMCP

    from ..frameworks.fastmcp import AuthServerProvider

    server = FastMCP(
        name,
        instructions=instructions,
        auth=AuthServerProvider(auth),
        request_state_security=handoff.request_state_security(),
    )

    async def whoami(ctx: FastMCPContext) -> str:
        """Say which user this connection is signed in as."""
        return f"You are {handoff.principal(ctx)}."

    whoami.__annotations__ = {"ctx": FastMCPContext, "return": str}  # resolved here, not in this module
    server.tool(whoami, annotations=READ_ONLY)
    return server, lambda annotations: server.tool(annotations=annotations)
