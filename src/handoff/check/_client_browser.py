"""The browser stand-in of `handoff check client`: `BROWSER="python _client_browser.py %s"`.

It opens nothing. It tells the checker which URL the client asked the system browser to open (a POST
to $HANDOFF_CHECK_BROWSER_REPORT), so that links no page could see (javascript:, data:, a look-alike
domain) are seen too, and the checker plays the person who finishes the step. Standard library only,
and run as a file, so that starting it costs a client almost nothing.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def report(url: str) -> int:
    target = os.environ.get("HANDOFF_CHECK_BROWSER_REPORT")
    if not target:
        print(
            "handoff check's browser stand-in: HANDOFF_CHECK_BROWSER_REPORT is not set; "
            "it is meant to be started by a client that handoff check client runs",
            file=sys.stderr,
        )
        return 2
    body = json.dumps({"url": url}).encode()
    if not target.startswith(("http://127.0.0.1:", "http://localhost:")):
        print(f"handoff check's browser stand-in: {target} is not the checker on loopback", file=sys.stderr)
        return 2
    request = urllib.request.Request(  # noqa: S310 (only the checker's loopback URL, tested above)
        target, data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (the checker's loopback URL)
            answer.read()
    except OSError as exc:
        print(f"handoff check's browser stand-in: could not report to {target}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: _client_browser.py URL", file=sys.stderr)
        sys.exit(2)
    sys.exit(report(sys.argv[1]))
