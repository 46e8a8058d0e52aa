"""`handoff check server` on a well-behaved server (handoff's demo, on MCPServer and on FastMCP) and
on the same server with one fault planted on its wire (tests/check_server_faults.py): the clean one
passes with nothing skipped, and each fault fails exactly the check that names it; what an early
failure keeps the checker from reaching is skipped, saying so."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from check_server_faults import serving
from click.testing import CliRunner

from handoff.check._cli import check
from handoff.demo import DEMO_USERS

LEGACY, MODERN = "2025-11-25", "2026-07-28"
TWO_USERS = [
    "--user", "alice", "--password", DEMO_USERS["alice"],
    "--second-user", "bob", "--second-password", DEMO_USERS["bob"],
]  # fmt: skip


def checked(data_dir: Path, fault: str | None, framework: str = "sdk") -> tuple[int, dict]:
    with serving(data_dir, fault, framework) as url:
        result = CliRunner().invoke(
            check,
            ["server", url, *TWO_USERS, "--format", "json", "--notice-wait", "5", "--unattended-wait", "1"],
        )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def outcomes(report: dict) -> dict[tuple[str, str], tuple[str, ...]]:
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in report["results"]:
        found[(r["id"], r["era"])].append(r["outcome"])
    return {key: tuple(value) for key, value in found.items()}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict]:
    """The report on the well-behaved server of each framework, checked once."""
    reports: dict[str, dict] = {}

    def report(framework: str) -> dict:
        if framework not in reports:
            code, reports[framework] = checked(tmp_path_factory.mktemp("clean"), None, framework)
            assert code == 0, reports[framework]
        return reports[framework]

    return report


@pytest.mark.parametrize("framework", ["sdk", "fastmcp"])
def test_the_well_behaved_server_passes_and_skips_nothing(clean, framework):
    report = clean(framework)
    assert report["counts"]["FAIL"] == 0 and report["counts"]["SKIP"] == 0, [
        r for r in report["results"] if r["outcome"] != "PASS"
    ]
    assert report["verdict"].startswith("conforms")


PLANTED = {
    "wrong-code": ({("legacy.32042-shape", LEGACY)}, 1),
    "create-without-id": ({("legacy.create-params", LEGACY)}, 1),
    "notice-unknown-id": ({("legacy.notice-id", LEGACY)}, 1),
    "session-parameter": ({("url.no-credential-like-parameters", era) for era in (LEGACY, MODERN)}, 0),
    "token-in-url": (
        {
            (check, era)
            for check in ("url.no-credentials", "url.no-credential-like-parameters")
            for era in (LEGACY, MODERN)
        },
        1,
    ),
}


@pytest.mark.parametrize(
    ("framework", "fault"),
    [*(("sdk", fault) for fault in sorted(PLANTED)), ("fastmcp", "wrong-code"), ("fastmcp", "token-in-url")],
)
def test_each_planted_fault_fails_exactly_the_check_that_names_it(clean, framework, fault, tmp_path):
    expected, exit_code = PLANTED[fault]
    code, report = checked(tmp_path, fault, framework)
    assert code == exit_code, report
    before, after = outcomes(clean(framework)), outcomes(report)
    failed = {key for key, value in after.items() if "FAIL" in value}
    assert failed == expected, [r for r in report["results"] if r["outcome"] == "FAIL"]
    for key in set(before) | set(after):
        if key in expected or before.get(key) == after.get(key):
            continue
        assert after.get(key) and set(after[key]) == {"SKIP"}, (key, before.get(key), after.get(key))
        reason = next(r["reason"] for r in report["results"] if (r["id"], r["era"]) == key)
        assert reason.startswith("not reached: "), (key, reason)
    assert DEMO_USERS["alice"] not in json.dumps(report)


def test_the_reasons_say_what_was_observed(tmp_path):
    code, report = checked(tmp_path, "wrong-code")
    said = {(r["id"], r["era"]): r["reason"] for r in report["results"]}
    assert (
        said[("legacy.32042-shape", LEGACY)]
        == "forecast answered -32000 carrying URL elicitations in its data, not -32042"
    )
    code, report = checked(tmp_path / "2", "create-without-id")
    said = {(r["id"], r["era"]): r["reason"] for r in report["results"]}
    assert said[("legacy.create-params", LEGACY)] == "elicitation/create lacks elicitationId"


def test_a_link_on_a_third_party_host_is_not_opened(tmp_path):
    code, report = checked(tmp_path, "third-party-link")
    assert report["counts"]["FAIL"] == 0
    said = {(r["id"], r["era"]): (r["outcome"], r["reason"]) for r in report["results"]}
    for era in (LEGACY, MODERN):
        outcome, reason = said[("page.anonymous-refused", era)]
        assert outcome == "SKIP"
        assert "the link is on https://pages.example.com, not the server's own origin or loopback" in reason
