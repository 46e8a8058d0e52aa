"""The pages' identity, look and language: what an author sets, what a person gets, what never changes."""

from __future__ import annotations

import dataclasses
import html.parser
import io
import re
from pathlib import Path

import anyio
import pytest
from _server import free_port
from _tour import APP_NAME, DEMO_APP, PAYMENT, expired_link, links
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po
from conftest import Running
from hypothesis import given
from hypothesis import strategies as st

from handoff import Appearance, ConfigError
from handoff._appearance import DARK_BACKGROUND, LIGHT_BACKGROUND, contrast
from handoff._i18n import Catalogs, preferences
from handoff.demo import DEMO_USERS, ScriptedBrowser
from handoff.demo._server import DEMO_APPEARANCE

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).parent.parent
LOCALE = ROOT / "src" / "handoff" / "locale"


# What an author sets


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"accent": "teal"}, "hex colour"),
        ({"accent": "#12345"}, "hex colour"),
        ({"accent": "red;} body{display:none"}, "hex colour"),
        ({"support_url": "javascript:alert(1)"}, "https:// page or a mailto:"),
        ({"support_url": "http://help.example"}, "https:// page or a mailto:"),
        ({"logo": "missing.png"}, "cannot read logo"),
        ({"logo": __file__}, "logo"),
        ({"stylesheet": "missing.css"}, "cannot read stylesheet"),
        ({"templates": "no/such/folder"}, "does not exist"),
        ({"name": ""}, "1 to 80 characters"),
        ({"name": "x" * 81}, "1 to 80 characters"),
    ],
)
def test_an_appearance_that_cannot_be_used_is_refused_and_says_how_to_fix_it(options, says):
    with pytest.raises(ConfigError, match=re.escape(says)):
        Appearance(**options)


def test_languages_that_cannot_be_offered_are_refused():
    with pytest.raises(ConfigError, match="no catalog for fr"):
        Catalogs(offered=["en", "fr"])
    with pytest.raises(ConfigError, match="not offered"):
        Catalogs(offered=["en"], fixed="de")
    with pytest.raises(ConfigError, match="does not exist"):
        Catalogs("no/such/folder")


@given(st.from_regex(r"#[0-9a-f]{6}", fullmatch=True))
def test_any_accent_gets_text_and_link_colours_with_aa_contrast(accent):
    css = Appearance(accent=accent).theme_css()
    on_accent = re.search(r"--on-accent: (#\w+)", css)[1]  # type: ignore[index]
    light, dark = re.findall(r"--accent-ink: (#\w+)", css)
    assert contrast(on_accent, accent) >= 4.5
    assert contrast(light, LIGHT_BACKGROUND) >= 4.5
    assert contrast(dark, DARK_BACKGROUND) >= 4.5


# Which language a request gets


def test_accept_language_is_read_in_order_of_preference():
    assert preferences("fr-CH, fr;q=0.9, de;q=0.8, *;q=0.5") == ["fr-CH", "fr", "de"]
    assert preferences("de;q=0, en") == ["en"]
    assert preferences("en;q=0.2, de;q=banana, pt-BR") == ["pt-BR", "en"]
    assert preferences("<script>, ../../etc, de") == ["de"]
    catalogs = Catalogs()
    assert catalogs.choose("de-AT,de;q=0.9,en;q=0.5").tag == "de"
    assert catalogs.choose("fr-FR, fr;q=0.9, de;q=0.5").tag == "de"
    assert catalogs.choose("fr, ja").tag == "en"
    assert catalogs.choose(None).tag == "en"
    assert Catalogs(fixed="de").choose("en").tag == "de"
    assert Catalogs(offered=["de"]).choose("en").tag == "de"


# The catalogs


