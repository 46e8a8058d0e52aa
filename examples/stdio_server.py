# examples/stdio_server.py: a local MCP server that an MCP client starts itself (over stdin and stdout),
# for one person; its pages ask for that person's passphrase. Run once: handoff passphrase passphrase.hash
# then point the client at: env SERVER_SECRET=$(handoff keygen) HANDOFF_VAULT_KEYS=$(handoff keygen) \
#   python examples/stdio_server.py
import os

import anyio
from mcp.server.mcpserver import MCPServer

from handoff import Handoff, Keyring, LocalIdentity

handoff = Handoff.embedded(
    public_url=os.environ.get("PUBLIC_URL", "http://127.0.0.1:8378"),  # where the pages listen (loopback)
    db_path=os.environ.get("HANDOFF_DB", "handoff.db"),
    browser=LocalIdentity.from_file(os.environ.get("PASSPHRASE_FILE", "passphrase.hash")),
    secret_key=os.environ["SERVER_SECRET"].encode(),
    keyring=Keyring.from_env(),
)
mcp = MCPServer("local-weather", request_state_security=handoff.request_state_security(), log_level="WARNING")


@mcp.tool()
@handoff.requires_secret("weather_api_key", label="Weather API key")
async def forecast(city: str) -> str:
    """Tomorrow's weather for a city, with the person's own API key (entered in their browser)."""
    return f"Sunny in {city} (asked with a key ending …{handoff.secret('weather_api_key')[-4:]})"


if __name__ == "__main__":
    anyio.run(handoff.serve_stdio, mcp)  # MCP on stdin/stdout, the pages on 127.0.0.1:8378
