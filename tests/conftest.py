from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _calendar import CLIENT_ID, CLIENT_SECRET, calendar_at
from _postgres import Postgres
from _server import ServerThread, free_port

from handoff.demo import Demo, build_demo


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# The store: the end-to-end modules run on SQLite and on a real PostgreSQL (one server per session,
# a fresh database per test).

BOTH_STORES = {
    "test_elicitation_e2e",
    "test_modern_era",
    "test_approvals",
    "test_connections",
    "test_signin",
    "test_authserver_floods",
    "test_tracing",
}


# The framework: the end-to-end modules also run with the demo server written on FastMCP (on SQLite:
# the store and the framework are separate seams, so one database shows the framework's side).

BOTH_FRAMEWORKS = {
    "test_elicitation_e2e",
    "test_modern_era",
    "test_approvals",
    "test_connections",
    "test_tracing",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rpartition(".")[2]
    stores = ["sqlite", "postgresql"] if module in BOTH_STORES else []
    if "framework" in metafunc.fixturenames and module in BOTH_FRAMEWORKS:
        if "store" in metafunc.fixturenames and stores:
            combos = [(store, "sdk") for store in stores] + [("sqlite", "fastmcp")]
            metafunc.parametrize(
                ["store", "framework"], combos, indirect=True, ids=[f"{s}-{f}" for s, f in combos]
            )
        else:
            metafunc.parametrize("framework", ["sdk", "fastmcp"], indirect=True)
    elif "store" in metafunc.fixturenames and stores:
        metafunc.parametrize("store", stores, indirect=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = Postgres().start()
    try:
        yield server
    finally:
        server.close()


_databases = iter(range(1, 1_000_000))


@pytest.fixture
def database_url(postgres: Postgres) -> str:
    """A fresh, empty PostgreSQL database of the session's server."""
    return postgres.fresh_database(f"test{next(_databases)}")


@pytest.fixture
def framework(request: pytest.FixtureRequest) -> str:
    """The framework the test's demo server is written with: the SDK's MCPServer (the default), or
    FastMCP in the modules that run on both."""
    name: str = getattr(request, "param", "sdk")
    if name == "fastmcp" and importlib.util.find_spec("fastmcp") is None:
        pytest.fail("FastMCP is not installed: pip install -e '.[test,fastmcp]' (.ci/run does)")
    return name


@pytest.fixture(autouse=True)
def _framework_of_servers(framework: str) -> Iterator[None]:
    """Every demo server a test starts (`Running(...)`) is written with the test's framework."""
    Running.framework = framework
    try:
        yield
    finally:
        Running.framework = "sdk"


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str | None:
    """The database URL a test's demo server runs on: None for SQLite (the default), or a fresh
    PostgreSQL database in the modules that run on both."""
    if getattr(request, "param", "sqlite") == "postgresql":
        url: str = request.getfixturevalue("database_url")
        return url
    return None


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
    framework = "sdk"
    """The framework of the servers the running test starts (set per test, see `framework`)."""

    def __init__(
        self, data_dir: Path, *, port: int | None = None, tls: tuple[Path, Path] | None = None, **options: Any
    ) -> None:
        self.data_dir = data_dir
        self.options = {"framework": self.framework, **options}
        self.port = port or free_port()
        self.tls = tls
        """A key and certificate to serve https with (`_tls.loopback_certificate`), else plain http."""
        self.server: ServerThread | None = None
        self.demo: Demo
        self.recorder: Recorder

    def start(self) -> Running:
        scheme = "https" if self.tls else "http"
        self.demo = build_demo(f"{scheme}://127.0.0.1:{self.port}", self.data_dir, **self.options)
        self.recorder = Recorder(self.demo.app)
        ssl = {"ssl_keyfile": str(self.tls[0]), "ssl_certfile": str(self.tls[1])} if self.tls else {}
        self.server = ServerThread(self.recorder, self.port, **ssl).start()
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
def database_bytes(request: pytest.FixtureRequest, store: str | None, tmp_path: Path) -> Any:
    """Every byte the store wrote to disk so far: the SQLite file and its WAL, or PostgreSQL's whole
    data directory (its WAL included)."""

    def read() -> bytes:
        if store is None:
            return b"".join(p.read_bytes() for p in (tmp_path / "data").glob("handoff.db*"))
        root = request.getfixturevalue("postgres").data_dir
        return b"".join(p.read_bytes() for p in Path(root).rglob("*") if p.is_file())

    return read


@pytest.fixture
def running(tmp_path: Path, store: str | None) -> Iterator[Running]:
    server = Running(tmp_path / "data", database_url=store).start()
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


# A third-party OpenID Connect provider (oidc-provider, from npm) and a demo server that uses it.

PEER = Path(__file__).parent / "peer"


@dataclass
class World:
    server: Running
    oidc: str

    async def refreshes(self) -> int:
        async with httpx2.AsyncClient() as http:
            return int((await http.get(f"{self.oidc}/test/refreshes")).json().get(CLIENT_ID, 0))


def start_oidc(config: dict) -> tuple[subprocess.Popen[str], str]:
    if not (PEER / "node_modules" / "oidc-provider").exists():
        pytest.fail("oidc-provider is not installed: run `npm ci --prefix tests/peer` (.ci/run does)")
    port = free_port()
    process = subprocess.Popen(
        ["node", str(PEER / "oidc.mjs"), str(port), json.dumps(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening" in line, line
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture
def world(tmp_path: Path, store: str | None) -> Iterator[World]:
    port = free_port()
    callback = f"http://127.0.0.1:{port}/handoff/oauth/callback"
    process, oidc = start_oidc(
        {"clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [callback]}]}
    )
    server = Running(tmp_path / "data", port=port, providers=[calendar_at(oidc)], database_url=store).start()
    try:
        yield World(server, oidc)
    finally:
        server.stop()
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def world_browsers(world: World) -> AsyncIterator[Any]:
    from handoff.demo import ScriptedBrowser

    opened: list[ScriptedBrowser] = []

    def make() -> ScriptedBrowser:
        opened.append(ScriptedBrowser(world.server.origin))
        return opened[-1]

    yield make
    for b in opened:
        await b.http.aclose()


# Debian's Chromium, driven by Playwright, and where its screenshots go.


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    from _chromium import CHROMIUM, FLAGS
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        await browser.close()


@pytest.fixture
def screens(tmp_path: Path) -> Path:
    """Where screenshots go: $HANDOFF_SCREENSHOTS when set (to keep them), else the test's own folder."""
    folder = Path(os.environ.get("HANDOFF_SCREENSHOTS", tmp_path / "screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