def _extracted() -> set[str | tuple[str, str]]:
    method_map = [("src/handoff/**.py", "python"), ("src/handoff/templates/**.html", "jinja2")]
    options = {"src/handoff/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str | tuple[str, str]] = set()
    for _, _, message, _, _ in extract_from_dir(
        str(ROOT), method_map, options, keywords=keywords, comment_tags=()
    ):
        if isinstance(message, tuple):
            found.add((message[0], message[1]))
        else:
            found.add(message)
    return found


def _ids(catalog: Catalog) -> set[str | tuple[str, str]]:
    return {m.id if isinstance(m.id, str) else (m.id[0], m.id[1]) for m in catalog if m.id}


def test_the_template_lists_every_text_of_the_code_and_templates():
    """Every marked text is in handoff.pot, and nothing stale is: `pybabel extract` is up to date."""
    with (LOCALE / "handoff.pot").open("rb") as f:
        template = read_po(f)
    assert _ids(template) == _extracted()


def test_every_shipped_language_translates_every_text_with_the_same_placeholders():
    with (LOCALE / "handoff.pot").open("rb") as f:
        wanted = _ids(read_po(f))
    shipped = [p for p in LOCALE.glob("*/LC_MESSAGES/handoff.po")]
    assert [p.parent.parent.name for p in shipped] == ["de"]
    for po in shipped:
        with po.open("rb") as f:
            catalog = read_po(f, locale=po.parent.parent.name)
        assert _ids(catalog) == wanted, f"{po}: run pybabel update"
        for message in catalog:
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(strings) and not message.fuzzy, f"{po}: {message.id!r} is not translated"
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            wanted_names = set(re.findall(r"%\((\w+)\)", " ".join(ids)))
            for text in strings:
                assert set(re.findall(r"%\((\w+)\)", text)) <= wanted_names | {"num", "count"}, message.id
                assert re.findall(r"<[^>]+>", text) == re.findall(r"<[^>]+>", ids[0]), message.id
        assert not [problem for problem in catalog.check()], po


# No text on a page outside the catalog: in a made-up language whose every text is marked, nothing
# unmarked is left on any page but the values it shows (names, labels, times).

OPEN, CLOSE = "⟪", "⟫"


def _pseudo_catalog(folder: Path) -> None:
    with (LOCALE / "handoff.pot").open("rb") as f:
        template = read_po(f)
    catalog = Catalog(locale="eo", domain="handoff")
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            catalog.add(message.id, tuple(f"{OPEN}{text}{CLOSE}" for text in message.id))
        else:
            catalog.add(message.id, f"{OPEN}{message.id}{CLOSE}")
    _keep(catalog, folder)


def _keep(catalog: Catalog, folder: Path) -> Path:
    """Write `catalog` where an author keeps one: `folder/<language>/LC_MESSAGES/handoff.po`."""
    target = folder / str(catalog.locale) / "LC_MESSAGES"
    target.mkdir(parents=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog)
    (target / "handoff.po").write_bytes(buffer.getvalue())
    return folder


class _Text(html.parser.HTMLParser):
    """What a person reads on a page: its text, and the text of attributes a browser shows."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "alt", "aria-label", "placeholder") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _unmarked(page: str, values: list[str]) -> str:
    reader = _Text()
    reader.feed(re.sub(r"<time [^>]*>[^<]*</time>", " ", page))  # times are values, in the page's language
    text = " ".join(reader.parts)
    while (inner := re.sub(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}", " ", text)) != text:  # a text within a text
        text = inner
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, " ")
    return re.sub(r"[\s·:()⟦⟧.,]+", " ", text).strip()


@pytest.fixture
def pseudo(tmp_path: Path):
    _pseudo_catalog(tmp_path / "translations")
    look = dataclasses.replace(DEMO_APPEARANCE, translations=tmp_path / "translations", language="eo")
    server = Running(tmp_path / "data", appearance=look).start()
    yield server
    server.stop()


async def test_no_text_on_any_page_is_outside_the_catalog(pseudo: Running):
    origin = pseudo.origin
    to = await links(origin, pseudo.mcp_url)
    seen: dict[str, str] = {}
    async with ScriptedBrowser(origin) as alice, ScriptedBrowser(origin) as bob:
        seen["sign-in"] = (login := await alice.open(to.secret)).text
        assert OPEN in login.title
        secret = await alice.sign_in(login, "alice", DEMO_USERS["alice"])
        seen["secret"] = secret.text
        wrong = await alice.submit(secret, {"action": "save", "value": " "})
        assert not isinstance(wrong, str) and wrong.status == 400
        seen["secret, refused value"] = wrong.text
        stale = await alice.submit(secret, {"action": "save", "value": "x"}, csrf="stale")
        assert not isinstance(stale, str) and stale.status == 403
        seen["error"] = stale.text
        done = await alice.submit(secret, {"action": "save", "value": "wk_demo_1234567890"})
        assert not isinstance(done, str)
        seen["done"] = done.text
        seen["used"] = (await alice.open(to.secret)).text
        seen["approval"] = (approval := await alice.open(to.approval)).text
        denied = await alice.submit(approval, {"action": "deny"})
        assert not isinstance(denied, str)
        seen["denied"] = denied.text
        seen["declined"] = (await alice.open(to.approval)).text
        seen["connect"] = (await alice.open(to.connect)).text
        seen["consent"] = (await alice.open(to.consent)).text
        seen["unknown"] = (await alice.open(to.unknown)).text
        seen["index"] = (await alice.open(to.index)).text
        html = {"accept": "text/html"}  # a browser: the authorize step's own errors come as pages
        seen["unknown app"] = (await alice.http.get(to.forgotten_client, headers=html)).text
        seen["invalid sign-in"] = (await alice.http.get(f"{origin}/authorize", headers=html)).text
        bob_login = await bob.open(to.connect)
        seen["refused"] = (await bob.sign_in(bob_login, "bob", DEMO_USERS["bob"])).text
    values = [
        "Juniper Assistant", "alice", "bob", "forecast", "send_payment", "next_meeting", "calendar",
        DEMO_APP, APP_NAME, "127.0.0.1", "UTC", *PAYMENT.values(),
    ]  # fmt: skip
    kinds = {
        "sign-in": "login", "secret": "secret", "secret, refused value": "secret", "error": "error",
        "done": "done", "used": "done", "approval": "approval", "denied": "done", "declined": "declined",
        "connect": "connect", "consent": "consent", "unknown": "unknown", "index": "index",
        "refused": "refused", "unknown app": "unknown-app", "invalid sign-in": "invalid-sign-in",
    }  # fmt: skip
    digest = r"\b[0-9a-f]{16}\b"  # an approval's reference
    for kind, page in seen.items():
        assert f'<body class="page-{kinds[kind]}">' in page and OPEN in page, kind
        left = _unmarked(re.sub(digest, " ", page), values)
        left = re.sub(r"\bwk_demo_\w+\b", " ", left).strip()  # the demo key the page asks for, in its help
        assert not left, f"{kind}: text outside the catalog: {left!r}"


async def test_an_expired_link_says_so_in_the_persons_language(tmp_path: Path):
    server = Running(tmp_path / "data", ttl=1.0).start()
    try:
        url = await expired_link(server.origin, server.mcp_url)
        await anyio.sleep(1.2)
        async with ScriptedBrowser(server.origin) as alice:
            alice.http.headers["accept-language"] = "de-DE,de;q=0.9"
            login = await alice.open(url)
            page = await alice.sign_in(login, "alice", DEMO_USERS["alice"])
        assert page.status == 410 and page.title == "Dieser Link ist abgelaufen"
        assert '<html lang="de"' in page.text and "page-expired" in page.text
        assert "Rufen Sie das Werkzeug in Ihrem MCP-Client erneut auf" in page.text
    finally:
        server.stop()


async def test_when_a_request_was_asked_is_said_to_be_past(tmp_path: Path):
    """A request asked a moment ago was asked "1 second ago" (not "in 0 seconds"); its link expires
    in the future, in the person's language."""
    server = Running(tmp_path / "data").start()
    try:
        url = await expired_link(server.origin, server.mcp_url)  # a fresh link (it lives 8 minutes here)
        for language, asked, expires in (("en", " ago", "in "), ("de", "vor ", "in ")):
            async with ScriptedBrowser(server.origin) as alice:
                alice.http.headers["accept-language"] = language
                page = await alice.sign_in(await alice.open(url), "alice", DEMO_USERS["alice"])
            times = re.findall(r"<dd><time [^>]*>([^<]*)</time>", page.text)
            assert len(times) == 2, page.text
            assert asked in times[0] and not times[0].startswith("in "), times
            assert times[1].startswith(expires), times
    finally:
        server.stop()


# Themes and template overrides


async def test_a_theme_and_a_template_override_change_the_look_but_not_the_security_headers(tmp_path: Path):
    plain = Running(tmp_path / "plain").start()
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "base.html").write_text(
        '{% extends "handoff/base.html" %}'
        '{% block footer %}<p class="acme-footer">Acme Corp · {{ site.name }}</p>{{ super() }}{% endblock %}'
    )
    (tmp_path / "theme.css").write_text(":root { --radius: 0; --font: Georgia, serif; }\n")
    look = Appearance(name="Acme", accent="#ffcc00", templates=templates, stylesheet=tmp_path / "theme.css")
    themed = Running(tmp_path / "themed", appearance=look).start()
    try:
        async with ScriptedBrowser(plain.origin) as a, ScriptedBrowser(themed.origin) as b:
            before = await a.http.get(f"{plain.origin}/handoff/login")
            after = await b.http.get(f"{themed.origin}/handoff/login")
            theme = await b.http.get(f"{themed.origin}/handoff/brand/theme.css")
            logo = await a.http.get(f"{plain.origin}/handoff/brand/logo.svg")
        assert after.status_code == before.status_code == 200
        assert '<p class="acme-footer">Acme Corp · Acme</p>' in after.text
        assert "Sign in to Acme" in after.text and "Secure pages by handoff" in after.text
        assert 'href="/handoff/brand/theme.css"' in after.text
        assert "--accent: #ffcc00; --on-accent: #000000;" in theme.text
        assert "--font: Georgia, serif" in theme.text and theme.headers["content-type"].startswith("text/css")
        for response in (after, theme, logo):
            for header in ("content-security-policy", "x-frame-options", "referrer-policy", "cache-control"):
                assert response.headers[header] == before.headers[header], header
        assert "script-src" not in before.headers["content-security-policy"]
        assert "default-src 'none'" in before.headers["content-security-policy"]
        assert logo.headers["content-type"] == "image/svg+xml" and logo.content.startswith(b"<svg")
    finally:
        plain.stop()
        themed.stop()


