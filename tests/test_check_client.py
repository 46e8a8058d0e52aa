"""`handoff check client` against real clients: handoff's own (`handoff call`, `handoff connect`), the
TypeScript SDK's (1.x and 2.x), FastMCP's, and careless ones that must fail the right checks.

Every run is the real command in a subprocess: scripted servers on loopback, the client started once
per scenario with the browser stand-in as its BROWSER. The runs start a few at a time (they mostly
wait on their clients), once per module. What the scripted servers send is checked against the
spec's schema of each era.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from _server import free_port
from _spec_shapes import kind, problems

from handoff.check._client import Options, check_command
from handoff.check._client_runner import Person
from handoff.check._client_server import Hub, Sent

HERE = Path(__file__).parent
PEER = HERE / "peer"
ROGUE = HERE / "check_client_rogue.py"
FASTMCP = HERE / "check_client_fastmcp.py"
HANDOFF = str(Path(sys.executable).parent / "handoff")
LEGACY, MODERN = "2025-11-25", "2026-07-28"

ONLY = "--only notices --only blocked --only loop --only undeclared --only decline --only silent"
RUNS: dict[str, tuple[list[str], dict[str, str]]] = {
    "call": ([*shlex.split("--wait-limit 5 --"), HANDOFF, *shlex.split("call {url} check --timeout 2")], {}),
    "connect": (
        [
            *shlex.split("--wait-limit 5 --only request --only decline --only blocked --only rounds"),
            *shlex.split("--only notices --only silent"),
            *shlex.split("--accept-with a --decline-with d --done-with '' --type 'call check {}' --"),
            *(HANDOFF, "connect", "{url}"),
        ],
        {},
    ),
    "ts": (
        [
            *shlex.split("--wait-limit 4 --accept-with y --decline-with n --"),
            "node",
            str(PEER / "client.mjs"),
        ],
        {"PEER_WAIT": "2"},
    ),
    "ts2": (
        [
            *shlex.split("--wait-limit 4 --accept-with y --decline-with n --"),
            "node",
            str(PEER / "client2.mjs"),
        ],
        {"PEER_WAIT": "2"},
    ),
    "fastmcp": (
        [
            *shlex.split("--wait-limit 4 --accept-with y --decline-with n --"),
            sys.executable,
            str(FASTMCP),
        ],
        {"PEER_WAIT": "2"},
    ),
    "rogue": (
        [
            *shlex.split(f"--wait-limit 3 --accept-with y --decline-with n {ONLY} --"),
            sys.executable,
            str(ROGUE),
        ],
        {},
    ),
    "rogue-alone": (
        [
            *shlex.split("--wait-limit 3 --only blocked --only request --only rounds --"),
            sys.executable,
            str(ROGUE),
        ],
        {},
    ),
    "any-link": (
        [
            *shlex.split("--wait-limit 3 --only blocked --only request --only rounds"),
            *shlex.split("--accept-with y --decline-with n --"),
            *(sys.executable, str(FASTMCP)),
        ],
        {"PEER_ANY_LINK": "1"},
    ),
    "manual": (
        [
            *shlex.split(f"--era {LEGACY} --wait-limit 4 --only notices --only silent --only loop"),
            *shlex.split("--accept-with y --decline-with n --done-with '' --"),
            *(sys.executable, str(FASTMCP)),
        ],
        {"PEER_MANUAL": "1"},
    ),
    "no-links": (
        [*shlex.split(f"--era {LEGACY} --only undeclared --"), HANDOFF, "call", "{url}", "check"],
        {},
    ),
    "declines": (
        [
            *shlex.split(f"--era {LEGACY} --only loop --"),
            HANDOFF,
            *shlex.split("call {url} check --accept none"),
        ],
        {},
    ),
}
"""Each run's arguments to `handoff check client`, and its client's environment. The TypeScript
clients, FastMCP's and the careless one get the URL as their last argument (no {url} placeholder)."""


