"""Serving the demo server with uvicorn, so that it either serves or says in one line why not.

The port is taken first (a port in use is a `ConfigError` naming it), then the app starts (its store:
a SQLite file another server holds, a vault key that opens nothing, is the app's own `ConfigError`),
and only then is the banner printed and uvicorn started on the socket already listening.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Callable, Iterator

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from .._errors import ConfigError


def listening(host: str, port: int) -> socket.socket:
    """A socket listening on `host:port`, or a ConfigError saying the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no owner
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}): another program (another handoff demo?) "
            "is using that port; stop it, or choose another with --port"
        ) from None
    return sock


def serve(app: Starlette, sock: socket.socket, *, ready: Callable[[], None]) -> None:
    """Serve `app` on `sock` (see `listening`) until Ctrl-C or SIGTERM, calling `ready` once it can
    answer.

    The app's lifespan (the store, the bus) runs here around uvicorn rather than inside it, so that a
    failure to start is raised to the caller instead of logged as a traceback by uvicorn; a signal
    stops uvicorn, then the app, then returns."""
    try:
        anyio.run(_serve, app, sock, ready)
    finally:
        sock.close()


async def _serve(app: Starlette, sock: socket.socket, ready: Callable[[], None]) -> None:
    async with app.router.lifespan_context(app) as state:
        shared = dict(state or {})

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            if shared and scope["type"] in ("http", "websocket"):
                scope = {**scope, "state": dict(shared)}  # what a lifespan yields, per request
            await app(scope, receive, send)

        # No proxy in front of the demo: X-Forwarded-For from a local caller must not be believed.
        config = uvicorn.Config(with_state, lifespan="off", log_level="warning", proxy_headers=False)
        server = _Server(config)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_signal, server)
            ready()
            await server.serve(sockets=[sock])
            tg.cancel_scope.cancel()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # `_stop_on_signal` listens instead: uvicorn would raise the signal again once it stopped,
        # which would end this process before the app's own shutdown.
        yield


async def _stop_on_signal(server: uvicorn.Server) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            server.force_exit = server.should_exit  # a second Ctrl-C stops without waiting
            server.should_exit = True
