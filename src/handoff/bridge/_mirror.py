"""The upstream's resources, prompts, completions and logging, served to the client in front as the
upstream answers them; its `list_changed` notices and log messages sent on."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CompleteRequestParams,
    CompleteResult,
    EmptyResult,
    GetPromptRequestParams,
    GetPromptResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    LoggingLevel,
    LoggingMessageNotificationParams,
    PaginatedRequestParams,
    PromptListChangedNotification,
    ReadResourceRequestParams,
    ReadResourceResult,
    ResourceListChangedNotification,
    SetLevelRequestParams,
    ToolListChangedNotification,
)

from ..client import HandoffClient
from ._passthrough import Downstreams
from ._steps import current

logger = logging.getLogger("handoff.bridge")
T = TypeVar("T")
LEVELS: list[LoggingLevel] = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


class Mirror:
    """The handlers for what the upstream declared, each one the upstream's own answer."""

    def __init__(self, downstreams: Downstreams) -> None:
        self.downstreams = downstreams
        self.level: LoggingLevel | None = None
        """The level the client in front asked for (until it asks, everything is relayed)."""
        self.client: HandoffClient | None = None
        """Set once connected: notices that arrive sooner have no client in front to go to yet."""

    def handlers(self, client: HandoffClient) -> dict[str, Any]:
        """The `Server` handlers for what `client`'s server declared (so the client in front sees the
        same capabilities)."""
        self.client = client
        declared = client.server_capabilities
        handlers: dict[str, Any] = {}
        if declared.resources is not None:
            handlers |= {
                "on_list_resources": self.list_resources,
                "on_list_resource_templates": self.list_resource_templates,
                "on_read_resource": self.read_resource,
            }
        if declared.prompts is not None:
            handlers |= {"on_list_prompts": self.list_prompts, "on_get_prompt": self.get_prompt}
        if declared.completions is not None:
            handlers["on_completion"] = self.complete
        handlers["on_set_logging_level"] = self.set_level  # relayed messages are filtered here too
        return handlers

    async def _up(self, answer: Awaitable[T]) -> T:
        try:
            return await answer
        except MCPError as exc:
            raise MCPError(exc.code, exc.message, exc.error.data) from None

    async def list_resources(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        assert self.client is not None
        return await self._up(self.client.list_resources(cursor=params.cursor if params else None))

    async def list_resource_templates(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourceTemplatesResult:
        assert self.client is not None
        return await self._up(self.client.list_resource_templates(cursor=params.cursor if params else None))

    async def read_resource(
        self, ctx: ServerRequestContext[Any], params: ReadResourceRequestParams
    ) -> ReadResourceResult:
        assert self.client is not None
        return await self._up(self.client.read_resource(str(params.uri)))

    async def list_prompts(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListPromptsResult:
        assert self.client is not None
        return await self._up(self.client.list_prompts(cursor=params.cursor if params else None))

    async def get_prompt(
        self, ctx: ServerRequestContext[Any], params: GetPromptRequestParams
    ) -> GetPromptResult:
        assert self.client is not None
        return await self._up(self.client.get_prompt(params.name, params.arguments))

    async def complete(self, ctx: ServerRequestContext[Any], params: CompleteRequestParams) -> CompleteResult:
        assert self.client is not None
        argument = {"name": params.argument.name, "value": params.argument.value}
        context = params.context.arguments if params.context is not None else None
        return await self._up(self.client.complete(params.ref, argument, context))

    async def set_level(self, ctx: ServerRequestContext[Any], params: SetLevelRequestParams) -> EmptyResult:
        """The level for the upstream (when it declared logging) and for what is relayed from it."""
        assert self.client is not None
        self.level = params.level
        if self.client.server_capabilities.logging is not None:
            return await self._up(self.client.set_logging_level(params.level))
        return EmptyResult()

    # From the upstream

    async def log(self, params: LoggingMessageNotificationParams) -> None:
        """An upstream log message: to the call it came with, else to every 2025 client in front."""
        if self.level is not None and LEVELS.index(params.level) < LEVELS.index(self.level):
            return
        step = current.get()
        sessions = [f.session for f in step.followers] if step is not None else self.downstreams.handshaken()
        for session in sessions:
            try:
                await session.send_log_message(params.level, params.data, params.logger)
            except Exception as exc:  # that client went away
                logger.debug("log message not sent on: %s", type(exc).__name__)

    async def notice(self, message: object) -> None:
        """`list_changed` notices, sent on to every 2025 client in front (a 2026-07-28 client
        listens for changes on a stream of its own)."""
        if isinstance(message, ToolListChangedNotification):
            send = "send_tool_list_changed"
        elif isinstance(message, ResourceListChangedNotification):
            send = "send_resource_list_changed"
        elif isinstance(message, PromptListChangedNotification):
            send = "send_prompt_list_changed"
        else:
            return
        for session in self.downstreams.handshaken():
            try:
                await getattr(session, send)()
            except Exception as exc:
                logger.debug("notice not sent on: %s", type(exc).__name__)