class Ran:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._out: tuple[str, str] | None = None

    @property
    def code(self) -> int:
        self.output()
        return self.process.returncode

    def output(self) -> tuple[str, str]:
        if self._out is None:
            self._out = self.process.communicate(timeout=240)
        return self._out

    @property
    def report(self) -> dict[str, Any]:
        out, err = self.output()
        try:
            return json.loads(out)
        except ValueError:
            raise AssertionError(f"not a JSON report:\n{out}\n{err}") from None

    def outcome(self, requirement: str, era: str) -> tuple[str, str]:
        found = [r for r in self.report["results"] if r["id"] == requirement and r["era"] == era]
        assert len(found) == 1, f"{requirement} in {era}: {found}"
        return found[0]["outcome"], found[0]["reason"]


def check_client(*args: str, env: dict[str, str] | None = None, fmt: str = "json") -> Ran:
    command = [HANDOFF, "check", "client", "--format", fmt, *args]
    environment = {**os.environ, **(env or {})}
    return Ran(
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    )


class Runs:
    """The runs of RUNS, started in order, at most `AT_ONCE` at a time (they mostly wait on their
    clients, but the checks watch for timing: a loaded machine would blur them)."""

    AT_ONCE = 4

    def __init__(self) -> None:
        self.started: dict[str, Ran] = {}

    def __getitem__(self, name: str) -> Ran:
        if name not in self.started:
            args, env = RUNS[name]
            self.started[name] = check_client(*args, env=env)
        for other, (args, env) in RUNS.items():
            if sum(r.process.poll() is None for r in self.started.values()) >= self.AT_ONCE:
                break
            if other not in self.started:
                self.started[other] = check_client(*args, env=env)
        return self.started[name]


@pytest.fixture(scope="module")
def runs() -> Iterator[Runs]:
    started = Runs()
    try:
        yield started
    finally:
        for ran in started.started.values():
            if ran.process.poll() is None:
                ran.process.kill()
                ran.process.wait()


def assert_outcomes(ran: Ran, expected: dict[tuple[str, str], str]) -> None:
    found = {key: ran.outcome(*key) for key in expected}
    wrong = {key: got for key, got in found.items() if got[0] != expected[key]}
    assert not wrong, f"expected {expected}, got {wrong}"


def test_handoff_call_conforms_in_both_eras(runs):
    ran = runs["call"]
    assert ran.code == 0, ran.output()
    report = ran.report
    assert report["kind"] == "client" and report["ok"] is True and report["counts"]["FAIL"] == 0
    passes = {
        "client.capability.declared": (LEGACY, MODERN),
        "client.mode.honoured": (LEGACY,),
        "client.mode.undeclared-refused": (LEGACY,),
        "client.notice.unknown-ignored": (LEGACY,),
        "client.notice.repeat-ignored": (LEGACY,),
        "client.notice.retried-once": (LEGACY,),
        "client.wait.bounded": (LEGACY,),
        "client.retry.bounded": (LEGACY, MODERN),
        "client.server.named": (LEGACY, MODERN),
        "client.url.shown": (LEGACY, MODERN),
        "client.url.no-prefetch": (LEGACY, MODERN),
        "client.url.blocked-not-opened": (LEGACY, MODERN),
        "client.url.lookalike-warned": (LEGACY, MODERN),
        "client.mrtr.new-id": (MODERN,),
        "client.mrtr.inputs-answered": (MODERN,),
        "client.mrtr.state-echoed": (MODERN,),
        "client.mrtr.no-invented-state": (MODERN,),
    }
    assert_outcomes(ran, {(rid, era): "PASS" for rid, eras in passes.items() for era in eras})
    # handoff call decides by its --accept policy: the checker cannot watch a consent it never sees
    for era in (LEGACY, MODERN):
        outcome, reason = ran.outcome("client.consent.before-open", era)
        assert outcome == "SKIP" and "--accept-with" in reason
    assert "stopped after 3 retries" in ran.outcome("client.retry.bounded", LEGACY)[1]  # max_rounds


