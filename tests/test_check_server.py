"""`handoff check server` against real servers on loopback: handoff's demo (everything a MUST asks
passes, in both eras, with two users), the TypeScript SDK peer, and a server broken on purpose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from _server import ServerThread, free_port, wait_until_serving
from check_server_broken import broken_app
from click.testing import CliRunner
from conftest import PEER, Running

from handoff.check._cli import check
from handoff.check._server_url import credential_like_parameters, credentials_in
from handoff.demo import DEMO_USERS

HANDOFF = Path(sys.executable).parent / "handoff"
LEGACY, MODERN = "2025-11-25", "2026-07-28"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    server = Running(tmp_path_factory.mktemp("demo"), framework="sdk").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def broken() -> Iterator[str]:
    port = free_port()
    server = ServerThread(broken_app(f"http://127.0.0.1:{port}"), port).start()
    yield f"http://127.0.0.1:{port}/mcp"
    server.stop()


@pytest.fixture(scope="module")
def peer() -> Iterator[str]:
    if not (PEER / "node_modules" / "@modelcontextprotocol" / "sdk").exists():
        pytest.fail("the TypeScript peer is not installed: run `npm ci --prefix tests/peer` (.ci/run does)")
    port = free_port()
    process = subprocess.Popen(
        ["node", str(PEER / "server.mjs"), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and "listening" in process.stdout.readline()
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


def outcomes(report: dict) -> dict[tuple[str, str | None], list[str]]:
    found: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for r in report["results"]:
        found[(r["id"], r["era"])].append(r["outcome"])
    return dict(found)


def called(server: Running) -> set[str]:
    """The names of the tools the server was asked to call (its recorded requests)."""
    names = set()
    for chunk in server.recorder.chunks:
        try:
            message = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("method") == "tools/call":
            names.add(message["params"]["name"])
    return names


def run_in_process(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(check, ["server", *QUICK, *args, "--format", "json", "--notice-wait", "3"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


QUICK = ["--unattended-wait", "1"]
"""The tests watch an unattended step for a second (the checks of self-completion say so themselves)."""
TWO_USERS = [
    "--user", "alice", "--password", DEMO_USERS["alice"],
    "--second-user", "bob", "--second-password", DEMO_USERS["bob"],
]  # fmt: skip


COMMON = (
    "url.valid",
    "url.https",
    "url.no-credentials",
    "url.no-credential-like-parameters",
    "page.anonymous-refused",
    "page.no-redirect-elsewhere",
    "page.other-user-refused",
    "page.no-framing",
    "page.no-referrer",
    "page.no-store",
)
MODERN_PASSES = (
    "modern.input-required-shape",
    "modern.state-other-user",
    "modern.retry-succeeds",
    "modern.state-replayed",
    "modern.no-32042",
    "modern.no-elicitation-id-or-notice",
)


def test_the_demo_conforms_in_both_eras_with_two_users(demo):
    """Through the installed command, as a person would run it."""
    done = subprocess.run(
        [str(HANDOFF), "check", "server", demo.mcp_url, *TWO_USERS, "--format", "json", *QUICK],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["counts"]["FAIL"] == 0
    found = outcomes(report)
    for era in (LEGACY, MODERN):
        for common in COMMON:
            assert found[(common, era)] == ["PASS"], (common, era)
    for legacy in (
        "legacy.32042-shape",
        "legacy.notice-id",
        "legacy.notice-only-initiator",
        "legacy.retry-succeeds",
    ):
        assert found[(legacy, LEGACY)] == ["PASS"], legacy
    assert found[("legacy.no-url-when-undeclared", LEGACY)] == ["PASS"] * 3
    assert found[("legacy.create-params", LEGACY)] == ["PASS"]  # list_notes asks with elicitation/create
    assert found[("modern.32021-without-url-mode", MODERN)] == ["PASS"] * 2
    assert found[("modern.state-tampered", MODERN)] == ["PASS"] * 3
    for modern in MODERN_PASSES:
        assert found[(modern, MODERN)] == ["PASS"], modern
    # the tool the 2026 checks found (list_notes: forecast's key is stored by then) is called with
    # another folder, its optional argument
    assert found[("modern.state-other-request", MODERN)] == ["PASS"]
    assert report["counts"]["SKIP"] == 0, [r for r in report["results"] if r["outcome"] == "SKIP"]
    for secret in (DEMO_USERS["alice"], DEMO_USERS["bob"]):
        assert secret not in done.stdout and secret not in done.stderr


def test_a_second_run_on_the_demo_still_conforms_and_reads_as_a_table(demo):
    """The first run stored the demo's secrets, so this run finds other gated tools (the OAuth
    connection, the approval) and finishes those in the scripted browser too."""
    result = CliRunner().invoke(check, ["server", *QUICK, demo.mcp_url, *TWO_USERS, "--notice-wait", "3"])
    assert result.exit_code == 0, result.output
    table = result.stdout
    assert f"handoff check server: {demo.mcp_url}" in table
    assert "Phishing · page.other-user-refused" in table and "FAIL" not in table
    assert table.rstrip().splitlines()[-1].startswith("conforms (")
    # send_payment is annotated destructive: neither run called it, so nothing was approved
    assert "send_payment" not in called(demo)
    payment = json.dumps({"amount": "1", "currency": "EUR", "payee": "Check"})
    named = ["--tool", "send_payment", "--args", payment, "--format", "json", "--notice-wait", "3", *QUICK]
    result = CliRunner().invoke(check, ["server", demo.mcp_url, *TWO_USERS, *named])
    assert json.loads(result.stdout)["counts"]["FAIL"] == 0
    assert "send_payment" in called(demo)  # named with --tool: then it is called


def test_a_broken_server_fails_exactly_the_checks_it_breaks(broken):
    code, report = run_in_process(broken, "--user", "tester", "--password", "anything")
    assert code == 1
    assert outcomes(report) == {
        ("legacy.no-url-when-undeclared", LEGACY): ["FAIL"] * 3,  # -32042 to every client
        ("legacy.create-params", LEGACY): ["SKIP"],
        ("legacy.32042-shape", LEGACY): ["PASS"],
        ("legacy.no-self-completion", LEGACY): ["PASS"],  # nothing completes by itself
        ("url.valid", LEGACY): ["PASS"],
        ("url.https", LEGACY): ["PASS"],
        ("url.no-credentials", LEGACY): ["FAIL"],  # ?api_key=
        ("url.no-credential-like-parameters", LEGACY): ["FAIL"],
        ("page.anonymous-refused", LEGACY): ["FAIL"],  # the form for anyone
        ("page.no-redirect-elsewhere", LEGACY): ["PASS"],
        ("page.other-user-refused", LEGACY): ["SKIP"],
        ("page.no-framing", LEGACY): ["FAIL"],
        ("page.no-referrer", LEGACY): ["FAIL"],
        ("page.no-store", LEGACY): ["FAIL"],
        ("legacy.notice-id", LEGACY): ["SKIP"],  # it sends none (allowed)
        ("legacy.notice-only-initiator", LEGACY): ["PASS"],
        ("legacy.retry-succeeds", LEGACY): ["PASS"],
        ("modern.32021-without-url-mode", MODERN): ["FAIL"] * 2,  # input_required regardless
        ("modern.input-required-shape", MODERN): ["PASS"],
        ("url.valid", MODERN): ["PASS"],
        ("url.https", MODERN): ["PASS"],
        ("url.no-credentials", MODERN): ["FAIL"],
        ("url.no-credential-like-parameters", MODERN): ["FAIL"],
        ("page.anonymous-refused", MODERN): ["FAIL"],
        ("page.no-redirect-elsewhere", MODERN): ["PASS"],
        ("page.other-user-refused", MODERN): ["SKIP"],
        ("page.no-framing", MODERN): ["FAIL"],
        ("page.no-referrer", MODERN): ["FAIL"],
        ("page.no-store", MODERN): ["FAIL"],
        ("modern.state-tampered", MODERN): ["FAIL"] * 3,  # never verified
        ("modern.state-other-request", MODERN): ["FAIL"],
        ("modern.state-other-user", MODERN): ["SKIP"],
        ("modern.retry-succeeds", MODERN): ["PASS"],
        ("modern.state-replayed", MODERN): ["FAIL"],
        ("modern.no-32042", MODERN): ["PASS"],
        ("modern.no-elicitation-id-or-notice", MODERN): ["FAIL"],  # elicitationId in 2026
    }
    reasons = {r["id"]: r["reason"] for r in report["results"]}
    assert reasons["url.no-credentials"] == (
        "the link (with 'api_key') lets a browser that never signed in in: it grants access"
    )
    said = "query parameters named like a credential: 'api_key'"
    assert reasons["url.no-credential-like-parameters"] == said
    assert "k-2025" not in json.dumps(report)  # the credential itself is never repeated


def test_a_link_that_a_bare_visit_completes_is_not_refused_whatever_its_page_shows():
    """A pre-authenticated link: opening it completes the step and shows no form, so nothing on the
    page gives it away; the tool running afterwards does."""
    port = free_port()
    server = ServerThread(broken_app(f"http://127.0.0.1:{port}", bare_visit=True), port).start()
    try:
        code, report = run_in_process(f"http://127.0.0.1:{port}/mcp", "--user", "tester", "--password", "x")
    finally:
        server.stop()
    assert code == 1
    found = outcomes(report)
    for era in (LEGACY, MODERN):
        assert found[("page.anonymous-refused", era)] == ["FAIL"]
    assert found[("legacy.retry-succeeds", LEGACY)] == ["SKIP"]
    assert found[("modern.retry-succeeds", MODERN)] == ["SKIP"]


def test_the_typescript_sdk_peer(peer):
    """The TypeScript SDK 1.x server speaks 2025-11-25 only; its -32042 goes to every client and
    its "browser step" completes on a bare visit, which the checker catches."""
    code, report = run_in_process(peer, "--call-unannotated")  # its tools carry no annotations
    assert code == 1
    found = outcomes(report)
    assert found[("legacy.no-url-when-undeclared", LEGACY)] == ["FAIL"] * 3
    assert found[("legacy.32042-shape", LEGACY)] == ["PASS"]
    assert found[("legacy.create-params", LEGACY)] == ["PASS"]  # peer_request's elicitation/create
    assert found[("url.no-credentials", LEGACY)] == ["PASS"]
    assert found[("page.anonymous-refused", LEGACY)] == ["FAIL"]
    reasons = {r["id"]: r["reason"] for r in report["results"] if r["era"] == LEGACY}
    assert reasons["page.anonymous-refused"] == "opening the URL without signing in completed the step"
    assert found[("legacy.retry-succeeds", LEGACY)] == ["SKIP"]
    modern = [r for r in report["results"] if r["era"] == MODERN]
    assert modern and all(r["outcome"] == "SKIP" and "2025-11-25" in r["reason"] for r in modern)


def test_a_server_that_asks_to_sign_in_needs_credentials(demo):
    result = CliRunner().invoke(check, ["server", demo.mcp_url])
    assert result.exit_code == 2
    assert "asks to sign in (HTTP 401): pass --token, --user and --password, or --login" in result.stderr


def test_what_counts_as_a_credential_in_a_url():
    assert credentials_in("https://mcp.example.com/connect?elicitationId=abc") == []
    assert credentials_in("https://a:b@mcp.example.com/e/1") == ["user information before the host"]
    assert credentials_in("https://x.example/e?access_token=1&code=2") == []  # judged by what they grant
    assert credential_like_parameters("https://x.example/e?access_token=1&code=2&x=3#session=4") == [
        "access_token",
        "code",
        "session",
    ]
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2ln"
    assert credentials_in(f"https://x.example/e/{jwt}") == ["a JSON Web Token"]
    assert credentials_in("https://x.example/u/alice/e/1", people=["alice"]) == ["the user's name"]
    assert credentials_in("https://x.example/e/s3cr3t-tok", known=["s3cr3t-tok"]) == [
        "the user's own credential"
    ]


def test_a_report_names_a_url_without_its_user_name_or_password():
    from handoff.check._server_url import without_userinfo

    assert (
        without_userinfo("https://ann:s3cret@mcp.example.com:8443/mcp?x=1")
        == "https://mcp.example.com:8443/mcp?x=1"
    )
    assert without_userinfo("http://tok@[::1]:9/mcp") == "http://[::1]:9/mcp"
    assert without_userinfo("http://127.0.0.1:9/mcp") == "http://127.0.0.1:9/mcp"


FORECAST = ["--tool", "forecast", "--args", json.dumps({"city": "Paris"})]


def test_an_era_whose_tool_asks_the_first_user_no_more_runs_as_the_second(tmp_path):
    """forecast's key, entered in 2025-11-25, stays in alice's vault: 2026-07-28 runs as bob."""
    server = Running(tmp_path / "demo", framework="sdk").start()
    try:
        code, report = run_in_process(server.mcp_url, *TWO_USERS, *FORECAST)
    finally:
        server.stop()
    assert code == 0, report
    assert report["notes"] == [
        "2026-07-28 ran as bob: forecast asked alice no more once its browser step was finished in "
        "2025-11-25, and alice is the other user of this era"
    ]
    found = outcomes(report)
    for requirement in ("modern.retry-succeeds", "modern.state-other-user", "page.other-user-refused"):
        assert found[(requirement, MODERN)] == ["PASS"], requirement


def test_dry_run_says_what_it_would_call_and_calls_nothing(tmp_path):
    server = Running(tmp_path / "demo", framework="sdk").start()
    try:
        result = CliRunner().invoke(check, ["server", server.mcp_url, "--user", "alice", "--password",
                                            DEMO_USERS["alice"], "--dry-run"])  # fmt: skip
        assert called(server) == set()
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"handoff check server --dry-run: {server.mcp_url} (no tool is called)"
    for era in (LEGACY, MODERN):
        assert f"{era}: would call, in this order, until one asks for a browser step: " in result.stdout
    would = lines[1].split(": ", 2)[2].split(", ")
    assert "send_payment" not in would and set(would) >= {"forecast", "list_notes"}
    assert (
        "never called unasked (annotations do not say they are safe): send_payment (destructiveHint: true)"
        in (result.stdout)
    )
    assert lines[-1].startswith(f"Its browsers open links on {server.origin}, ")


@pytest.fixture(scope="module")
def ts_example() -> Iterator[str]:
    """The TypeScript SDK's own URL elicitation example server (shipped in its package), with the
    SDK's demo authorization server beside it (which signs in whoever asks)."""
    example = (
        PEER / "node_modules/@modelcontextprotocol/sdk/dist/esm/examples/server/elicitationUrlExample.js"
    )
    port, auth_port = free_port(), free_port()
    env = {**os.environ, "MCP_PORT": str(port), "MCP_AUTH_PORT": str(auth_port)}
    process = subprocess.Popen(
        ["node", str(example)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
    )
    try:
        wait_until_serving(
            f"http://localhost:{port}/.well-known/oauth-protected-resource/mcp", process, "example"
        )
        yield f"http://localhost:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_typescript_sdk_example_whose_third_party_step_completes_by_itself(ts_example):
    """Its third-party-auth tool sends a link to www.example.com (not opened) and completes the step
    itself five seconds later, with nobody at any page."""
    args = ["--user", "any", "--password", "any", "--tool", "third-party-auth", "--args", '{"param1": "x"}']
    code, report = run_in_process(ts_example, *args, "--era", LEGACY, "--unattended-wait", "6")
    assert code == 1
    said = {r["id"]: (r["outcome"], r["reason"]) for r in report["results"] if r["era"] == LEGACY}
    outcome, reason = said["legacy.no-self-completion"]
    assert outcome == "FAIL" and reason.startswith("the completion notice came "), reason
    assert reason.endswith(" s after the link was handed out, with nobody at its page")
    assert said["url.https"] == ("PASS", "https")
    assert said["page.anonymous-refused"][1].startswith("not reached: legacy.no-self-completion failed")


def test_the_typescript_sdk_example_whose_payment_link_carries_the_session(ts_example):
    """payment-confirm's link carries the MCP session id as `session=`: a SHOULD (a browser that
    never signed in gets no form with it); its page sends none of the protective headers."""
    code, report = run_in_process(ts_example, "--user", "any", "--password", "any", "--call-unannotated")
    said = {r["id"]: (r["outcome"], r["reason"]) for r in report["results"] if r["era"] == LEGACY}
    assert said["legacy.no-self-completion"][0] == "PASS"
    assert said["url.no-credential-like-parameters"] == (
        "FAIL",
        "query parameters named like a credential: 'session'",
    )
    assert (
        said["url.no-credentials"][0] == "PASS"
        and "'session' granted nothing" in said["url.no-credentials"][1]
    )
    for header in ("page.no-framing", "page.no-referrer", "page.no-store"):
        assert said[header][0] == "FAIL", header
    assert code == 1  # payment-confirm asks again after its step is done: the retry fails
    assert said["legacy.retry-succeeds"] == ("FAIL", "the retry got JSON-RPC error -32042")
