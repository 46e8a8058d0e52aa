"""The sign-in's landing place: http://127.0.0.1:PORT/callback, listening only while a sign-in waits."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from urllib.parse import urlsplit

import anyio
import uvicorn
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from .._appearance import Appearance
from .._i18n import Catalogs, Language
from .._i18n import gettext as _
from .._web import SECURITY_HEADERS, Renderer

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


@dataclass(frozen=True)
class _Look:
    """What the listener's pages are made with: handoff's templates, catalogs and stylesheet."""

    renderer: Renderer
    catalogs: Catalogs
    stylesheet: Markup
    headers: dict[str, str]


@functools.cache
def _look() -> _Look:
    css = (files("handoff") / "static" / "style.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    # The stylesheet comes inline (the listener closes once the answer came, before a browser would
    # fetch anything more); the policy allows that one stylesheet, by its hash, and nothing else.
    policy = (
        f"default-src 'none'; style-src 'sha256-{digest}'; form-action 'none'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    headers = {**SECURITY_HEADERS, "content-security-policy": policy}
    stylesheet = Markup(css)  # noqa: S704 (handoff's own file, not text from anyone else)
    return _Look(Renderer(Appearance()), Catalogs(), stylesheet, headers)


def _page(app: str, status: int, *, kind: str, title: str, text: str, next_step: str) -> HTMLResponse:
    """A page of the listener in the look of handoff's other pages, under the name of the program
    that waits for the sign-in (`app`), in the browser's language."""
    look = _look()
    site = {"name": app, "logo": None, "theme": False, "support": None}
    body = look.renderer.page(
        "loopback.html",
        site=site,
        root="",
        signed_in=None,
        stylesheet=look.stylesheet,
        kind=kind,
        title=title,
        text=text,
        next_step=next_step,
    )
    return HTMLResponse(body, status_code=status, headers=look.headers)


class LoopbackCallback:
    """Receives one OAuth redirect on http://127.0.0.1:PORT/callback (RFC 8252 loopback redirect).

    The port is fixed when the object is made, because the client registration names the exact
    redirect URI; the socket is only open while `receive` waits. The page the browser lands on names
    `app`, the program that waits.
    """

    def __init__(self, port: int = 0, *, app: str = "handoff") -> None:
        self.port = port or _free_port()
        self.app = app

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
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the listener binds
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

        app_name = self.app

        async def callback(request: Request) -> HTMLResponse:
            query = request.query_params
            if arrived.is_set() or not secrets.compare_digest(
                query.get("state", "").encode(), state.encode()
            ):
                return _page(
                    app_name,
                    400,
                    kind="sign-in-unexpected",
                    title=_("Not this sign-in"),
                    text=_(
                        "%(app)s is not waiting for this sign-in: it may come from an old tab, or be "
                        "meant for another program.",
                        app=app_name,
                    ),
                    next_step=_("Close this tab."),
                )
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
                return _page(
                    app_name,
                    200,
                    kind="signed-in",
                    title=_("Signed in"),
                    text=_("You are signed in, and %(app)s carries on.", app=app_name),
                    next_step=_("Close this tab and go back to %(app)s.", app=app_name),
                )
            error = got[0].error[:100] if got[0].error else _("no code")
            return _page(
                app_name,
                400,
                kind="sign-in-failed",
                title=_("Sign-in not completed"),
                text=_("The sign-in did not complete (%(error)s).", error=error),
                next_step=_("Close this tab and go back to %(app)s: it says what to do next.", app=app_name),
            )

        app = Starlette(
            routes=[Route(_PATH, callback)], middleware=[Middleware(Language, catalogs=_look().catalogs)]
        )
        server = _Server(uvicorn.Config(app, log_level="error", lifespan="off"))
        listener = socket.socket()
        try:
            # the last sign-in's connections may wait out TIME_WAIT on this port: it is free all the same
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