def test_handoff_connect_asks_before_it_opens(runs):
    ran = runs["connect"]
    assert ran.code == 0, ran.output()
    for era in (LEGACY, MODERN):
        outcome, reason = ran.outcome("client.consent.before-open", era)
        assert outcome == "PASS", reason
        assert re.search(r"the person accepted [1-9]\d* and declined [1-9]\d* links at the prompt", reason)
        assert ran.outcome("client.url.shown", era) == ("PASS", ran.outcome("client.url.shown", era)[1])
        assert "before the person answered" in ran.outcome("client.url.shown", era)[1]
        assert ran.outcome("client.url.blocked-not-opened", era)[0] == "PASS"
    assert ran.outcome("client.mode.honoured", LEGACY)[0] == "PASS"
    assert ran.outcome("client.mrtr.state-echoed", MODERN)[0] == "PASS"
    assert ran.outcome("client.notice.unknown-ignored", LEGACY)[0] == "PASS"
    assert "its scenario was not run" in ran.outcome("client.retry.bounded", LEGACY)[1]  # no loop
    # it lets the person say "done" (any line while a call waits) and retries then; it retries on the
    # notice by itself too
    outcome, reason = ran.outcome("client.wait.bounded", LEGACY)
    assert outcome == "PASS" and "when the person said the browser step was done" in reason, reason
    assert ran.outcome("client.notice.retried-once", LEGACY)[0] == "PASS"


def test_the_typescript_client_in_the_2025_era(runs):
    ran = runs["ts"]
    assert ran.code == 0, ran.output()
    passes = [
        "client.capability.declared",
        "client.mode.honoured",
        "client.mode.undeclared-refused",  # the TS SDK answers -32602 itself
        "client.notice.unknown-ignored",
        "client.notice.repeat-ignored",
        "client.notice.retried-once",
        "client.wait.bounded",
        "client.retry.bounded",
        "client.server.named",
        "client.url.shown",
        "client.consent.before-open",
        "client.url.no-prefetch",
        "client.url.blocked-not-opened",
        "client.url.lookalike-warned",
    ]
    assert_outcomes(ran, {(rid, LEGACY): "PASS" for rid in passes})
    outcome, reason = ran.outcome("client.mrtr.state-echoed", MODERN)
    assert outcome == "SKIP" and "does not speak 2026-07-28" in reason  # the 1.x SDK has no MRTR


MODERN_PASSES = [
    "client.capability.declared",
    "client.mrtr.new-id",
    "client.mrtr.inputs-answered",
    "client.mrtr.state-echoed",
    "client.mrtr.no-invented-state",
    "client.retry.bounded",
    "client.server.named",
    "client.url.shown",
    "client.consent.before-open",
    "client.url.no-prefetch",
    "client.url.blocked-not-opened",
    "client.url.lookalike-warned",
]
"""What a careful client that asks at a prompt passes on 2026-07-28: every check of that era."""


@pytest.mark.parametrize("name", ["ts2", "fastmcp"])
def test_dual_era_clients_are_tested_in_the_2026_era(runs, name):
    """The TypeScript SDK 2.x client and FastMCP's, both in `auto` mode, probe server/discover and
    stay on 2026-07-28 (they refuse a discover result the schema does not allow, then fall back to
    2025-11-25, where their 2026 era would be skipped)."""
    ran = runs[name]
    assert ran.code == 0, ran.output()
    assert_outcomes(ran, {(rid, MODERN): "PASS" for rid in MODERN_PASSES})
    assert ran.outcome("client.mode.honoured", LEGACY)[0] == "PASS"
    assert ran.outcome("client.consent.before-open", LEGACY)[0] == "PASS"


