"""The `handoff check` command group: `server` and `client` (each in its own module)."""

from __future__ import annotations

import click

from ._client import client
from ._server import server


@click.group()
def check() -> None:
    """Test an MCP server or client for URL mode elicitation conformance (both protocol eras).

    Each check names the requirement it tests (MUST, SHOULD or MAY, and the spec section) and ends
    PASS, FAIL or SKIP with a reason. Exit 0 when no MUST failed, 1 when one did, 2 when the check
    could not run or stopped before its end, 3 when it tested nothing (every MUST skipped)."""


check.add_command(server)
check.add_command(client)
