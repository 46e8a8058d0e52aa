"""`HandoffClient`: the official SDK client, with URL elicitation done right."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from mcp import Client
from mcp.client.session import ClientSession, IncomingMessage
from mcp_types import ClientCapabilities

from ._elicitations import Elicitations, Waiter
from ._retry import retry_after_elicitation


@dataclass
class HandoffClient(Client):
    """`mcp.Client` that declares exactly the elicitation modes it supports, asks consent before any
    URL is opened, and retries a tool call after error -32042 once the browser step is done.

    On 2026-07-28 connections the SDK's own multi-round-trip driver retries; the
    same consent and URL checks run for the URL requests inside `InputRequiredResult`.
    """

    elicitations: Elicitations | None = field(default=None, kw_only=True)
    waiter: Waiter | None = field(default=None, kw_only=True)
    """Lets a person say "done" or cancel while a call waits for the browser."""
    wait_timeout: float = field(default=600.0, kw_only=True)
    max_rounds: int = field(default=3, kw_only=True)

    def __post_init__(self) -> None:
        if self.elicitations is not None:
            self.elicitation_callback = self.elicitations.handle_request
            user_handler = self.message_handler
            elicitations = self.elicitations

            async def on_message(message: IncomingMessage) -> None:
                await elicitations.on_message(message)
                if user_handler is not None:
                    await user_handler(message)

            self.message_handler = on_message
        super().__post_init__()

    async def _build_session(self, exit_stack: AsyncExitStack) -> ClientSession:
        session = await super()._build_session(exit_stack)
        elicitations = self.elicitations
        if elicitations is not None:
            base = session._build_capabilities

            def declared(version: str) -> ClientCapabilities:
                return base(version).model_copy(update={"elicitation": elicitations.capability})

            session._build_capabilities = declared  # type: ignore[method-assign]
        return session

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        """`Client.call_tool`, retried after -32042 once the person finished in the browser."""
        if self.elicitations is None:
            return await super().call_tool(name, arguments, *args, **kwargs)

        async def call() -> Any:
            return await Client.call_tool(self, name, arguments, *args, **kwargs)

        return await retry_after_elicitation(
            call, self.elicitations, waiter=self.waiter, timeout=self.wait_timeout, max_rounds=self.max_rounds
        )