def test_a_careless_client_fails_the_checks_it_breaks(runs):
    ran = runs["rogue"]
    assert ran.code == 1, ran.output()
    assert ran.report["ok"] is False
    fails = {
        ("client.notice.unknown-ignored", LEGACY): "for an unknown id",
        ("client.notice.repeat-ignored", LEGACY): "for an already-completed id",
        ("client.notice.retried-once", LEGACY): "before the notice",
        ("client.mode.undeclared-refused", LEGACY): "form mode request it did not declare",
        ("client.wait.bounded", LEGACY): "still waiting 3 s",
        ("client.retry.bounded", LEGACY): "retried 25 times",
        ("client.retry.bounded", MODERN): "retried 25 times",
        ("client.url.no-prefetch", LEGACY): "was fetched",
        ("client.url.blocked-not-opened", LEGACY): "opened javascript:",
        ("client.url.blocked-not-opened", MODERN): "opened javascript:",
        ("client.url.lookalike-warned", LEGACY): "opened https://xn--",
        ("client.consent.before-open", LEGACY): "which the person was never asked about",
        ("client.consent.before-open", MODERN): "which the person was never asked about",
        ("client.server.named", LEGACY): "nothing on the client's output named the server",
    }
    for (rid, era), words in fails.items():
        outcome, reason = ran.outcome(rid, era)
        assert outcome == "FAIL" and words in reason, (rid, era, outcome, reason)
    assert ran.outcome("client.capability.declared", LEGACY)[0] == "PASS"  # it does declare url


def test_links_that_must_not_open_are_accepted_by_the_person(runs):
    """A client with no check of its own on links opens what the person accepts: the requirement
    is that a javascript:, data: or file: link never opens, even then, so the person accepts them."""
    ran = runs["any-link"]
    assert ran.code == 1, ran.output()
    for era in (LEGACY, MODERN):
        outcome, reason = ran.outcome("client.url.blocked-not-opened", era)
        assert outcome == "FAIL" and "after the person accepted it" in reason, (era, reason)
        assert reason.startswith("opened javascript:")
        outcome, reason = ran.outcome("client.consent.before-open", era)
        assert outcome == "PASS", (era, reason, ran.output())  # it asked each time
        outcome, reason = ran.outcome("client.url.lookalike-warned", era)  # declined, not opened
        assert outcome == "PASS" and "the person saw and declined 2" in reason, reason


def test_a_careful_client_refuses_what_the_person_accepts(runs):
    for name in ("ts2", "fastmcp"):
        for era in (LEGACY, MODERN):
            outcome, reason = runs[name].outcome("client.url.blocked-not-opened", era)
            assert outcome == "PASS", (name, era, reason)
            assert "none of 3 opened: the client refused 3 without asking the person" in reason
    for era in (LEGACY, MODERN):  # handoff connect asks, refuses the accept, and asks again
        outcome, reason = runs["connect"].outcome("client.url.blocked-not-opened", era)
        assert outcome == "PASS" and "the person accepted 3 at the prompt" in reason, (era, reason)


def test_a_client_that_opens_links_unasked_fails_consent_with_no_one_at_its_prompt(runs):
    """Without the checker at the prompt, a client may consent by a policy of its own (that is
    skipped), but not to a link it never showed: that one was opened unasked."""
    ran = runs["rogue-alone"]
    assert ran.code == 1, ran.output()
    for era in (LEGACY, MODERN):
        outcome, reason = ran.outcome("client.consent.before-open", era)
        assert outcome == "FAIL" and "before anything on its output had shown it" in reason, (era, reason)
        outcome, reason = ran.outcome("client.url.blocked-not-opened", era)
        assert outcome == "FAIL" and reason.startswith("opened javascript:"), (era, reason)
    for era in (LEGACY, MODERN):  # handoff call shows each link before its policy opens it
        outcome, reason = runs["call"].outcome("client.consent.before-open", era)
        assert outcome == "SKIP" and "it showed each of the" in reason, reason


