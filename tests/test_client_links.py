"""What the client does with the links servers send: one limit however they come, every link told,
and a loopback server's own pages trusted on the connection to that server only."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _server import ServerThread, free_port, python_path
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ElicitRequest, ElicitRequestURLParams, InputRequiredResult
from test_identities import PASSPHRASE
from test_identities import _local as local_server

from handoff.client import Considered, Decision, Elicitations, HandoffClient, PolicyConsent, check_url
from handoff.demo import ScriptedBrowser

pytestmark = pytest.mark.anyio

HERE = Path(__file__).parent

# One limit, whatever the shape: here the input requests of one InputRequiredResult (2026-07-28).
# The -32042 and elicitation/create shapes are in test_client.py, against the TypeScript peer.


def many_steps() -> MCPServer:
    server = MCPServer("many-steps", log_level="WARNING")

    @server.tool()
    async def steps(n: int, ctx: Context) -> InputRequiredResult | str:
        """Asks for `n` browser steps in one InputRequiredResult; then says how each was answered."""
        if ctx.input_responses:
            return json.dumps({key: answer.action for key, answer in ctx.input_responses.items()})
        return InputRequiredResult(
            input_requests={
                f"step{i}": ElicitRequest(
                    params=ElicitRequestURLParams(message=f"Step {i}", url=f"https://steps.example/{i}")
                )
                for i in range(n)
            },
            request_state="opaque",
        )

    return server


async def test_one_limit_for_the_input_requests_of_one_input_required_result():
    opened: list[str] = []
    told: list[tuple[str, Decision, str, int]] = []

    async def browser(url: str) -> None:
        opened.append(url)

    def on_link(link: Considered) -> None:
        told.append((link.url, link.decision, link.because, len(opened)))

    consent = PolicyConsent("ok")
    elicitations = Elicitations(consent, opener=browser, on_link=on_link)
    async with HandoffClient(many_steps(), mode="2026-07-28", elicitations=elicitations) as client:
        result = await client.call_tool("steps", {"n": 8})
    answers = json.loads(result.content[0].text)
    assert sorted(answers.values()) == ["accept"] * 5 + ["decline"] * 3
    assert len(consent.asked) == 5 and len(opened) == 5 and elicitations.refused_for_flooding == 3
    assert sorted(decision for _, decision, _, _ in told) == [Decision.ACCEPT] * 5 + [Decision.DECLINE] * 3
    assert {because for _, decision, because, _ in told if decision is Decision.DECLINE} == {"limit"}
    accepted = [(url, before) for url, decision, _, before in told if decision is Decision.ACCEPT]
    assert all(url not in opened[:before] for url, before in accepted)  # told before it was opened


# A loopback server's own links


@pytest.fixture
def local() -> Iterator[str]:
    port = free_port()
    handoff, mcp = local_server(port)
    server = ServerThread(handoff.app(mcp), port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_connected_loopback_servers_own_links_are_ok(local, mode):
    opened: list[str] = []

    async def person(url: str) -> None:
        opened.append(url)
        async with ScriptedBrowser(local) as browser:
            page = await browser.sign_in(await browser.open(url), "local", PASSPHRASE)
            await browser.submit(page, {"value": "abcdef", "action": "save"})

    consent = PolicyConsent("ok")  # the default of `handoff call`
    elicitations = Elicitations(consent, opener=person)
    async with HandoffClient(f"{local}/mcp", mode=mode, elicitations=elicitations) as client:
        result = await client.call_tool("use_token", {})
    assert result.content[0].text == "token has 6 characters"
    (asked,) = consent.asked
    assert asked.report.verdict == "ok" and opened == [asked.url]
    assert [(r.code, r.severity) for r in asked.report.reasons] == [("own-server", "note")]
    assert check_url(asked.url).verdict == "warn"  # the check itself is as strict as ever


def test_handoff_call_opens_a_local_servers_link_with_the_default_policy(local, tmp_path):
    env = {
        **os.environ,
        "BROWSER": f"{shlex.quote(sys.executable)} {HERE / 'fake_browser.py'} %s",
        "FAKE_USER": "local",
        "FAKE_PASSWORD": PASSPHRASE,
        "FAKE_SECRET": "abcdefgh",
        "FAKE_LOG": str(tmp_path / "browser.log"),
        "PYTHONPATH": python_path(HERE),
    }
    handoff = Path(sys.executable).parent / "handoff"
    done = subprocess.run(
        [str(handoff), "call", f"{local}/mcp", "use_token", "--no-store"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "token has 8 characters"
    assert f"OK: {local}/handoff/e/" in done.stderr
    assert "-> opened in your browser: --accept ok accepts links with nothing suspicious" in done.stderr
    assert "entered secret: Saved" in (tmp_path / "browser.log").read_text()


SERVER = "http://127.0.0.1:8000/mcp"


@pytest.mark.parametrize(
    ("server", "link", "verdict", "codes"),
    [
        (SERVER, "http://127.0.0.1:8000/handoff/e/abc", "ok", ["own-server"]),
        ("http://[::1]:8000/mcp", "http://[::1]:8000/handoff/e/abc", "ok", ["own-server"]),
        ("http://localhost:8000/mcp", "http://localhost:8000/handoff/e/abc", "ok", ["own-server"]),
        (SERVER, "http://127.0.0.1:8001/handoff/e/abc", "warn", ["port", "ip-host"]),
        (SERVER, "http://localhost:8000/handoff/e/abc", "warn", ["port"]),
        (SERVER, "https://127.0.0.1:8000/handoff/e/abc", "warn", ["port", "ip-host"]),
        (SERVER, "http://user@127.0.0.1:8000/e/abc", "warn", ["userinfo", "own-server"]),
        (SERVER, "http://0x7f.0.0.1:8000/e/abc", "warn", ["ip-spelling", "own-server"]),
        (SERVER, "javascript:alert(1)", "block", ["scheme"]),
        ("https://mcp.example.com/mcp", "http://127.0.0.1:8000/e/abc", "warn", ["port", "ip-host"]),
        ("https://192.0.2.7:8443/mcp", "https://192.0.2.7:8443/e/abc", "warn", ["port", "ip-host"]),
        (SERVER, "https://mcp.example.com/e/abc", "ok", []),
    ],
)
def test_only_the_same_loopback_origin_is_trusted(server, link, verdict, codes):
    report = Elicitations(PolicyConsent(), server_url=server).check(link)
    assert report.verdict == verdict and [r.code for r in report.reasons] == codes
    if "own-server" not in codes:
        assert report == check_url(link)
