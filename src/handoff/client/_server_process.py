"""The process of a server started over stdio, kept to say how it ended when the connection did.

The SDK's `stdio_client` starts the process and never hands it out; its one spawning function is
wrapped here so that a connection that asks (`ServerProcess.spawning`) gets the process it started,
and a server that crashed is said to have exited, with its exit code, not asked whether it runs.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp.client.stdio as sdk_stdio

_asking: ContextVar[ServerProcess | None] = ContextVar("handoff_server_process", default=None)


@dataclass
class ServerProcess:
    """One stdio connection's server process, once started."""

    process: Any = None
    """The SDK's process (`returncode` is None while it runs)."""
    _closing: bool = field(default=False, repr=False)
    _ended_first: bool = field(default=False, repr=False)

    @contextlib.contextmanager
    def spawning(self) -> Iterator[None]:
        """Around entering the SDK's `stdio_client`: the process it starts is kept here."""
        token = _asking.set(self)
        try:
            yield
        finally:
            _asking.reset(token)

    def closing(self) -> None:
        """The connection is being closed from this side: an exit from now on may be the SDK's
        stopping the process, not the server's own doing."""
        if not self._closing:
            self._closing = True
            self._ended_first = self.returncode is not None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    async def settle(self, seconds: float = 2.0) -> None:
        """Give a process whose output just ended a moment to be seen exiting (its exit status and
        its end of output reach the event loop separately)."""
        with anyio.move_on_after(seconds):
            # An exit status has no event to wait on (`wait()` would wait for our own pipes too).
            while self.process is not None and self.returncode is None:  # noqa: ASYNC110
                await anyio.sleep(0.01)

    def ending(self) -> str | None:
        """How the server ended by itself: "exited with code 3", "was killed by signal SIGSEGV";
        None while it runs, or when it was this side that stopped it."""
        code = self.returncode
        if code is None or (self._closing and not self._ended_first and code < 0):
            return None
        if code >= 0:
            return f"exited with code {code}"
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"was killed by signal {name}"


Spawn = Callable[..., Awaitable[Any]]


def _recording(spawn: Spawn) -> Spawn:
    async def spawned(*args: Any, **kwargs: Any) -> Any:
        process = await spawn(*args, **kwargs)
        asking = _asking.get()
        if asking is not None:
            asking.process = process
        return process

    spawned.__wrapped__ = spawn  # type: ignore[attr-defined]
    return spawned


_original: Spawn | None = getattr(sdk_stdio, "_create_platform_compatible_process", None)
if _original is not None and not hasattr(_original, "__wrapped__"):
    sdk_stdio._create_platform_compatible_process = _recording(_original)  # type: ignore[assignment]
