"""The report of `handoff check`: outcomes per requirement and era, exit code, table and JSON."""

from __future__ import annotations

import json

from handoff.check import Level, Outcome, Report, Requirement

NO_CREDENTIALS = Requirement("url.no-credentials", Level.MUST, "Security Considerations", "No credentials")
FRAMING = Requirement("page.framing", Level.SHOULD, "Security Best Practices", "Pages refuse framing")


def test_only_a_failed_must_makes_the_exit_code_non_zero() -> None:
    report = Report("server", "http://127.0.0.1:1/mcp")
    report.passed(NO_CREDENTIALS, "no userinfo, no token-like query", "2025-11-25")
    report.failed(FRAMING, "no frame-ancestors and no X-Frame-Options")
    report.skipped(NO_CREDENTIALS, "the server speaks only 2025-11-25", "2026-07-28")
    assert report.exit_code == 0
    report.failed(NO_CREDENTIALS, "query parameter token=…", "2025-11-25")
    assert report.exit_code == 1
    assert report.outcome("url.no-credentials", "2025-11-25") is Outcome.FAIL
    assert report.outcome("url.no-credentials", "2026-07-28") is Outcome.SKIP
    assert report.outcome("page.framing") is Outcome.FAIL
    assert report.outcome("unknown") is None


def test_json_and_table_name_each_requirement_and_its_outcome() -> None:
    report = Report("server", "http://127.0.0.1:1/mcp")
    report.passed(NO_CREDENTIALS, "clean URL", "2026-07-28")
    report.failed(FRAMING, "framing allowed")
    data = json.loads(report.as_json())
    assert data["ok"] is True and data["counts"] == {"PASS": 1, "FAIL": 1, "SKIP": 0}
    assert data["results"][0] == {
        "id": "url.no-credentials",
        "level": "MUST",
        "section": "Security Considerations",
        "requirement": "No credentials",
        "era": "2026-07-28",
        "outcome": "PASS",
        "reason": "clean URL",
    }
    table = report.as_table(width=160)
    assert "PASS" in table and "FAIL" in table and "page.framing" in table
    assert table.rstrip().endswith("conforms (1 passed, 1 failed, 0 skipped)")
