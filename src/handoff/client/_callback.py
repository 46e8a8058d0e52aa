"""The sign-in's landing place: http://127.0.0.1:PORT/callback, listening only while a sign-in waits."""

from __future__ import annotations

import contextlib
import html
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

_HOST = "127.0.0.1"
_PATH = "/callback"


@dataclass(frozen=True)
class Redirect:
    """What the authorization server sent back through the browser: a code, or an error."""

    state: str
    code: str | None = field(default=None, repr=False)
    iss: str | None = None
    error: str | None = None
    error_description: str | None = None


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: Ctrl-C during a sign-in stays the program's to handle."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _page(text: str, status: int) -> HTMLResponse:
    body = f"<!doctype html><title>Sign-in</title><p>{html.escape(text)}</p>"
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(body, status_code=status, headers=headers)


class LoopbackCallback:
    """Receives one OAuth redirect on http://127.0.0.1:PORT/callback (RFC 8252 loopback redirect).

    The port is fixed when the object is made, because the client registration names the exact
    redirect URI; the socket is only open while `receive` waits.
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port or _free_port()

    @property
    def url(self) -> str:
        return f"http://{_HOST}:{self.port}{_PATH}"

    @staticmethod
    def port_of(redirect_uri: str) -> int | None:
        """The port of a redirect URI of this shape (http://127.0.0.1:PORT/callback), else None."""
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname != _HOST or parts.path != _PATH:
            return None
        return parts.port

    def is_free(self) -> bool:
        with socket.socket() as probe:
            try:
                probe.bind((_HOST, self.port))
            except OSError:
                return False
        return True

    async def receive(
        self, state: str, timeout: float, send_person: Callable[[], Awaitable[None]]
    ) -> Redirect | None:
        """Listen, let `send_person` open the authorization page, and wait up to `timeout` seconds for
        the redirect carrying `state`; None if none came in time.

        A request with another state (a stale tab, another program) gets an error page and is
        ignored, so nothing but the authorization server's answer to this sign-in ends the wait.
        Raises OSError when the port is taken.
        """
        arrived = anyio.Event()
        got: list[Redirect] = []

        async def callback(request: Request) -> HTMLResponse:
            query = request.query_params
            if arrived.is_set() or not secrets.compare_digest(
                query.get("state", "").encode(), state.encode()
            ):
                return _page("This is not the sign-in this program is waiting for. Close this tab.", 400)
            got.append(
                Redirect(
                    state,
                    code=query.get("code"),
                    iss=query.get("iss"),
                    error=query.get("error"),
                    error_description=query.get("error_description"),
                )
            )
            arrived.set()
            if got[0].code:
                return _page("You are signed in. You can close this tab.", 200)
            return _page(f"The sign-in did not complete ({got[0].error or 'no code'}). Close this tab.", 400)

        app = Starlette(routes=[Route(_PATH, callback)])
        server = _Server(uvicorn.Config(app, log_level="error", lifespan="off"))
        listener = socket.socket()
        try:
            listener.bind((_HOST, self.port))
            listener.listen(8)
        except OSError:
            listener.close()
            raise
        failed: list[Exception] = []  # raised after the task group, so callers see it unwrapped
        with listener:
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve, [listener])
                try:
                    with anyio.move_on_after(timeout):
                        await send_person()
                        await arrived.wait()
                except Exception as exc:
                    failed.append(exc)
                finally:
                    server.should_exit = True
        if failed:
            raise failed[0]
        return got[0] if got else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((_HOST, 0))
        return int(s.getsockname()[1])
