"""Where a person meets the link check: `handoff check-url`, the consent screen and `handoff call` all show
what makes a look-alike host unsafe, in the check's own words."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from handoff.cli import main
from handoff.client import ConsentRequest, check_url
from handoff.client._terminal import consent_panel

GITHUB_LOOKALIKE = "https://g\u0131thub.com/login"  # a dotless i
IMITATES = "looks like github.com, a well-known site"

LINK_SERVER = '''
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import UrlElicitationRequiredError
from mcp_types import ElicitRequestURLParams

server = MCPServer("link-sender", log_level="WARNING")


@server.tool()
def sign_in(url: str) -> str:
    """Ask the person to open `url`."""
    raise UrlElicitationRequiredError(
        [ElicitRequestURLParams(mode="url", message="Sign in to continue", url=url, elicitation_id="e-1")]
    )


if __name__ == "__main__":
    server.run("stdio")
'''


def test_check_url_command_names_the_imitated_domain_and_the_script():
    runner = CliRunner()
    shown = runner.invoke(main, ["check-url", GITHUB_LOOKALIKE])
    assert shown.exit_code == 1, shown.output
    assert "WARNING: https://xn--gthub-n4a.com/login" in shown.output
    assert "g\u0131thub.com  (xn--gthub-n4a.com)" in shown.output and IMITATES in shown.output
    greek = runner.invoke(main, ["check-url", "--format", "json", "https://\u03b9\u03ba\u03b1.com/"])
    data = json.loads(greek.output)
    assert greek.exit_code == 1 and data["verdict"] == "warn"
    (reason,) = data["reasons"]
    assert reason["code"] == "confusable" and "Greek letters" in reason["text"] and ".gr" in reason["text"]
    broken = runner.invoke(main, ["check-url", "https://xn--example-.com/"])
    assert broken.exit_code == 2 and "BLOCKED" in broken.output
    assert "not a valid encoded name" in broken.output


def test_consent_screen_shows_the_lookalike_finding():
    report = check_url(GITHUB_LOOKALIKE)
    console = Console(record=True, width=120)
    console.print(consent_panel(ConsentRequest("demo", "Sign in", report.url, report, None)))
    shown = console.export_text()
    assert "Check the warnings" in shown
    assert "Site: g\u0131thub.com (xn--gthub-n4a.com)" in shown
    assert f"Warning: 'g\u0131thub.com' {IMITATES}" in shown


def test_consent_screen_blocks_invalid_punycode_and_says_why():
    report = check_url("https://login.xn--bc-9x80a.xyz/")
    console = Console(record=True, width=140)
    console.print(consent_panel(ConsentRequest("demo", "Sign in", report.url, report, None)))
    shown = console.export_text()
    assert "This link is blocked" in shown and "BLOCKED: 'xn--bc-9x80a' is not a valid encoded name" in shown


def test_call_command_says_why_a_lookalike_link_was_declined(tmp_path: Path):
    server = tmp_path / "link_server.py"
    server.write_text(LINK_SERVER, encoding="utf-8")
    handoff = Path(sys.executable).parent / "handoff"
    done = subprocess.run(
        [
            str(handoff),
            "call",
            f"{sys.executable} {server}",
            "sign_in",
            "--args",
            json.dumps({"url": GITHUB_LOOKALIKE}),
            "--accept",
            "ok",
            "--protocol",
            "legacy",
            "--timeout",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "WARNING: https://xn--gthub-n4a.com/login" in done.stderr
    assert f"- 'g\u0131thub.com' {IMITATES}" in done.stderr
    assert "-> declined: --accept ok accepts only links with nothing suspicious" in done.stderr
