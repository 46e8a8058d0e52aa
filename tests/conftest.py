from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _server import ServerThread, free_port

from handoff.demo import Demo, build_demo


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorder:
    """ASGI wrapper that keeps every byte of the MCP endpoint's requests and responses."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.chunks: list[bytes] = []

    @property
    def traffic(self) -> bytes:
        return b"".join(self.chunks)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/mcp"):
            await self.app(scope, receive, send)
            return

        async def recv() -> Any:
            message = await receive()
            self.chunks.append(message.get("body", b""))
            return message

        async def snd(message: Any) -> None:
            self.chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, recv, snd)


class Running:
    def __init__(self, data_dir: Path, *, port: int | None = None, **options: Any) -> None:
        self.data_dir = data_dir
        self.options = options
        self.port = port or free_port()
        self.server: ServerThread | None = None
        self.demo: Demo
        self.recorder: Recorder

    def start(self) -> Running:
        self.demo = build_demo(f"http://127.0.0.1:{self.port}", self.data_dir, **self.options)
        self.recorder = Recorder(self.demo.app)
        self.server = ServerThread(self.recorder, self.port).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None

    @property
    def origin(self) -> str:
        return self.demo.public_url

    @property
    def mcp_url(self) -> str:
        return self.demo.mcp_url


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    server = Running(tmp_path / "data").start()
    yield server
    server.stop()


@pytest.fixture
async def browsers(running: Running) -> AsyncIterator[Any]:
    from handoff.demo import ScriptedBrowser

    opened: list[ScriptedBrowser] = []

    def make() -> ScriptedBrowser:
        b = ScriptedBrowser(running.origin)
        opened.append(b)
        return b

    yield make
    for b in opened:
        await b.http.aclose()
