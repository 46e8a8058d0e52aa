"""Every kind of page, in Debian's Chromium, as people meet them: on a desktop, on a 390 px phone in
German and dark mode, and zoomed to 200%. On each: the server's and the app's names are visible text,
axe-core (WCAG 2.2 AA rules) finds nothing serious or critical, and nothing needs scrolling sideways."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from _tour import APP_NAME, DEMO_APP, expired_link, links
from conftest import PEER, Running
from playwright.async_api import Browser, BrowserContext, Page

from handoff import Appearance
from handoff.client._callback import LoopbackCallback
from handoff.demo import DEMO_USERS

pytestmark = pytest.mark.anyio

AXE = PEER / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SERVER_NAME = "Juniper Assistant"


@dataclass(frozen=True)
class Setting:
    name: str
    viewport: dict[str, int]
    locale: str
    dark: bool = False
    scale: float = 1


SETTINGS = [
    Setting("desktop", {"width": 1280, "height": 900}, "en-US"),
    Setting("phone-de-dark", {"width": 390, "height": 844}, "de-DE", dark=True, scale=3),
    # 200% zoom of a 1280 px wide window: the page lays out in 640 CSS pixels, each drawn twice as large.
    Setting("zoom-200", {"width": 640, "height": 450}, "en-US", scale=2),
]


@pytest.fixture
def servers(tmp_path: Path):
    """The demo (as a product of its own: name, logo, accent), and one whose links expire at once."""
    main = Running(tmp_path / "pages").start()
    brief = Running(tmp_path / "brief", ttl=1.0).start()
    yield main, brief
    main.stop()
    brief.stop()


async def _context(chromium: Browser, setting: Setting) -> BrowserContext:
    return await chromium.new_context(
        viewport=setting.viewport,
        device_scale_factor=setting.scale,
        locale=setting.locale,
        color_scheme="dark" if setting.dark else "light",
        is_mobile=setting.viewport["width"] < 500,
        has_touch=setting.viewport["width"] < 500,
    )


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.x A and AA findings on the page, those of serious or critical impact."""
    if not AXE.exists():
        pytest.fail("axe-core is not installed: run `npm ci --prefix tests/peer` (.ci/run does)")
    if not await page.evaluate("typeof axe !== 'undefined'"):
        # Evaluated by the browser's debugging protocol: the page's own no-script policy stays on.
        await page.evaluate(AXE.read_text())
    result = await page.evaluate(
        "options => axe.run(document, options)",
        {"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]},
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:160] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


class Tour:
    """One setting's walk through the page kinds, checking each page as it comes."""

    def __init__(self, setting: Setting, screens: Path) -> None:
        self.setting = setting
        self.screens = screens
        self.kinds: list[str] = []

    async def check(self, page: Page, kind: str, *, app: str | None = None, site: str = SERVER_NAME) -> str:
        await page.wait_for_load_state()
        body_class = await page.get_attribute("body", "class")
        assert body_class == f"page-{kind}", (kind, body_class, await page.inner_text("body"))
        assert await page.locator("header.site .name").inner_text() == site
        assert await page.locator("header.site .name").is_visible()
        if app is not None:
            assert await page.get_by_text(app, exact=True).first.is_visible(), f"{kind}: {app} not shown"
        lang = await page.get_attribute("html", "lang")
        assert lang == self.setting.locale.split("-")[0], (kind, lang)
        found = await serious_violations(page)
        assert not found, f"{self.setting.name} {kind}: {json.dumps(found, indent=1)}"
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{self.setting.name} {kind}: {overflow} px to scroll sideways"
        await page.screenshot(path=str(self.screens / f"{self.setting.name}-{kind}.png"), full_page=True)
        self.kinds.append(kind)
        return await page.inner_text("main")


async def _sign_in(page: Page, user: str) -> None:
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", DEMO_USERS[user])
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


async def test_the_audit_finds_what_breaks_the_rules(servers, chromium: Browser):
    """The check itself can fail: an unlabelled field and grey-on-grey text are found."""
    main, _ = servers
    page = await (await chromium.new_context()).new_page()
    await page.goto(f"{main.origin}/handoff/login")
    assert not await serious_violations(page)
    await page.evaluate(
        """() => {
            const form = document.querySelector('form');
            form.insertAdjacentHTML('beforeend', '<input name="extra">');
            document.querySelector('h1').style.color = '#eee';
        }"""
    )
    found = {v["id"] for v in await serious_violations(page)}
    assert {"label", "color-contrast"} <= found, found


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
async def test_every_page_kind_is_named_accessible_and_fits(servers, chromium: Browser, screens, setting):
    main, brief = servers
    german = setting.locale.startswith("de")
    to = await links(main.origin, main.mcp_url)
    expired = await expired_link(brief.origin, brief.mcp_url)
    tour = Tour(setting, screens)
    alice = await (await _context(chromium, setting)).new_page()

    await alice.goto(to.secret)
    text = await tour.check(alice, "login")
    assert ("Bei Juniper Assistant anmelden" if german else "Sign in to Juniper Assistant") in text
    await _sign_in(alice, "alice")
    text = await tour.check(alice, "secret", app=DEMO_APP)
    assert "forecast" in text and ("Wetter-API-Schlüssel" if german else "Weather API key") in text
    assert ("Link läuft ab" if german else "Link expires") in text
    assert ("nicht geprüft" if german else "not verified") in text

    await alice.click("button[value=save]")  # nothing entered: the field says what is wrong
    await tour.check(alice, "secret", app=DEMO_APP)
    field = alice.locator("#value")
    assert await field.get_attribute("aria-invalid") == "true"
    described = (await field.get_attribute("aria-describedby") or "").split()
    assert "value-error" in described and "value-help" in described
    error = await alice.locator("#value-error").inner_text()
    assert ("Geben Sie Folgendes ein" if german else "Enter your Weather API key") in error
    assert await alice.evaluate("document.activeElement.id") == "value"

    await alice.evaluate("document.querySelector('input[name=csrf]').value = 'stale'")
    await alice.fill("#value", "wk_demo_1234567890")
    await alice.click("button[value=save]")
    assert ("Formular abgelaufen" if german else "Form expired") in await tour.check(alice, "error")

    await alice.goto(to.secret)  # each page asks for the sign-in itself, on this plain-http server
    await _sign_in(alice, "alice")
    await alice.fill("#value", "wk_demo_1234567890")
    await alice.click("button[value=save]")
    assert ("Gespeichert" if german else "Saved") in await tour.check(alice, "done")
    await alice.goto(to.secret)
    await _sign_in(alice, "alice")
    # A later visit of the link says what the save said (its first answer may have been cut off).
    assert ("Gespeichert" if german else "Saved") in await tour.check(alice, "done")

    await alice.goto(to.approval)
    await _sign_in(alice, "alice")
    text = await tour.check(alice, "approval", app=DEMO_APP)
    assert "Jamie Doe" in text and "12.50" in text and "send_payment" in text
    await alice.click("button[value=deny]")
    await tour.check(alice, "done")
    await alice.goto(to.approval)
    await _sign_in(alice, "alice")
    assert ("Anfrage abgelehnt" if german else "Request declined") in await tour.check(alice, "declined")

    await alice.goto(to.connect)
    await _sign_in(alice, "alice")
    calendar = "Demo-Kalender" if german else "Demo Calendar"
    assert calendar in await tour.check(alice, "connect", app=DEMO_APP)
    await alice.goto(to.consent)
    await _sign_in(alice, "alice")
    await tour.check(alice, "consent", app=f"„{APP_NAME}“" if german else f"“{APP_NAME}”")  # quoted data
    await alice.goto(to.unknown)
    await tour.check(alice, "unknown")
    await alice.goto(to.index)
    await tour.check(alice, "index")
    await alice.goto(to.forgotten_client)
    text = await tour.check(alice, "unknown-app")
    assert (
        "ist bei Juniper Assistant nicht registriert" if german else "not registered with Juniper"
    ) in text
    await alice.goto(f"{main.origin}/authorize?response_type=code")
    await tour.check(alice, "invalid-sign-in")

    bob = await (await _context(chromium, setting)).new_page()
    await bob.goto(to.connect)
    await _sign_in(bob, "bob")
    text = await tour.check(bob, "refused")
    assert "bob" in text and calendar not in text

    brief_alice = await (await _context(chromium, setting)).new_page()
    await anyio.sleep(1.1)
    await brief_alice.goto(expired)
    await _sign_in(brief_alice, "alice")
    assert ("abgelaufen" if german else "expired") in await tour.check(brief_alice, "expired")

    assert len(set(tour.kinds)) == 14  # an ended page ("completed") looks as "declined" and "expired" do


async def _look(page: Page) -> dict[str, str]:
    """What makes a page look like handoff's: its type, measure, heading and colours as drawn."""
    return dict(
        await page.evaluate(
            """() => {
                const style = (selector) => getComputedStyle(document.querySelector(selector));
                return {
                    font: style('body').fontFamily, background: style('body').backgroundColor,
                    text: style('body').color, measure: style('main').maxWidth,
                    heading: style('h1').fontSize, header: style('header.site').display,
                };
            }"""
        )
    )


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
async def test_the_page_a_sign_in_returns_to_is_one_of_handoffs_pages(
    servers, chromium: Browser, screens, setting
):
    """The page `handoff connect` (any `SignIn`) serves on its loopback port when the browser comes
    back from the authorization server: drawn like the server's pages, though nothing but the page
    itself can be fetched from a listener that closes once the answer is in."""
    main, _ = servers
    german = setting.locale.startswith("de")
    tour = Tour(setting, screens)
    page = await (await _context(chromium, setting)).new_page()
    await page.goto(f"{main.origin}/handoff/login")
    server_look = await _look(page)
    assert "Times" not in server_look["font"]

    waiting = LoopbackCallback()

    async def signed_in() -> None:
        await page.goto(f"{waiting.url}?state=old&code=x")
        assert await _look(page) == server_look
        await tour.check(page, "sign-in-unexpected", site="handoff")
        await page.goto(f"{waiting.url}?state=mine&code=x")
        assert await _look(page) == server_look
        text = await tour.check(page, "signed-in", site="handoff")
        assert ("kehren Sie zu handoff zurück" if german else "go back to handoff") in text

    got = await waiting.receive("mine", 60, signed_in)
    assert got is not None and got.code == "x"

    again = LoopbackCallback()

    async def declined() -> None:
        await page.goto(f"{again.url}?state=mine&error=access_denied")
        assert await _look(page) == server_look
        assert "access_denied" in await tour.check(page, "sign-in-failed", site="handoff")

    got = await again.receive("mine", 60, declined)
    assert got is not None and got.error == "access_denied"
    assert tour.kinds == ["sign-in-unexpected", "signed-in", "sign-in-failed"]


async def test_the_accent_colours_the_page_and_plain_pages_keep_handoffs_colours(
    servers, chromium: Browser, tmp_path: Path
):
    main, _ = servers
    plain = Running(tmp_path / "plain", appearance=Appearance()).start()
    try:
        context = await chromium.new_context()
        page = await context.new_page()
        colours = {}
        for name, server in (("themed", main), ("plain", plain)):
            answer = await page.goto(f"{server.origin}/handoff/login")
            assert answer is not None and answer.status == 200
            colours[name] = await page.evaluate(
                "getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor"
            )
            headers = await answer.all_headers()
            assert "script-src" not in headers["content-security-policy"]
            assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
            assert not await serious_violations(page)
        assert colours == {"themed": "rgb(11, 110, 79)", "plain": "rgb(37, 87, 214)"}
        logo = page.locator("header.site img.logo")
        await page.goto(f"{main.origin}/handoff/login")
        assert await logo.count() == 1
        assert await logo.evaluate("img => img.complete && img.naturalWidth > 0")
    finally:
        plain.stop()
