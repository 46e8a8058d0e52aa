"""Every Python block in the README is an example file, and every example runs as written."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from _mcp import Notices, refuse_elicitation, text_of, user_client
from _server import free_port, python_path, wait_until_serving
from mcp import MCPError

from handoff import generate_key
from handoff.demo import ScriptedBrowser

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parent.parent
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
EXAMPLE_PASSWORD = "pw"  # alice's, in the server examples' run lines


def test_every_python_block_in_the_readme_is_an_example_file_verbatim():
    """The README's blocks are example files verbatim; the documentation's are included from the
    files themselves (`--8<-- "examples/..."`), or are example files verbatim too."""
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    assert blocks
    included = 0
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for block in BLOCK.findall(page.read_text()):
            if (snippet := re.fullmatch(r'--8<-- "(examples/[\w/]+\.py)"\n', block)) is not None:
                assert (ROOT / snippet.group(1)).is_file(), f"{page} includes a missing {snippet.group(1)}"
                included += 1
            else:
                blocks.append(block)
    assert included >= 4  # the server, FastMCP, stdio and client examples
    for block in blocks:
        first = block.splitlines()[0]
        match = re.match(r"# (examples/[\w/]+\.py)", first)
        assert match, f"README block does not start with its example file's name: {first!r}"
        assert (ROOT / match.group(1)).read_text() == block, f"{match.group(1)} differs from the README"


def fresh_copy(tmp_path: Path) -> Path:
    """The examples folder as a fresh clone has it (nothing an earlier run left), in a folder of its own."""
    clone = tmp_path / "clone"
    shutil.copytree(
        ROOT / "examples", clone / "examples", ignore=shutil.ignore_patterns(".handoff", "__pycache__")
    )
    return clone


def run_lines(example: str) -> dict[str, str]:
    """The shell commands an example's header gives, by their label ("Run", "Run once", …), with the
    header's continuation lines joined."""
    header = []
    for line in (ROOT / "examples" / example).read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line[1:].strip())
    text = " ".join(header).replace("\\ ", "")
    found = dict(re.findall(r"(Run(?: once)?|then point the client at): (.+?)(?= then point|$)", text))
    assert found, f"examples/{example} gives no run line"
    return {label: command.strip() for label, command in found.items()}