async def _get(server: Running, path: str):
    async with ScriptedBrowser(server.origin) as browser:
        return await browser.http.get(f"{server.origin}{path}")


async def test_an_appearance_without_a_name_shows_the_mcp_servers_name(tmp_path: Path):
    server = Running(tmp_path / "data", port=free_port(), appearance=Appearance()).start()
    try:
        page = (await _get(server, "/handoff/login")).text
        assert "Sign in to handoff-demo" in page and "/brand/" not in page
    finally:
        server.stop()


# Who asked: a name only from what the server knows


@pytest.mark.parametrize("framework", ["sdk", "fastmcp"])
async def test_the_demo_has_one_name_for_mcp_clients_and_on_its_pages(tmp_path: Path, framework: str):
    """What an MCP client hears the demo server called (and a terminal shows as who asks) is the name
    its pages give it, and the name its calendar's consent page gives the app that asks."""
    from _mcp import user_client
    from mcp import MCPError

    server = Running(tmp_path / "data", framework=framework).start()
    try:
        async with ScriptedBrowser(server.origin) as alice:
            async with user_client(server.mcp_url, alice, "alice") as (client, _):
                told = client.server_info.name
                with pytest.raises(MCPError) as asked:
                    await client.call_tool("next_meeting", {})
            page = await alice.open(asked.value.data["elicitations"][0]["url"])
            consent = await alice.submit(page, {"action": "continue"})
        assert told == DEMO_APPEARANCE.name
        assert f"<title>Connect Demo Calendar · {told}</title>" in page.text
        assert f"{told} asks for access to your Demo Calendar account" in page.text
        assert not isinstance(consent, str) and consent.title == f"Allow {told} to act as you?"
    finally:
        server.stop()


