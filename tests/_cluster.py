"""Three demo server processes on one PostgreSQL database behind haproxy, for the replica tests.

Each replica is its own uvicorn process (tests/replica_server.py). Requests go through the
balancer, which takes a replica that is not ready (`/readyz`) out of its round robin; a request
carrying `X-Handoff-Route: replicaN` is sent to that replica, so a test can put the MCP connection
on one replica and each browser step on another, and every response says which replica served it
(`X-Handoff-Replica`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from _mcp import Notices
from _server import free_port, wait_until_serving
from mcp import Client
from mcp.client.auth import OAuthClientProvider

from handoff.demo import DEMO_USERS, ScriptedBrowser
from handoff.demo._balancer import Balancer
from handoff.demo._client import demo_client, signed_in_http

SERVER = Path(__file__).parent / "replica_server.py"


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes] | None = None


Route = Callable[[httpx2.Request], str | None]
"""Which replica a request should go to (None: let the balancer choose)."""


@dataclass
class Served:
    """The replicas that answered, in order: each with the path, and whether the request was in an MCP
    session (carried `Mcp-Session-Id`)."""

    by: list[tuple[str, str, bool]] = field(default_factory=list)
    http: httpx2.AsyncClient | None = None

    async def hook(self, response: httpx2.Response) -> None:
        request = response.request
        in_session = "mcp-session-id" in request.headers
        self.by.append((response.headers.get("x-handoff-replica", "?"), request.url.path, in_session))

    def names(self, path_prefix: str = "", *, session: bool = False) -> set[str]:
        return {
            n
            for n, path, in_session in self.by
            if path.startswith(path_prefix) and (in_session or not session)
        }


def routed(http: httpx2.AsyncClient, route: Route) -> Served:
    """Route `http`'s requests with `route`, and record which replica answered each."""
    served = Served()

    async def add_route(request: httpx2.Request) -> None:
        target = route(request)
        if target is not None and "x-handoff-route" not in request.headers:  # a request's own wins
            request.headers["x-handoff-route"] = target

    http.event_hooks["request"].append(add_route)
    http.event_hooks["response"].append(served.hook)
    return served


def to(name: str | None) -> Route:
    return lambda _request: name


class Cluster:
    def __init__(self, database_url: str, data_dir: Path, *, replicas: int = 3, oidc: str | None = None):
        self.database_url = database_url
        self.data_dir = data_dir
        self.oidc = oidc
        self.replicas = [Replica(f"replica{n}", free_port()) for n in range(1, replicas + 1)]
        self.database_urls: dict[str, str] = {}
        """A replica's own way to the database, where it differs (through a `Forwarder`)."""
        self.balancer = Balancer([("127.0.0.1", r.port) for r in self.replicas], route_header=True)
        self.origin = self.balancer.url

    @property
    def mcp_url(self) -> str:
        return f"{self.origin}/mcp"

    def start(self) -> Cluster:
        for replica in self.replicas:
            self._spawn(replica)
        for replica in self.replicas:
            self._wait(replica)
        self.balancer.start()
        return self

    def _spawn(self, replica: Replica) -> None:
        database_url = self.database_urls.get(replica.name, self.database_url)
        args = [sys.executable, str(SERVER), str(replica.port), self.origin, database_url]
        args += [str(self.data_dir), *([self.oidc] if self.oidc else [])]
        replica.process = subprocess.Popen(args, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def replica(self, name: str) -> Replica:
        return next(r for r in self.replicas if r.name == name)

    def kill(self, name: str) -> None:
        """kill -9, as a crashed machine would."""
        replica = self.replica(name)
        assert replica.process is not None
        replica.process.send_signal(signal.SIGKILL)
        replica.process.wait(timeout=10)
        replica.process = None

    def revive(self, name: str) -> None:
        replica = self.replica(name)
        self._spawn(replica)
        self._wait(replica)

    def _wait(self, replica: Replica) -> None:
        url = f"http://127.0.0.1:{replica.port}/.well-known/oauth-authorization-server"
        wait_until_serving(url, replica.process, replica.name)

    def stop(self) -> None:
        self.balancer.close()
        for replica in self.replicas:
            if replica.process is not None:
                replica.process.terminate()
        for replica in self.replicas:
            if replica.process is not None:
                try:
                    replica.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    replica.process.kill()
                replica.process = None

    def browser(self, route: Route) -> tuple[ScriptedBrowser, Served]:
        browser = ScriptedBrowser(self.origin)
        return browser, routed(browser.http, route)

    @asynccontextmanager
    async def client(
        self,
        browser: ScriptedBrowser,
        user: str,
        *,
        route: Route | None = None,
        same_app_as: httpx2.AsyncClient | None = None,
        **options: Any,
    ) -> AsyncIterator[tuple[Client, Notices, Served]]:
        """The official SDK client signed in as `user` (its sign-in done by `browser`), through the
        balancer, its requests routed by `route`. `same_app_as` reuses another client's OAuth
        registration and tokens (the same app on a new connection), as the SDK binds a 2026 request
        state to the app it was given to."""
        notices = Notices()
        http = signed_in_http(self.mcp_url, browser, user, DEMO_USERS[user])
        if same_app_as is not None:
            http = again(same_app_as, self.mcp_url)
        served = routed(http, route or to(None))
        served.http = http
        options.setdefault("elicitation_callback", _no_elicitation)
        try:
            async with demo_client(self.mcp_url, http, message_handler=notices.handler, **options) as client:
                yield client, notices, served
        finally:
            await http.aclose()


def again(http: httpx2.AsyncClient, mcp_url: str) -> httpx2.AsyncClient:
    """A new HTTP client for the app `http` signed in as (its OAuth provider serializes requests, so a
    second connection needs a provider of its own over the same stored tokens)."""
    context = http.auth.context  # type: ignore[union-attr]
    return httpx2.AsyncClient(
        timeout=60,
        auth=OAuthClientProvider(
            server_url=mcp_url,
            client_metadata=context.client_metadata,
            storage=context.storage,
            redirect_handler=context.redirect_handler,
            callback_handler=context.callback_handler,
        ),
    )


async def _no_elicitation(*_: object) -> Any:
    raise AssertionError("the server sent elicitation/create where -32042 was expected")