def shell_env(port: int) -> dict[str, str]:
    """The environment of a person who has handoff's Python first on PATH (as after activating the
    virtual environment), and picked a free port for the example."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PORT": str(port),
    }


@contextmanager
def serving(clone: Path, example: str, **env: str) -> Iterator[str]:
    """The example started with its run line, exactly as written, from the clone's folder (with `env`
    set beforehand, as a person's shell might have it); its origin."""
    port = free_port()
    process = subprocess.Popen(
        ["bash", "-c", run_lines(example)["Run"]],
        cwd=clone,
        env={**shell_env(port), **env},
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the shell and the Python it starts stop together
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{origin}/.well-known/oauth-authorization-server", process, f"examples/{example}")
        yield origin
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        _, errors = process.communicate(timeout=10)
        assert "Traceback" not in errors, errors


@pytest.fixture(params=["server.py", "fastmcp_server.py"])
def example_server(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The server example (the SDK's MCPServer), or the same tools written with FastMCP, run as its
    header says from a fresh copy."""
    with serving(fresh_copy(tmp_path), request.param) as origin:
        yield origin


async def test_the_server_example_asks_for_a_key_a_connection_and_an_approval(example_server):
    browser = ScriptedBrowser(example_server)
    async with user_client(f"{example_server}/mcp", browser, "alice", password=EXAMPLE_PASSWORD) as (
        client,
        notices,
    ):
        with pytest.raises(MCPError) as caught:
            await client.call_tool("forecast", {"city": "Oslo"})
        elicitation = caught.value.data["elicitations"][0]
        page = await browser.open(elicitation["url"])
        assert page.title == "Weather API key"
        refused = await browser.submit(page, {"value": "not-a-key", "action": "save"})
        assert not isinstance(refused, str) and "start with wk_" in refused.text
        saved = await browser.submit(page, {"value": "wk_example_1234", "action": "save"})
        assert not isinstance(saved, str) and saved.title == "Saved"
        assert await notices.wait_for(elicitation["elicitationId"])
        assert text_of(await client.call_tool("forecast", {"city": "Oslo"})).endswith("…1234)")

        with pytest.raises(MCPError) as caught:
            await client.call_tool("list_issues", {"repo": "octo/cat"})
        page = await browser.open(caught.value.data["elicitations"][0]["url"])
        assert "GitHub" in page.text and "repo" in page.text

        payment = {"amount": "12.00", "currency": "EUR", "payee": "Ink Ltd"}
        with pytest.raises(MCPError) as caught:
            await client.call_tool("send_payment", payment)
        approval = caught.value.data["elicitations"][0]
        page = await browser.open(approval["url"])
        assert "12.00 EUR" in page.text and "Ink Ltd" in page.text
        await browser.submit(page, {"action": "approve"})
        assert await notices.wait_for(approval["elicitationId"])
        assert text_of(await client.call_tool("send_payment", payment)) == "Paid 12.00 EUR to Ink Ltd."
    await browser.http.aclose()


@pytest.mark.parametrize("example", ["server.py", "fastmcp_server.py"])
async def test_a_server_example_runs_twice_in_a_row_and_keeps_what_it_stored(example, tmp_path):
    """A person runs the example, stores a key, stops it and runs the same line again: it starts (no
    new keys that cannot open the old vault) and the key is still there."""
    clone = fresh_copy(tmp_path)
    for run in ("first", "second"):
        with serving(clone, example) as origin:
            browser = ScriptedBrowser(origin)
            async with user_client(f"{origin}/mcp", browser, "alice", password=EXAMPLE_PASSWORD) as (
                client,
                notices,
            ):
                if run == "first":
                    with pytest.raises(MCPError) as caught:
                        await client.call_tool("forecast", {"city": "Oslo"})
                    elicitation = caught.value.data["elicitations"][0]
                    page = await browser.open(elicitation["url"])
                    await browser.submit(page, {"value": "wk_kept_4321", "action": "save"})
                    assert await notices.wait_for(elicitation["elicitationId"])
                answer = text_of(await client.call_tool("forecast", {"city": "Oslo"}))
                assert answer.endswith("…4321)"), (run, answer)
            await browser.http.aclose()
    kept = {p.name for p in (clone / "examples" / ".handoff" / example.removesuffix(".py")).iterdir()}
    assert {"handoff.db", "pages.key", "vault.key"} <= kept  # its own folder, beside no other example's


def test_the_client_example_signs_in_once_asks_consent_and_gets_the_result(example_server, tmp_path):
    here = Path(__file__).parent
    log = tmp_path / "browser.log"
    env = {
        **os.environ,
        "BROWSER": f"{sys.executable} {here / 'fake_browser.py'} %s",
        "FAKE_USER": "alice",
        "FAKE_PASSWORD": EXAMPLE_PASSWORD,
        "FAKE_SECRET": "wk_from_the_client_example",
        "FAKE_LOG": str(log),
        "PYTHONPATH": python_path(here),
        "HANDOFF_TOKENS": str(tmp_path / "tokens.json"),
    }
    command = [sys.executable, str(ROOT / "examples" / "client.py"), f"{example_server}/mcp"]
    first = subprocess.run(command, env=env, input="y\n", capture_output=True, text=True, timeout=90)
    assert first.returncode == 0, first.stderr
    assert "asks you to open http://127.0.0.1:" in first.stdout and "link check: " in first.stdout
    assert first.stdout.strip().endswith("Sunny in Oslo (fetched with the key ending …mple)")
    browser = log.read_text()
    assert browser.count("authorized") == 1 and "entered secret: Saved" in browser

    again = subprocess.run(command, env=env, input="", capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert "Sunny in Oslo" in again.stdout and "asks you to open" not in again.stdout
    assert log.read_text() == browser  # signed in from the token file: no browser at all


STDIO_PASSPHRASE = "a long passphrase only the person knows"


def choose_passphrase(clone: Path) -> None:
    """The stdio example's "Run once" line, as written, the person typing the passphrase twice."""
    chosen = subprocess.run(
        ["bash", "-c", run_lines("stdio_server.py")["Run once"]],
        cwd=clone,
        env=shell_env(free_port()),
        input=f"{STDIO_PASSPHRASE}\n{STDIO_PASSPHRASE}\n",
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # no terminal: the hidden prompt reads the typed lines from stdin
    )
    assert chosen.returncode == 0, chosen.stderr
    assert (clone / "examples" / ".handoff" / "stdio_server" / "passphrase").exists()


@asynccontextmanager
async def stdio_example(tmp_path: Path) -> AsyncIterator[tuple[Any, Notices, dict[str, str], str]]:
    """examples/stdio_server.py set up as its header says and started as a desktop client starts it, over
    stdin/stdout, after its tool asked for the key: the client, its notices, the elicitation and the
    pages' origin."""
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import get_default_environment

    clone = fresh_copy(tmp_path)
    choose_passphrase(clone)
    port = free_port()
    command, *args = shlex.split(run_lines("stdio_server.py")["then point the client at"])
    args = [str(clone / "examples" / "stdio_server.py") if a.endswith("stdio_server.py") else a for a in args]
    env = {**get_default_environment(), **shell_env(port)}
    server = StdioServerParameters(
        command=shutil.which(command, path=env["PATH"]) or command, args=args, env=env
    )
    notices = Notices()
    options = {
        "mode": "legacy",
        "message_handler": notices.handler,
        "elicitation_callback": refuse_elicitation,
    }
    async with Client(server, **options) as client:  # it declares elicitation: URL mode included
        with pytest.raises(MCPError) as caught:
            await client.call_tool("forecast", {"city": "Porto"})
        elicitation = caught.value.data["elicitations"][0]
        origin = f"http://127.0.0.1:{port}"
        assert elicitation["url"].startswith(f"{origin}/handoff/e/")
        yield client, notices, elicitation, origin
        assert await notices.wait_for(elicitation["elicitationId"])
        assert text_of(await client.call_tool("forecast", {"city": "Porto"})) == (
            "Sunny in Porto (asked with a key ending …5678)"
        )


async def test_the_stdio_example_runs_as_a_desktop_client_starts_it(tmp_path):
    """The client starts the server itself and talks over stdin/stdout; the link opens the pages on
    loopback, which ask for the person's passphrase; the key is stored, the notice comes, the retry
    runs. The pages never write to stdout (the MCP stream would break)."""
    async with stdio_example(tmp_path) as (_, _, elicitation, origin), ScriptedBrowser(origin) as person:
        login = await person.open(elicitation["url"])
        assert login.title == "Sign in to local-weather" and "passphrase" in login.text
        page = await person.sign_in(login, "local", STDIO_PASSPHRASE)
        assert page.title == "Weather API key"
        saved = await person.submit(page, {"value": "wk_local_5678", "action": "save"})
        assert not isinstance(saved, str) and saved.title == "Saved"


async def test_the_stdio_examples_pages_work_in_chromium(tmp_path, chromium):
    """The same story with a person at Chromium, which enforces the pages' CSP: nothing refused."""
    async with stdio_example(tmp_path) as (_, _, elicitation, _):
        page = await (await chromium.new_context()).new_page()
        consoles: list[str] = []
        page.on("console", lambda m: consoles.append(m.text))
        await page.goto(elicitation["url"])
        assert await page.inner_text("h1") == "Sign in to local-weather"
        await page.fill("#password", STDIO_PASSPHRASE)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#value")
        assert await page.inner_text("h1") == "Weather API key"
        await page.fill("#value", "wk_local_5678")
        await page.click("button[value=save]")
        await page.wait_for_selector("body.page-done")
        assert await page.inner_text("h1") == "Saved"
        assert not [m for m in consoles if "Content Security Policy" in m], consoles


def test_the_readmes_check_of_the_stdio_example_runs_as_written(tmp_path):
    """The README's `handoff check server … -- python examples/stdio_server.py`, after the example's
    "Run once" line, from a fresh copy: it starts the server for each session (one after another on
    the example's fixed port), finishes the browser step with the passphrase, and ends in its report."""
    readme = (ROOT / "README.md").read_text()
    line = re.search(
        r"`(handoff check server\s+--password PASSPHRASE -- python examples/stdio_server\.py)`", readme
    )
    assert line, "the README no longer gives the stdio example's check"
    clone = fresh_copy(tmp_path)
    choose_passphrase(clone)
    as_typed = " ".join(line.group(1).split()).replace("PASSPHRASE", shlex.quote(STDIO_PASSPHRASE))
    env = shell_env(free_port())
    env.pop("PUBLIC_URL")  # as the README gives it: the example's own port
    checked = subprocess.run(
        ["bash", "-c", as_typed], cwd=clone, env=env, capture_output=True, text=True, timeout=240
    )
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert "Traceback" not in output and "ExceptionGroup" not in output
    assert re.search(r"│ PASS │ MUST +│ 2025-11-25 │ Once the browser step is complete", output), output
    assert re.search(r"\(\d+ passed, 0 failed, \d+ skipped\)", output), output


async def test_a_server_on_stdio_is_refused_what_it_cannot_do(tmp_path):
    import socket

    from mcp.server.mcpserver import MCPServer

    from handoff import AuthServer, ConfigError, CustomIdentity, Handoff, Keyring, LocalIdentity, LocalUser
    from handoff.identity import write_passphrase

    keys = {"secret_key": b"s" * 32, "keyring": Keyring.parse(generate_key())}
    mcp = MCPServer("local", log_level="WARNING")
    auth = AuthServer(
        {}, signing_key=b"k" * 32, issuer="http://127.0.0.1:9", pages_url="http://127.0.0.1:9/handoff"
    )
    tokens = Handoff.in_memory(public_url="http://127.0.0.1:9", browser=auth, **keys)
    with pytest.raises(ConfigError, match="no access tokens to tell its user by"):
        await tokens.serve_stdio(mcp)

    async def nobody(request: object) -> None:
        return None

    remote = Handoff.in_memory(
        public_url="https://pages.example.com",
        browser=CustomIdentity(nobody),
        mcp_identity=LocalUser(),
        **keys,
    )
    with pytest.raises(ConfigError, match="loopback public_url"):
        await remote.serve_stdio(mcp)

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        local = Handoff.in_memory(
            public_url=f"http://127.0.0.1:{port}",
            browser=LocalIdentity.from_file(write_passphrase(tmp_path / "hash", "a long passphrase")),
            **keys,
        )
        with pytest.raises(ConfigError, match=f"cannot serve the pages on 127.0.0.1:{port}"):
            await local.serve_stdio(mcp)


async def test_the_traced_server_example_sends_one_trace_per_round_trip_to_a_collector(tmp_path):
    """examples/traced_server.py, run as its header says, with a collector listening where
    OTEL_EXPORTER_OTLP_ENDPOINT says: the tool call's trace holds handoff's link, and the browser's
    page and completion join it."""
    import anyio
    from _otlp import Collector

    wanted = {"handoff.link", "handoff.page", "handoff.complete", "handoff.notice"}
    with Collector() as collector:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        with serving(fresh_copy(tmp_path), "traced_server.py", **env) as origin:
            browser = ScriptedBrowser(origin)
            async with user_client(f"{origin}/mcp", browser, "alice", password=EXAMPLE_PASSWORD) as (
                client,
                notices,
            ):
                with pytest.raises(MCPError) as caught:
                    await client.call_tool("forecast", {"city": "Oslo"})
                elicitation = caught.value.data["elicitations"][0]
                page = await browser.open(elicitation["url"])
                saved = await browser.submit(page, {"value": "wk_traced_5678", "action": "save"})
                assert not isinstance(saved, str) and saved.title == "Saved"
                assert await notices.wait_for(elicitation["elicitationId"])
                assert text_of(await client.call_tool("forecast", {"city": "Oslo"})).endswith("…5678)")
            spans = await anyio.to_thread.run_sync(collector.wait_for, wanted)
    assert wanted <= {s.name for s in spans}, sorted({s.name for s in spans})
    assert {s.service for s in spans} == {"weather-and-payments"}
    (link,) = [s for s in spans if s.name == "handoff.link"]
    call = next(s for s in spans if s.span_id == link.parent_id)  # the SDK's tools/call span
    assert "tools/call" in call.name and call.trace_id == link.trace_id
    for name in wanted - {"handoff.link"}:
        for span in (s for s in spans if s.name == name):
            assert link.trace_id in (span.trace_id, *span.links), (name, span)
    assert not any("wk_traced_5678" in value for s in spans for value in s.attributes.values())