def test_a_client_that_lets_the_person_retry_by_hand_is_not_failed_for_it(runs):
    """The spec asks a client to offer a manual retry when no notice comes; one that retries only
    when the person says the step is done (`--done-with`) passes the bounded wait, and the checks of
    notices, which it takes no notice of, are skipped, not passed."""
    ran = runs["manual"]
    assert ran.code == 0, ran.output()
    assert ran.report["counts"]["FAIL"] == 0
    outcome, reason = ran.outcome("client.wait.bounded", LEGACY)
    assert outcome == "PASS" and "it lets the person retry by hand" in reason, reason
    outcome, reason = ran.outcome("client.notice.retried-once", LEGACY)
    assert outcome == "SKIP" and "a manual retry" in reason, reason
    for rid in ("client.notice.unknown-ignored", "client.notice.repeat-ignored"):
        outcome, reason = ran.outcome(rid, LEGACY)
        assert outcome == "SKIP" and "no call after the right notice either" in reason, (rid, reason)
    assert ran.outcome("client.retry.bounded", LEGACY)[0] == "PASS"


def test_checks_that_observed_nothing_are_skipped_and_say_why(runs):
    ran = runs["no-links"]  # handoff call declares both modes: the scenario sends no link
    assert ran.code == 0, ran.output()
    for rid in ("client.server.named", "client.url.shown", "client.url.no-prefetch"):
        outcome, reason = ran.outcome(rid, LEGACY)
        assert outcome == "SKIP" and "no scenario that ran sent a link" in reason, (rid, reason)
    assert not [r for r in ran.report["results"] if "--serve" in r["reason"]]
    ran = runs["declines"]  # --accept none: the first -32042 ends the call, nothing is retried
    outcome, reason = ran.outcome("client.retry.bounded", LEGACY)
    assert outcome == "SKIP" and "did not retry the call at all" in reason, reason


def test_the_table_names_each_requirement_and_its_section():
    ran = check_client(
        "--era", LEGACY, "--only", "request", "--", HANDOFF, "call", "{url}", "check", fmt="table"
    )
    out, _ = ran.output()
    assert ran.code == 0
    assert "handoff check client:" in out and "Capabilities · client.capability.declared" in out
    assert re.search(r"PASS\s+│\s+MUST\s+│\s+2025-11-25", out)
    assert "conforms (" in out.strip().splitlines()[-1]


def test_usage_mistakes_are_said_plainly():
    ran = check_client()
    assert ran.code == 2 and "give either -- COMMAND" in ran.output()[1]
    ran = check_client("--accept-with", "y", "--", "true")
    assert ran.code == 2 and "go together" in ran.output()[1]
    ran = check_client("--acept-with", "y", "--", "true")  # not taken for the client's command
    assert ran.code == 2 and "No such option '--acept-with'" in ran.output()[1]
    ran = check_client("--era", LEGACY, "--only", "request", "--", "/nonexistent/client")
    out, err = ran.output()
    assert ran.code == 2 and not out, (out, err)
    assert (
        err.strip()
        == "handoff check client: cannot start the client '/nonexistent/client': No such file or directory"
    )


