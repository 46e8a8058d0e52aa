"""check_url against a browser's own decisions: the hosts Chromium refuses to show in Unicode are warned
or blocked here, the ones it shows pass, the invalid ones are blocked, and every finding says why."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import NamedTuple

import icu
import pytest

from handoff.client import check_url

TABLE = Path(__file__).parent / "data" / "browser_idn_cases.tsv"
IDN_CODES = {
    "mixed-script",
    "confusable",
    "unusual-character",
    "mixed-digits",
    "combining-mark",
    "digit-lookalike",
    "tld-letter",
    "middle-dot",
    "kana-mark",
    "cjk-lookalike",
    "lookalike-domain",
}
LOOKALIKE_WORDS = ("looks like", "look like", "passes for", "pass for", "reads as")
NAMED_CHARACTER = re.compile(r"'[^']+' \([^)]*U\+[0-9A-F]{4,6}\)")  # 'x' (its Unicode name, U+hex)


class Case(NamedTuple):
    host: str
    expected: str
    needs: str
    note: str


def _cases() -> list[Case]:
    lines = [line for line in TABLE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    rows = list(csv.reader(lines, delimiter="\t"))
    assert rows[0] == ["host", "expected", "needs", "note"]
    return [Case(*row) for row in rows[1:]]


CASES = _cases()
DECIDED_BY_NAME = [c for c in CASES if c.needs in ("-", "rule")]
REFUSED = [c for c in DECIDED_BY_NAME if c.expected == "refused"]
BY_RULE = [c for c in CASES if c.needs == "rule"]


def _verdicts(expected: str) -> dict[str, str]:
    cases = [c for c in DECIDED_BY_NAME if c.expected == expected]
    return {c.host: check_url(f"https://{c.host}/").verdict for c in cases}


def test_the_table_names_its_source_and_holds_every_kind_of_case():
    head = TABLE.read_text(encoding="utf-8").split("\nhost\t", 1)[0]
    assert "idn_spoof_checker_unittest.cc" in head and "chromium/chromium" in head
    kinds = {c.expected for c in DECIDED_BY_NAME}
    assert kinds == {"ok", "refused", "invalid"}
    assert len({c.host for c in CASES}) == len(CASES)
    assert len(DECIDED_BY_NAME) >= 350


def test_hosts_the_browser_refuses_are_warned_or_blocked():
    verdicts = _verdicts("refused")
    missed = sorted(host for host, verdict in verdicts.items() if verdict == "ok")
    assert len(verdicts) >= 240
    assert len(missed) <= len(verdicts) * 0.01, missed


def test_invalid_punycode_is_always_blocked_and_never_shown_as_a_name():
    for case in (c for c in DECIDED_BY_NAME if c.expected == "invalid"):
        report = check_url(f"https://{case.host}/")
        assert report.verdict == "block", (case, report.reasons)
        assert "invalid-idn" in {r.code for r in report.reasons}, case
        bad = [label for label in case.host.split(".") if label.startswith("xn--")]
        assert any(label in (report.host_unicode or "").split(".") for label in bad), report.host_unicode


@pytest.mark.parametrize("case", BY_RULE, ids=lambda c: c.host)
def test_lookalikes_the_browser_catches_by_its_test_domains_are_caught_here_by_their_kind(case: Case):
    report = check_url(f"https://{case.host}/")
    codes = {r.code for r in report.reasons}
    assert report.verdict == "warn", report.reasons
    assert codes and codes <= {"digit-lookalike", "confusable", "cjk-lookalike"}, report.reasons


def test_a_name_the_browser_shows_is_never_blocked_as_undecodable():
    shown = [c for c in DECIDED_BY_NAME if c.expected == "ok"]
    blocked = sorted(c.host for c in shown if check_url(f"https://{c.host}/").verdict == "block")
    assert not blocked


def test_legitimate_idn_hosts_are_rarely_warned():
    legitimate = [c for c in DECIDED_BY_NAME if c.expected == "ok" and "xn--" in c.host]
    warned = sorted(c.host for c in legitimate if check_url(f"https://{c.host}/").verdict != "ok")
    assert len(legitimate) >= 90
    assert len(warned) <= len(legitimate) * 0.05, warned


def test_plain_ascii_hosts_of_the_table_pass():
    for case in (c for c in DECIDED_BY_NAME if "xn--" not in c.host):
        assert check_url(f"https://{case.host}/").verdict == "ok", case


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.host)
def test_every_reason_names_the_script_the_lookalike_or_the_character(case: Case):
    report = check_url(f"https://{case.host}/")
    found = [r for r in report.reasons if r.code in IDN_CODES]
    invalid = [r for r in report.reasons if r.code == "invalid-idn"]
    assert found or invalid, report.reasons
    assert all(r.severity == "warn" for r in found) and all(r.severity == "block" for r in invalid)
    scripts = _script_names(report.host_unicode or "")
    for reason in found:
        assert "'" in reason.text, reason.text  # it quotes the part of the name it is about
        named = any(name in reason.text for name in scripts) or any(w in reason.text for w in LOOKALIKE_WORDS)
        assert named or NAMED_CHARACTER.search(reason.text), reason.text
    for reason in invalid:  # a name that does not decode is never shown, but its culprit is named
        assert NAMED_CHARACTER.search(reason.text), reason.text


def test_the_browsers_own_lookalike_examples_name_the_domain_they_imitate():
    for host, imitated in [("xn--googl-fsa.com", "google.com"), ("xn--80ak6aa92e.com", "apple.com")]:
        report = check_url(f"https://{host}/")
        (reason,) = [r for r in report.reasons if r.code == "lookalike-domain"]
        assert f"looks like {imitated}" in reason.text


def _script_names(text: str) -> set[str]:
    names = set()
    for c in text:
        for code in icu.Script.getScriptExtensions(c):
            names.add(str(icu.Script(code).getName()).replace("_", " "))
    return names - {"Common", "Inherited", "Unknown"}
