"""What a tool can need from the user's browser, and how a need becomes a record."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

Validator = Callable[[str], "Awaitable[str | None] | str | None"]
"""Checks an entered value on the server: returns None to accept, or a message for the user."""

Delivery = Literal["error", "request"]
"""How a 2025-11-25 client is told: error -32042 (the client retries), or an `elicitation/create`
request inside the call, which then waits for the browser step."""


@dataclass(frozen=True)
class SecretNeed:
    """A named per-user secret (an API key, a token) that only ever travels through the browser."""

    name: str
    label: str
    help: str = ""
    message: str | None = None
    validate: Validator | None = None
    kind: str = "secret"

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    def prompt(self) -> str:
        """The sentence the MCP client shows next to the URL. Never carries a value."""
        return (
            self.message or f"Enter your {self.label} in your browser; it is stored encrypted on the server."
        )

    def params(self, tool: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "help": self.help,
            "tool": tool,
            "message": self.prompt(),
        }

    async def check(self, value: str) -> str | None:
        if self.validate is None:
            return None
        verdict = self.validate(value)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return verdict
