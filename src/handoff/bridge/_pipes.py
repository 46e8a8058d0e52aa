"""stdin and stdout as non-blocking pipes on the event loop, for the bridge's stdio side.

The SDK's `stdio_server` reads and writes its standard streams through worker threads: a thread
hop for each line read and two for each line written, which under load cost a bridged call more
than the bridge's own work. A client that starts the bridge as a command (every MCP client does)
gives it pipes, which the event loop can wait on directly. Anything else (a terminal, a file)
is left to the SDK's own transport.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import AsyncIterator
from typing import Any, cast

import anyio
from mcp.server.stdio import stdio_server

_CHUNK = 65536


class _Lines:
    """Lines of text read from a non-blocking descriptor, as `stdio_server` iterates its stdin."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()
        self._ended = False

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line.decode("utf-8", errors="replace")
            if self._ended:
                if self._buffer:
                    rest = bytes(self._buffer)
                    self._buffer.clear()
                    return rest.decode("utf-8", errors="replace")
                raise StopAsyncIteration
            try:
                chunk = os.read(self.fd, _CHUNK)
            except BlockingIOError:
                await anyio.wait_readable(self.fd)
                continue
            if chunk:
                self._buffer += chunk
            else:
                self._ended = True


class _Writer:
    """Text written whole to a non-blocking descriptor, as `stdio_server` writes its stdout."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    async def write(self, text: str) -> None:
        data = memoryview(text.encode("utf-8"))
        while data:
            try:
                written = os.write(self.fd, data)
            except BlockingIOError:
                await anyio.wait_writable(self.fd)
                continue
            data = data[written:]

    async def flush(self) -> None:
        return None  # nothing is buffered here


def _is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@contextlib.contextmanager
def _claimed(fd: int, diversion: int) -> Any:
    """The wire of standard descriptor `fd` on a private, non-blocking duplicate, with `fd` itself
    pointed at `diversion` meanwhile (so that stray reads find nothing and stray prints miss the
    wire); both put back as they were at the end."""
    private = os.dup(fd)
    os.set_inheritable(private, False)
    blocking = os.get_blocking(private)
    try:
        os.dup2(diversion, fd)
        os.set_blocking(private, False)
        yield private
    finally:
        with contextlib.suppress(OSError):
            os.set_blocking(private, blocking)
        with contextlib.suppress(OSError):
            os.dup2(private, fd)
        os.close(private)


@contextlib.asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's stdio read and write streams, over the event loop's pipes where stdin and stdout
    are pipes (or sockets), else over the SDK's threads."""
    if not (_is_pipe(0) and _is_pipe(1)):
        async with stdio_server() as streams:
            yield streams
        return
    null = os.open(os.devnull, os.O_RDONLY)
    err = os.dup(2)
    try:
        with _claimed(0, null) as reading, _claimed(1, err) as writing:
            lines, out = cast(Any, _Lines(reading)), cast(Any, _Writer(writing))
            async with stdio_server(stdin=lines, stdout=out) as streams:
                yield streams
    finally:
        os.close(null)
        os.close(err)
