"""`handoff check server` against a hostile server (tests/check_server_hostile.py): a handshake that
only keeps alive, answers too large or nested too deeply, slow tools. Whatever it does, the check
ends, within its bounds, in a report or one line, and exit 2 when it could not finish."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from check_server_hostile import HUGE_MIB, serving
from click.testing import CliRunner

from handoff.check._cli import check

HANDOFF = Path(sys.executable).parent / "handoff"
LEGACY = "2025-11-25"


def handoff_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HANDOFF), "check", "server", *args], capture_output=True, text=True, timeout=120
    )


def checked(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(
        check, ["server", "--unattended-wait", "1", *args, "--format", "json", "--notice-wait", "1"]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def legacy_reasons(report: dict) -> dict[str, str]:
    return {r["id"]: f"{r['outcome']} {r['reason']}" for r in report["results"] if r["era"] == LEGACY}


def test_a_handshake_that_only_keeps_alive_ends_at_the_connect_timeout():
    with serving("keep-alive") as (url, _):
        done = handoff_check(url, "--connect-timeout", "1")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"handoff check server: {url} accepted the connection but did not finish the handshake within "
        "1 s; is the server stuck, or is this not its MCP endpoint?"
    ]


def test_an_answer_past_the_limit_stops_the_era_while_it_is_read():
    """A 40 MiB tools/list is refused at 16 MiB; what the era did not reach is skipped, saying why."""
    assert HUGE_MIB > 16
    with serving("huge") as (url, _):
        code, report = checked(url)
    assert code == 2
    said = (
        f"the check stopped: {url} sent an answer larger than 16 MiB, the most handoff reads of one "
        "answer; it was not read further"
    )
    reasons = legacy_reasons(report)
    assert reasons and set(reasons.values()) == {f"SKIP {said}"}
    assert report["stopped"] == [f"{LEGACY}: {said}"] and not report["ok"]


def test_an_answer_nested_too_deeply_is_a_line_of_the_report():
    with serving("deep") as (url, _):
        done = handoff_check(url, "--format", "json")
    assert done.returncode == 2
    assert done.stderr == ""  # no traceback, not even the SDK's log of it
    reasons = legacy_reasons(json.loads(done.stdout))
    said = "SKIP the check stopped: the server sent an answer that could not be read (nested too deeply)"
    assert reasons and set(reasons.values()) == {said}


def test_an_era_that_runs_out_of_time_skips_what_it_did_not_reach():
    with serving("slow") as (url, _):
        code, report = checked(url, "--era-deadline", "0.5")
    assert code == 2
    said = (
        "SKIP the era deadline of 0.5 s (--era-deadline) came while calling slow_0, looking for a gated tool"
    )
    reasons = legacy_reasons(report)
    assert reasons and set(reasons.values()) == {said}


def test_no_more_tools_are_called_than_max_tools():
    with serving("slow") as (url, _):
        code, report = checked(url, "--max-tools", "2")
    assert code == 3 and report["verdict"].startswith("nothing tested")
    said = (
        "SKIP no tool asked for a browser step (tried: slow_0, slow_1; not called, past --max-tools 2: "
        "slow_2, slow_3, slow_4, slow_5, echo); name one with --tool"
    )
    assert set(legacy_reasons(report).values()) == {said}


def test_a_step_url_that_redirects_elsewhere_is_reported_not_followed():
    """The checker's browser never reaches a service the step URL redirects to: not its admin page,
    not the form it would post with that service's CSRF token, not its sign-in form."""
    for trick, path in (("redirect-admin", "/admin"), ("redirect-sign-in", "/login")):
        with serving(trick) as (url, internal):
            _, report = checked(url, "--user", "alice", "--password", "alices-password")
        assert internal.seen == [] and internal.typed == [] and not internal.wiped, trick
        reasons = legacy_reasons(report)
        said = reasons["page.no-redirect-elsewhere"]
        assert said.startswith("FAIL it sent the browser to http://127.0.0.1:"), said
        assert said.endswith(
            f"{path}, which is neither the link's origin nor the server's authorization server (the "
            "checker's browser did not follow)"
        ), said
        assert reasons["page.no-store"].startswith("SKIP the form page was not reached"), trick
        assert "alices-password" not in json.dumps(report)


def test_a_sign_in_that_redirects_elsewhere_types_no_password_there():
    with serving("authorize-elsewhere") as (url, internal):
        done = handoff_check(url, "--user", "alice", "--password", "alices-password")
    assert internal.seen == [] and internal.typed == []
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "which is not the server's authorization server, and the checker's browser goes nowhere" in line
    assert "alices-password" not in done.stdout + done.stderr
