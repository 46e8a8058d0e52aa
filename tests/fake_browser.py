"""Stands in for the system browser in terminal tests: `BROWSER="python fake_browser.py %s"`.

It does what the person would do at the page it is given, as $FAKE_USER (with $FAKE_PASSWORD, else
the demo's password): sign in and allow an OAuth client, or sign in where an elicitation page asks
and enter $FAKE_SECRET on it (only look at it when $FAKE_FINISH is 0). It logs what it did to
$FAKE_LOG.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx2

from handoff.demo import DEMO_USERS, ScriptedBrowser


async def main(url: str) -> str:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    user = os.environ.get("FAKE_USER", "alice")
    password = os.environ.get("FAKE_PASSWORD") or DEMO_USERS[user]
    async with ScriptedBrowser(origin, person=(user, password)) as browser:
        if parts.path.endswith("/authorize"):  # an OAuth sign-in: consent may be remembered
            answer = await browser.authorize(url, user, password)
            redirect = parse_qs(parts.query)["redirect_uri"][0]
            async with httpx2.AsyncClient() as http:
                await http.get(f"{redirect}?{urlencode(answer)}")  # the terminal client's loopback callback
            return "authorized"
        page = await browser.open(url)  # where the page asks, the person signs in
        if "/login" in page.url:
            page = await browser.sign_in(page, user, password)
        if os.environ.get("FAKE_FINISH", "1") == "0":
            what = f"only looked at {page.title}"
        else:
            done = await browser.submit(page, {"value": os.environ["FAKE_SECRET"], "action": "save"})
            what = f"entered secret: {getattr(done, 'title', done)}"
    return what


if __name__ == "__main__":
    did = anyio.run(main, sys.argv[1])
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(f"{did} {sys.argv[1]}\n")
