"""The `handoff check` command group: `server` and `client` (each in its own module)."""

from __future__ import annotations

import click


@click.group()
def check() -> None:
    """Test an MCP server or client for URL mode elicitation conformance (both protocol eras).

    Each check names the requirement it tests (MUST or SHOULD, and the spec section) and ends PASS,
    FAIL or SKIP with a reason. Exit 0 when no MUST failed."""


from ._client import client  # noqa: E402 (each command lives in its own module)

check.add_command(client)

from ._server import server  # noqa: E402 (each command lives in its own module)

check.add_command(server)
