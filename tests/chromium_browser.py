"""Debian's Chromium as the system browser in terminal tests: `BROWSER="python chromium_browser.py %s"`.

At an OAuth sign-in it does what the person does, as $CHROMIUM_USER: sign in, allow on the consent
page, and wait until the browser lands on the client's loopback callback. At an elicitation page it
signs in where the page asks, enters $CHROMIUM_SECRET and saves. It logs the pages it saw and where
it ended to $CHROMIUM_LOG.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import urlsplit

from _chromium import CHROMIUM, FLAGS
from playwright.sync_api import sync_playwright

from handoff.demo import DEMO_USERS


def main(url: str) -> list[str]:
    user = os.environ.get("CHROMIUM_USER", "alice")
    seen: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page()
        page.on("console", lambda m: seen.append(f"console: {m.text}"))
        page.goto(url)
        if "/authorize" not in urlsplit(url).path:
            return [*seen, *finish_step(page, user)]
        if page.locator("input[name=password]").count():
            seen.append(f"page: {page.locator('h1').inner_text()}")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", DEMO_USERS[user])
            page.click("button[type=submit]")
            page.wait_for_load_state()
        if page.locator("button[value=allow]").count():
            seen.append(f"page: {page.locator('h1').inner_text()}")
            page.click("button[value=allow]")
        page.wait_for_url("http://127.0.0.1:*/callback?**", timeout=20_000)
        seen.append(f"landed: {page.inner_text('body')}")
        browser.close()
    return seen


def finish_step(page: Any, user: str) -> list[str]:
    """At an elicitation page: sign in if it asks, enter the secret, save."""
    seen: list[str] = []
    if page.locator("input[name=password]").count():
        seen.append(f"page: {page.locator('h1').inner_text()}")
        if page.locator("input[name=username]").count():
            page.fill("input[name=username]", user)
        page.fill("input[name=password]", DEMO_USERS[user])
        page.click("button[type=submit]")
    page.wait_for_selector("input[name=value]", timeout=20_000)
    seen.append(f"page: {page.locator('h1').inner_text()}")
    page.fill("input[name=value]", os.environ["CHROMIUM_SECRET"])
    page.click("button[value=save]")
    page.wait_for_selector("body.page-done", timeout=20_000)
    seen.append(f"finished: {page.locator('h1').inner_text()}")
    return seen


if __name__ == "__main__":
    try:
        lines = main(sys.argv[1])
    except Exception as exc:
        lines = [f"failed: {exc}"]
    with open(os.environ["CHROMIUM_LOG"], "a") as log:
        log.write("".join(f"{line}\n" for line in lines))