async def test_the_app_that_asked_is_named_only_from_the_servers_own_records():
    from mcp.shared.auth import OAuthClientInformationFull

    from handoff import AuthServer, Handoff, Keyring, generate_key, hash_password

    auth = AuthServer(
        {"alice": hash_password("pw")},
        signing_key=b"k" * 32,
        issuer="http://127.0.0.1:9",
        pages_url="http://127.0.0.1:9/handoff",
    )
    handoff = Handoff.in_memory(
        public_url="http://127.0.0.1:9",
        browser=auth,
        secret_key=b"s" * 32,
        keyring=Keyring.parse(generate_key()),
        appearance=Appearance(clients={"known-id": "Juniper Desktop"}),
    )
    redirect = {"redirect_uris": ["http://127.0.0.1:7/cb"], "token_endpoint_auth_method": "none"}
    auth.add_client(OAuthClientInformationFull(client_id="configured", client_name="Ops Console", **redirect))
    await auth.register_client(
        OAuthClientInformationFull(client_id="self-named", client_name="Claude Desktop", **redirect)
    )
    await auth.register_client(OAuthClientInformationFull(client_id="nameless", **redirect))
    assert await handoff.app_name("known-id") == {"name": "Juniper Desktop", "verified": True}
    assert await handoff.app_name("configured") == {"name": "Ops Console", "verified": True}
    assert await handoff.app_name("self-named") == {"name": "Claude Desktop", "verified": False}
    assert await handoff.app_name("nameless") is None
    assert await handoff.app_name("never-registered") is None
    assert await handoff.app_name(None) is None


