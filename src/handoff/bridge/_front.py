"""The bridge's side facing the client: stdio (the default), or Streamable HTTP on a loopback address
for clients that only reach servers over HTTP."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import uvicorn
from mcp.server.lowlevel import Server

from .._errors import HandoffError
from ._pipes import stdio_streams

Serve = Callable[[Server[Any]], Awaitable[None]]
"""Serves one downstream `Server` until the client goes away (stdio) or the bridge is stopped (HTTP)."""


class CannotListen(HandoffError):
    """`--listen` names an address other hosts could reach, or a port that cannot be bound."""


def loopback(address: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:PORT` for IPv6) as a host and port, when HOST is a loopback address."""
    host, sep, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise CannotListen(f"--listen takes HOST:PORT, such as 127.0.0.1:8765 (not {address!r})")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        on_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        on_loopback = False
    if not on_loopback:
        raise CannotListen(
            f"--listen serves only on a loopback address such as 127.0.0.1:{port} (not {host!r}): "
            "anyone who reaches the bridge calls tools as you"
        )
    return host, int(port)


def url_of(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/mcp"


@contextlib.asynccontextmanager
async def stdio_front() -> AsyncIterator[Serve]:
    """Serving on stdin and stdout; from here on, stray output goes to stderr."""
    async with stdio_streams() as (read, write):

        async def serve(server: Server[Any]) -> None:
            await server.run(read, write, server.create_initialization_options())

        yield serve


@contextlib.asynccontextmanager
async def http_front(host: str, port: int, *, say: Callable[[str], None]) -> AsyncIterator[Serve]:
    """Serving Streamable HTTP at http://HOST:PORT/mcp (the port bound before anything else, so
    that a port in use is one line, and only said to be served once it is)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    if os.name != "nt":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CannotListen(f"cannot listen on {host}:{port} ({exc.strerror}); choose another port") from None

    async def serve(server: Server[Any]) -> None:
        app = server.streamable_http_app(host=host)
        web = uvicorn.Server(
            uvicorn.Config(
                app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=2
            )
        )
        async with server.session_manager.run():
            say(f"serving {server.name} at {url_of(host, port)}")
            await web.serve([sock])

    try:
        yield serve
    finally:
        sock.close()