def test_serve_mode_waits_for_a_client_pointed_at_it():
    port = free_port()
    served = check_client("--serve", str(port), "--era", LEGACY, "--only", "request", "--wait", "60")
    assert served.process.stderr is not None
    lines = []
    for line in served.process.stderr:  # the instructions: which URL, and the BROWSER to set
        lines.append(line)
        if "/mcp" in line:
            break
    said = "".join(lines)
    url = re.search(r"http://127\.0\.0\.1:\d+/2025-11-25/request/mcp", said)
    browser = re.search(r"BROWSER=(.+) HANDOFF_CHECK_BROWSER_REPORT=(\S+)", said)
    assert url and browser, said
    env = {
        **os.environ,
        "BROWSER": shlex.split(browser.group(1))[0],
        "HANDOFF_CHECK_BROWSER_REPORT": browser.group(2),
    }
    client = subprocess.run(
        [HANDOFF, "call", url.group(0), "check", "--timeout", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert client.returncode == 0, client.stderr
    assert served.code == 0
    assert served.outcome("client.mode.honoured", LEGACY)[0] == "PASS"
    outcome, reason = served.outcome("client.consent.before-open", LEGACY)
    assert outcome == "SKIP" and "--serve" in reason
    assert served.outcome("client.url.shown", LEGACY)[0] == "SKIP"


async def _wire_of(command: list[str], **options: Any) -> list[tuple[str, Sent]]:
    """Run `check client` in this process on `command`; every message its servers sent, by era."""
    hub = Hub()
    await check_command(command, Options(**options), hub)
    return [(scenario.era, sent) for scenario in hub.scenarios.values() for sent in scenario.trace.sent]


@pytest.mark.anyio
async def test_every_message_the_scripted_servers_send_follows_the_schema():
    """Checked against the models generated from the spec's schema of each era, strictly (see
    _spec_shapes): a strict client otherwise refuses the server, and its era goes untested."""
    clients = [
        ([HANDOFF, "call", "{url}", "check", "--timeout", "2"], {}),
        (["node", str(PEER / "client.mjs")], {"person": Person("y", "n")}),
        ([sys.executable, str(ROGUE)], {"only": ("undeclared", "notices", "rounds")}),
    ]
    wires: list[list[tuple[str, Sent]]] = []

    async def run(command: list[str], options: dict[str, Any]) -> None:
        wires.append(await _wire_of(command, limit=3.0, **options))

    async with anyio.create_task_group() as tg:
        for command, options in clients:
            tg.start_soon(run, command, options)
    sent = [item for wire in wires for item in wire]
    wrong = {
        f"{era} {kind(s.message, s.answers)}: {problem}"
        for era, s in sent
        for problem in problems(era, s.message, s.answers)
    }
    assert not wrong, "\n".join(sorted(wrong))
    kinds = {(era, kind(s.message, s.answers)) for era, s in sent}
    assert kinds >= {
        (LEGACY, "result of initialize"),
        (LEGACY, "result of tools/list"),
        (LEGACY, "result of tools/call"),
        (LEGACY, "error -32042"),
        (LEGACY, "request elicitation/create"),
        (LEGACY, "notification notifications/elicitation/complete"),
        (MODERN, "result of server/discover (complete)"),
        (MODERN, "result of tools/list (complete)"),
        (MODERN, "result of tools/call (input_required)"),
        (MODERN, "result of tools/call (complete)"),
        (MODERN, "error -32022"),
    }, kinds


def test_serve_mode_does_not_fail_a_retry_the_person_may_have_asked_for():
    """With --serve the checker cannot see the person at the client: a retry before the notice may
    be the manual retry the spec asks clients to offer (here: Enter, typed at once)."""
    port = free_port()
    served = check_client("--serve", str(port), "--era", LEGACY, "--only", "notices", "--wait", "60")
    assert served.process.stderr is not None
    said = ""
    for line in served.process.stderr:
        said += line
        if "/mcp" in line:
            break
    url = re.search(r"http://127\.0\.0\.1:\d+/2025-11-25/notices/mcp", said)
    browser = re.search(r"BROWSER=(.+) HANDOFF_CHECK_BROWSER_REPORT=(\S+)", said)
    assert url and browser, said
    env = {
        **os.environ,
        "BROWSER": shlex.split(browser.group(1))[0],
        "HANDOFF_CHECK_BROWSER_REPORT": browser.group(2),
        "PEER_MANUAL": "1",
    }
    client = subprocess.run(
        [sys.executable, str(FASTMCP), url.group(0)],
        input="y\n\ny\n\n",  # accept, done at once; the second link the same
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert client.returncode == 0, client.stdout + client.stderr
    assert served.code == 0, served.output()
    outcome, reason = served.outcome("client.notice.retried-once", LEGACY)
    assert outcome == "SKIP" and "cannot see whether the person asked for it" in reason, reason
