"""A server under check that runs over stdio: the command the checker starts, one process per session,
with every message the process wrote kept for the checks that read the wire itself.

Over stdio there is no OAuth: the server's user is whoever runs it, and a session is a process. The
process gets the checker's environment (less the checker's own HANDOFF_CHECK_* settings), as it
would get its user's environment from an MCP client's configuration.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import anyio
import mcp_types
from mcp import StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.message import SessionMessage

from .._command_line import displayed
from ..client._server_process import ServerProcess


@dataclass(frozen=True)
class Command:
    """`COMMAND ARGS` as given after `--`."""

    argv: tuple[str, ...]

    def __str__(self) -> str:
        return displayed(self.argv)

    def parameters(self) -> StdioServerParameters:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_CHECK_")}
        return StdioServerParameters(command=self.argv[0], args=list(self.argv[1:]), env=env)


@dataclass
class Message:
    """One message the server process wrote (as the SDK parsed it), in the shape `Recording` keeps
    HTTP responses: no status over stdio."""

    method: str = "stdio"
    status: int | None = None
    body: bytes = b""


@dataclass
class StdioRecording:
    """Every message one server process wrote, and what it printed on stderr."""

    exchanges: list[Message] = field(default_factory=list)
    errlog: TextIO = field(default_factory=lambda: tempfile.TemporaryFile("w+", encoding="utf-8"))
    process: ServerProcess = field(default_factory=ServerProcess)
    """The server's process, to say how it ended."""

    @property
    def traffic(self) -> bytes:
        return b"".join(m.body for m in self.exchanges)

    def record(self, item: SessionMessage | Exception) -> None:
        if isinstance(item, SessionMessage):
            body = mcp_types.jsonrpc_message_adapter.dump_json(item.message, by_alias=True, exclude_none=True)
            self.exchanges.append(Message(body=body))

    def stderr_tail(self, lines: int = 1) -> str:
        """The last lines the process printed on stderr ("" when it printed nothing)."""
        try:
            self.errlog.flush()
            self.errlog.seek(0)
            printed = [line.rstrip() for line in self.errlog.read().splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return " / ".join(printed[-lines:])

    async def aclose(self) -> None:
        self.errlog.close()


class _RecordedReads:
    """The SDK's read stream from the process, each message kept as it is read."""

    def __init__(self, inner: Any, wire: StdioRecording) -> None:
        self.inner = inner
        self.wire = wire

    async def receive(self) -> SessionMessage | Exception:
        item: SessionMessage | Exception = await self.inner.receive()
        self.wire.record(item)
        return item

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __aiter__(self) -> _RecordedReads:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _RecordedReads:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@contextlib.asynccontextmanager
async def stdio_transport(command: Command, wire: StdioRecording) -> AsyncIterator[tuple[Any, Any]]:
    """A transport for `mcp.Client`: the official SDK's stdio client running `command`, its reads
    recorded in `wire` and its stderr kept there (not mixed into the checker's output)."""
    with wire.process.spawning():
        async with stdio_client(command.parameters(), errlog=wire.errlog) as (read, write):
            yield _RecordedReads(read, wire), write


class StartFailed(Exception):
    """A server process did not get as far as answering the handshake."""

    def __init__(self, command: Command, wire: StdioRecording, cause: BaseException) -> None:
        said = wire.stderr_tail()
        ended = wire.process.ending()
        why = f"it printed: {said[:300]}" if said else f"{type(cause).__name__}: {_first_line(cause)}"
        if ended is not None:
            why = f"it {ended}" + (f"; it printed: {said[:300]}" if said else "")
        super().__init__(f"`{command}` did not start as an MCP server on stdio ({why})")
        self.said = said


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _first_line(exc.exceptions[0])
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "no message"
