"""The client library against real servers: handoff's demo (both eras) and a TypeScript SDK peer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from _mcp import text_of
from _server import free_port
from mcp.client.streamable_http import streamable_http_client

from handoff.client import (
    ConsentRequest,
    Considered,
    Decision,
    ElicitationFailed,
    Elicitations,
    HandoffClient,
    PolicyConsent,
)
from handoff.demo import DEMO_USERS, ScriptedBrowser
from handoff.demo._client import signed_in_http

pytestmark = pytest.mark.anyio

PEER = Path(__file__).parent / "peer"


class Person:
    """Plays the person at the system browser: completes the page the client opened."""

    def __init__(self, browser: ScriptedBrowser, value: str = "wk_client_test_12345") -> None:
        self.browser = browser
        self.value = value
        self.opened: list[str] = []
        self.finish = True

    async def open(self, url: str) -> None:
        self.opened.append(url)
        if self.finish:
            page = await self.browser.open(url)
            await self.browser.submit(page, {"value": self.value, "action": "save"})


def demo_client(running, browser, person, mode: str, consent=None, **options) -> HandoffClient:
    http = signed_in_http(running.mcp_url, browser, "alice", DEMO_USERS["alice"])
    elicitations = Elicitations(consent or PolicyConsent("warn"), server="handoff-demo", opener=person.open)
    return HandoffClient(
        streamable_http_client(running.mcp_url, http_client=http),
        mode=mode,
        elicitations=elicitations,
        **options,
    )


def tool_calls(running) -> int:
    return running.recorder.traffic.count(b'"method":"tools/call"')


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_consent_open_wait_retry_in_both_eras(running, browsers, mode):
    browser = browsers()
    person = Person(browser)
    consent = PolicyConsent("warn")
    async with demo_client(running, browser, person, mode, consent) as client:
        result = await client.call_tool("forecast", {"city": "Oslo"})
    assert not result.is_error and "Oslo" in text_of(result)
    assert len(consent.asked) == 1 and len(person.opened) == 1
    asked = consent.asked[0]
    assert asked.server == "handoff-demo" and asked.report.verdict == "warn"  # loopback http, port
    assert asked.elicitation_id is not None if mode == "legacy" else asked.elicitation_id is None
    assert tool_calls(running) == 2  # the first call, then exactly one retry


async def test_declares_exactly_the_supported_modes(running, browsers):
    browser = browsers()
    async with demo_client(running, browser, Person(browser), "legacy") as client:
        await client.call_tool("whoami", {})
    traffic = running.recorder.traffic
    assert b'"elicitation":{"url":{}}' in traffic and b'"form"' not in traffic


async def test_decline_opens_nothing_and_says_so(running, browsers):
    browser = browsers()
    person = Person(browser)
    async with demo_client(running, browser, person, "legacy", PolicyConsent("none")) as client:
        with pytest.raises(ElicitationFailed, match="declined"):
            await client.call_tool("forecast", {"city": "Oslo"})
    assert person.opened == [] and tool_calls(running) == 1


async def test_loop_guard_when_the_server_asks_for_the_same_step_again(running, browsers):
    browser = browsers()
    person = Person(browser)
    person.finish = False

    async def says_done() -> str:
        return "done"

    async with demo_client(running, browser, person, "legacy", waiter=says_done) as client:
        with pytest.raises(ElicitationFailed, match="asked again"):
            await client.call_tool("forecast", {"city": "Oslo"})
    assert tool_calls(running) == 2


async def test_waiting_is_bounded(running, browsers):
    browser = browsers()
    person = Person(browser)
    person.finish = False
    async with demo_client(running, browser, person, "legacy", wait_timeout=0.5) as client:
        with pytest.raises(ElicitationFailed, match="no word from the server"):
            await client.call_tool("forecast", {"city": "Oslo"})


async def test_person_can_cancel_while_waiting(running, browsers):
    browser = browsers()
    person = Person(browser)
    person.finish = False

    async def cancels() -> str:
        await anyio.sleep(0.2)
        return "cancel"

    async with demo_client(running, browser, person, "legacy", waiter=cancels) as client:
        with pytest.raises(ElicitationFailed, match="cancelled"):
            await client.call_tool("forecast", {"city": "Oslo"})


class Always:
    def __init__(self, decision: Decision, delay: float = 0) -> None:
        self.decision = decision
        self.delay = delay
        self.asked: list[ConsentRequest] = []

    async def ask(self, request: ConsentRequest) -> Decision:
        self.asked.append(request)
        await anyio.sleep(self.delay)
        return self.decision


async def test_blocked_urls_are_never_opened_even_if_accepted():
    opened: list[str] = []

    async def opener(url: str) -> None:
        opened.append(url)

    consent = Always(Decision.ACCEPT)
    elicitations = Elicitations(consent, opener=opener)
    for url in ("javascript:alert(1)", "http://evil.example/", "data:text/html,x", "file:///etc/passwd"):
        considered = await elicitations.consider(url, "m", "id")
        assert considered.decision is Decision.DECLINE and considered.because == "blocked"
    assert opened == [] and len(consent.asked) == 4 and not consent.asked[0].may_accept


async def test_identical_concurrent_requests_prompt_once_and_floods_are_limited():
    opened: list[str] = []

    async def opener(url: str) -> None:
        opened.append(url)

    consent = Always(Decision.ACCEPT, delay=0.1)
    elicitations = Elicitations(consent, opener=opener, max_prompts=3)
    answers: list[Decision] = []

    async def ask(url: str) -> None:
        answers.append((await elicitations.consider(url, "same message", None)).decision)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(ask, "https://example.com/a")
    assert (
        answers == [Decision.ACCEPT] * 5 and len(consent.asked) == 1 and opened == ["https://example.com/a"]
    )
    for i in range(5):
        await ask(f"https://example.com/{i}")
    assert len(consent.asked) == 3  # two more prompts allowed this minute, the rest declined unseen
    assert answers[-3:] == [Decision.DECLINE] * 3 and elicitations.refused_for_flooding == 3


async def test_server_message_is_shown_as_plain_text():
    consent = Always(Decision.DECLINE)
    elicitations = Elicitations(consent)
    await elicitations.consider(
        "https://example.com/", "Click [link](https://evil.example)\x1b[31m\u202e", None
    )
    shown = consent.asked[0].message
    assert "\x1b" not in shown and "\u202e" not in shown and "[link](https://evil.example)" in shown


# A peer written with the TypeScript SDK


@pytest.fixture
def peer() -> Iterator[str]:
    if not (PEER / "node_modules" / "@modelcontextprotocol" / "sdk").exists():
        pytest.fail("the TypeScript peer is not installed: run `npm ci --prefix tests/peer` (.ci/run does)")
    port = free_port()
    process = subprocess.Popen(
        ["node", str(PEER / "server.mjs"), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening" in line, line
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def peer_client(base: str, consent=None, **options) -> tuple[HandoffClient, Elicitations, list[str]]:
    opened: list[str] = []

    async def person(url: str) -> None:  # the browser step on the peer: visiting it finishes it
        opened.append(url)
        async with httpx2.AsyncClient() as http:
            await http.get(url)

    elicitations = Elicitations(consent or PolicyConsent("warn"), server="ts-peer", opener=person)
    client = HandoffClient(f"{base}/mcp", mode="legacy", elicitations=elicitations, **options)
    return client, elicitations, opened


async def peer_counts(client: HandoffClient) -> dict[str, int]:
    return json.loads(text_of(await client.call_tool("peer_counts", {})))


async def test_peer_32042_then_notice_then_exactly_one_retry(peer):
    client, elicitations, opened = peer_client(peer)
    async with client:
        result = await client.call_tool("peer_error", {"key": "github"})
        assert text_of(result) == "peer ran for github"
        assert (await peer_counts(client))["peer_error"] == 2
    assert opened == [f"{peer}/step/peer-github"] and elicitations.completed == {"peer-github"}


async def test_peer_elicitation_create_in_url_mode_follows_consent(peer):
    for consent, action in ((PolicyConsent("warn"), "accept"), (PolicyConsent("none"), "decline")):
        client, _, opened = peer_client(peer, consent)
        async with client:
            result = await client.call_tool("peer_request", {})
        assert text_of(result).startswith(f"action={action}")
        assert len(opened) == (1 if action == "accept" else 0)


async def test_peer_form_request_gets_32602_from_a_url_only_client(peer):
    client, _, _ = peer_client(peer)
    async with client:
        result = await client.call_tool("peer_form", {})
    assert text_of(result) == "form refused with code -32602"


async def test_one_limit_for_the_links_of_one_32042(peer):
    """25 links in one -32042: the first five are considered and opened, like five separate
    requests; the sixth is over the limit, declined unseen, and the call stops there."""
    consent = PolicyConsent("warn")
    client, elicitations, opened = peer_client(peer, consent)
    told: list[Considered] = []
    elicitations.on_link = told.append
    async with client:
        with pytest.raises(ElicitationFailed) as failed:
            await client.call_tool("peer_flood", {})
    assert str(failed.value) == (
        "the server asked for 25 browser steps at once; 5 were opened, then the limit of 5 links per "
        "60 s was reached, so the rest were declined and the tool was not run"
    )
    assert len(consent.asked) == 5 and opened == [f"{peer}/step/flood-{i}" for i in range(5)]
    assert [(c.decision, c.because) for c in told] == [(Decision.ACCEPT, "consent")] * 5 + [
        (Decision.DECLINE, "limit")
    ]
    assert elicitations.refused_for_flooding == 1


async def test_one_limit_for_many_elicitation_create_requests(peer):
    """Eight elicitation/create requests at once: the same five are opened, three declined unseen."""
    consent = PolicyConsent("warn")
    client, elicitations, opened = peer_client(peer, consent)
    async with client:
        result = await client.call_tool("peer_requests", {"n": 8})
    assert sorted(text_of(result).split(",")) == ["accept"] * 5 + ["decline"] * 3
    assert len(consent.asked) == 5 and len(opened) == 5 and elicitations.refused_for_flooding == 3


async def test_peer_unknown_and_repeated_notices_are_ignored(peer):
    client, elicitations, _ = peer_client(peer)
    async with client:
        await client.call_tool("peer_error", {"key": "slack"})
        async with httpx2.AsyncClient() as http:
            await http.post(f"{peer}/spurious/peer-slack")
        await anyio.sleep(0.3)
        assert (await peer_counts(client))["peer_error"] == 2  # no extra retry
    assert "never-issued" in elicitations.ignored and elicitations.ignored.count("peer-slack") == 2


def _handoff_call(
    peer: str, *args: str, browser: str = "curl -s -o /dev/null %s"
) -> subprocess.CompletedProcess[str]:
    handoff = Path(sys.executable).parent / "handoff"
    return subprocess.run(
        [str(handoff), "call", f"{peer}/mcp", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BROWSER": browser},
    )


def test_call_command_runs_the_story_for_scripts(peer):
    done = _handoff_call(
        peer, "peer_error", "--args", '{"key": "cli"}', "--accept", "warn", "--protocol", "legacy"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "peer ran for cli"
    as_json = _handoff_call(peer, "peer_error", "--args", '{"key": "cli"}', "--format", "json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["content"][0]["text"] == "peer ran for cli"


def test_call_command_says_the_verdict_of_every_link(peer):
    lookalike = "https://\u0430pple.com/signin"  # a Cyrillic "a"
    printed = _handoff_call(
        peer,
        "peer_link",
        "--args",
        json.dumps({"url": lookalike}),
        "--accept",
        "warn",
        "--print-url",
        "--timeout",
        "1",
        browser="false",
    )
    assert printed.returncode == 2
    assert "WARNING: https://xn--pple-43d.com/signin" in printed.stderr
    assert "registered domain:  xn--pple-43d.com  <- who you are really dealing with" in printed.stderr
    assert "'\u0430pple' mixes writing systems (Cyrillic, Latin)" in printed.stderr
    assert (
        "-> printed below for you to open: --accept warn accepts links with warnings, and --print-url "
        "prints them instead of opening them"
    ) in printed.stderr
    assert "Open this link in your browser:\n  https://xn--pple-43d.com/signin" in printed.stderr
    assert printed.stderr.strip().endswith("call the tool again when it is done")

    elsewhere = f"http://127.0.0.1:{free_port()}/step/elsewhere"  # loopback, but not this server
    strict = _handoff_call(
        peer, "peer_link", "--args", json.dumps({"url": elsewhere}), "--accept", "ok", "--format", "json"
    )
    assert strict.returncode == 2
    assert "The link uses the unusual port" in strict.stderr and "a bare IP address" in strict.stderr
    reason = (
        "--accept ok accepts only links with nothing suspicious; --accept warn would accept one with warnings"
    )
    assert f"-> declined: {reason}" in strict.stderr
    said = json.loads(strict.stdout)
    assert said["error"] == "the browser step was declined, so the tool was not run" and not said["ran"]
    (link,) = said["links"]
    assert link["action"] == "declined" and link["why"] == reason
    assert link["check"]["verdict"] == "warn" and link["check"]["href"] == elsewhere
    assert {r["code"] for r in link["check"]["reasons"]} == {"port", "ip-host"}

    bad = _handoff_call(peer, "peer_error", "--args", "[1]")
    assert bad.returncode == 2 and "must be a JSON object" in bad.stderr


def test_call_command_opens_the_connected_loopback_servers_own_link_by_default(peer):
    done = _handoff_call(peer, "peer_error", "--args", '{"key": "own"}')  # --accept ok
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "peer ran for own"
    assert f"OK: {peer}/step/peer-own" in done.stderr
    assert f"note: This is a page of the server you connected to, on this computer ({peer})" in done.stderr
    assert "-> opened in your browser: --accept ok accepts links with nothing suspicious" in done.stderr
    assert "unusual port" not in done.stderr


def test_call_command_with_print_url_prints_the_link_and_says_so(peer, tmp_path):
    started = tmp_path / "browser-started"
    printed = _handoff_call(
        peer,
        "peer_error",
        "--args",
        '{"key": "printed"}',
        "--print-url",
        "--timeout",
        "1",
        browser=f"touch {started}",
    )
    assert printed.returncode == 2 and not started.exists()  # no browser was started
    link = f"{peer}/step/peer-printed"
    said = (
        "  -> printed below for you to open: --accept ok accepts links with nothing suspicious, "
        "and --print-url prints them instead of opening them\n"
        f"Open this link in your browser:\n  {link}\n"
    )
    assert said in printed.stderr
    assert "opens" not in printed.stderr and "opened" not in printed.stderr


def test_call_command_says_a_link_was_opened_only_once_a_browser_took_it(peer):
    """With no browser to start, the link is printed instead, and that is what the line says (after
    the attempt, not before), on stderr and in `--format json`."""
    for fmt in ("text", "json"):
        done = _handoff_call(
            peer,
            "peer_error",
            "--args",
            '{"key": "nobrowser"}',
            "--timeout",
            "1",
            "--format",
            fmt,
            browser="false",
        )
        assert done.returncode == 2
        link = f"{peer}/step/peer-nobrowser"
        said = (
            f"  Nothing suspicious found.\n"
            "  -> printed below for you to open: --accept ok accepts links with nothing suspicious, "
            "but no browser could be started\n"
            f"Open this link in your browser:\n  {link}\n"
        )
        assert said in done.stderr
        assert "opened" not in done.stderr and "Could not start a browser" not in done.stderr
        if fmt == "json":
            (entry,) = json.loads(done.stdout)["links"]
            assert entry["action"] == "printed"
            assert entry["why"] == (
                "--accept ok accepts links with nothing suspicious, but no browser could be started"
            )


def test_call_command_over_stdio():
    handoff = Path(sys.executable).parent / "handoff"
    server = f"{sys.executable} {Path(__file__).parent / 'stdio_server.py'}"
    done = subprocess.run(
        [str(handoff), "call", server, "echo", "--args", '{"text": "hi"}'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "echo: hi"


def test_consent_screen_marks_the_registrable_domain():
    from rich.console import Console

    from handoff.client import check_url
    from handoff.client._terminal import consent_panel, marked_url

    report = check_url("https://login.example.co.uk.evil.com/signin")
    marked = marked_url(report)
    (span,) = [s for s in marked.spans if "on bright_yellow" in str(s.style)]
    assert marked.plain[span.start : span.end] == "evil.com"
    console = Console(record=True, width=100)
    request = ConsentRequest("demo", "Sign in [here](https://x.example)", report.url, report, None)
    console.print(consent_panel(request))
    shown = console.export_text()
    assert "Registered domain: evil.com" in shown and "[here](https://x.example)" in shown
    assert "https://login.example.co.uk.evil.com/signin" in shown
