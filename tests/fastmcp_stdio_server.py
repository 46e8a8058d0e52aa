"""A FastMCP server on stdio through `Handoff.serve_stdio`: `python fastmcp_stdio_server.py PORT`,
its passphrase's hash in $PASSPHRASE_FILE, its keys in $SERVER_SECRET and $HANDOFF_VAULT_KEYS."""

from __future__ import annotations

import os
import sys

import anyio
from fastmcp import FastMCP

from handoff import Handoff, Keyring, LocalIdentity

handoff = Handoff.in_memory(
    public_url=f"http://127.0.0.1:{sys.argv[1]}",
    browser=LocalIdentity.from_file(os.environ["PASSPHRASE_FILE"]),
    secret_key=os.environ["SERVER_SECRET"].encode(),
    keyring=Keyring.from_env(),
)
server = FastMCP("fastmcp-on-stdio", mask_error_details=True)


@server.tool
@handoff.requires_secret("api_key", label="API key")
async def use_key() -> str:
    return f"key ends with {handoff.secret('api_key')[-2:]}"


if __name__ == "__main__":
    anyio.run(handoff.serve_stdio, server)
