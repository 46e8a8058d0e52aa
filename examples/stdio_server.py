# examples/stdio_server.py: a local MCP server that an MCP client starts itself (over stdin and stdout),
# for one person; its pages ask for that person's passphrase. It keeps its database, dev keys and the
# passphrase's hash in examples/.handoff/stdio_server.
# Run once: python -m handoff passphrase examples/.handoff/stdio_server/passphrase
# then point the client at: python /full/path/to/examples/stdio_server.py
import os
from pathlib import Path

import anyio
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

from handoff import Handoff, Keyring, LocalIdentity, dev_key

DATA = Path(__file__).parent / ".handoff" / "stdio_server"
handoff = Handoff.embedded(
    public_url=os.environ.get("PUBLIC_URL", "http://127.0.0.1:8378"),  # where the pages listen (loopback)
    db_path=DATA / "handoff.db",
    browser=LocalIdentity.from_file(DATA / "passphrase"),
    secret_key=dev_key(DATA / "pages.key"),
    keyring=Keyring.dev(DATA / "vault.key"),
)
mcp = MCPServer("local-weather", request_state_security=handoff.request_state_security(), log_level="WARNING")


@mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
@handoff.requires_secret("weather_api_key", label="Weather API key")
async def forecast(city: str) -> str:
    """Tomorrow's weather for a city, with the person's own API key (entered in their browser)."""
    return f"Sunny in {city} (asked with a key ending …{handoff.secret('weather_api_key')[-4:]})"


if __name__ == "__main__":
    anyio.run(handoff.serve_stdio, mcp)  # MCP on stdin/stdout, the pages on 127.0.0.1:8378