async def test_the_demos_own_texts_are_in_the_persons_language(tmp_path: Path):
    """The demo's texts on its pages (its needs' labels, help and checks, what an approval shows, its
    calendar and what its scope allows) go through handoff's catalogs like every other text: German
    pages are German throughout, but for the values they show."""
    server = Running(tmp_path / "data").start()
    try:
        to = await links(server.origin, server.mcp_url)
        async with ScriptedBrowser(server.origin) as alice:
            alice.http.headers["accept-language"] = "de"
            secret = await alice.sign_in(await alice.open(to.secret), "alice", DEMO_USERS["alice"])
            refused = await alice.submit(secret, {"action": "save", "value": "not-a-key"})
            approval = await alice.open(to.approval)
            connect = await alice.open(to.connect)
            calendar = await alice.submit(connect, {"action": "continue"})
            assert not isinstance(calendar, str)
            connected = await alice.submit(calendar, {"decision": "allow"})
            consent = await alice.open(to.consent)
        assert not isinstance(refused, str) and not isinstance(connected, str)
        assert secret.title == "Wetter-API-Schlüssel"
        assert "Demo-Schlüssel beginnen mit wk_, zum Beispiel wk_demo_1234567890." in secret.text
        assert "Das sieht nicht nach einem Wetter-Schlüssel aus" in refused.text
        assert approval.title == "Eine Zahlung senden"
        for label in ("Betrag", "Empfänger", "Beschreibung"):
            assert f'<bdi class="exact">{label}</bdi>' in approval.text
        assert connect.title == "Demo-Kalender verbinden"
        assert "Ihren Demo-Kalender lesen" in calendar.text
        assert "Ihr Konto bei Demo-Kalender ist verbunden" in connected.text
        assert (
            "Schickt Sie zurück zu</th><td><strong>einer App auf diesem Computer (lokaler Port 9)"
            in consent.text
        )
        english = (
            "Weather API key", "Demo keys start", "does not look like", "Send a payment", "Amount", "Payee",
            "Description", "Demo Calendar", "read your", "an app on this computer", "local port",
        )  # fmt: skip
        for page in (secret, refused, approval, connect, calendar, connected, consent):
            assert not [text for text in english if text in page.text], page.url
    finally:
        server.stop()


async def test_an_authors_catalog_translates_its_labels_and_rewords_handoffs_texts(tmp_path: Path):
    catalog = Catalog(locale="de", domain="handoff")
    catalog.add("Weather API key", "Schlüssel fürs Wetter")
    help_text = "Demo keys start with wk_, for example wk_demo_1234567890."
    catalog.add(help_text, "Demo-Schlüssel beginnen mit wk_.")
    catalog.add("Save", "Sichern")
    look = dataclasses.replace(DEMO_APPEARANCE, translations=_keep(catalog, tmp_path / "translations"))
    server = Running(tmp_path / "data", appearance=look).start()
    try:
        to = await links(server.origin, server.mcp_url)
        async with ScriptedBrowser(server.origin) as alice:
            alice.http.headers["accept-language"] = "de"
            page = await alice.sign_in(await alice.open(to.secret), "alice", DEMO_USERS["alice"])
        assert page.title == "Schlüssel fürs Wetter" and "Demo-Schlüssel beginnen mit wk_." in page.text
        assert ">Sichern</button>" in page.text  # the author's wording wins
        assert ">Ablehnen</button>" in page.text and "Über diese Anfrage" in page.text  # handoff's stays
    finally:
        server.stop()


async def test_a_right_to_left_language_is_declared_as_such(tmp_path: Path):
    catalog = Catalog(locale="he", domain="handoff")
    catalog.add("Sign in to %(server)s", "התחברות אל %(server)s", flags=("python-format",))
    look = dataclasses.replace(DEMO_APPEARANCE, translations=_keep(catalog, tmp_path / "translations"))
    server = Running(tmp_path / "data", appearance=look).start()
    try:
        async with ScriptedBrowser(server.origin) as browser:
            browser.http.headers["accept-language"] = "he-IL, en;q=0.5"
            page = await browser.open(f"{server.origin}/handoff/login")
        assert '<html lang="he" dir="rtl">' in page.text and page.title == "התחברות אל Juniper Assistant"
        assert "User name" in page.text  # what the author's catalog lacks stays in English
    finally:
        server.stop()
