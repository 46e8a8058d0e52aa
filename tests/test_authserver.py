"""The built-in authorization server, attacked over real HTTP: registration, consent, codes, refresh
tokens, audience, revocation, bounds and settings. (Chromium's part is in test_browser.py.)"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import anyio
import httpx2
import jwt
import pytest
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

from handoff import AuthServer, ConfigError, Handoff, Keyring, generate_key, hash_password
from handoff.demo import DEMO_USERS, ScriptedBrowser
from handoff.demo._browser import Page
from handoff.demo._server import DEMO_APPEARANCE
from handoff.identity import _authserver

pytestmark = pytest.mark.anyio

LOOPBACK = "http://127.0.0.1:1/callback"


@dataclass
class Grant:
    access_token: str
    refresh_token: str


class OAuthPeer:
    """An MCP client's OAuth steps by hand: register, authorize with PKCE, exchange, refresh, revoke."""

    def __init__(self, origin: str, http: httpx2.AsyncClient) -> None:
        self.origin = origin
        self.http = http

    async def register(self, **metadata: Any) -> httpx2.Response:
        body = {
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            **metadata,
        }
        body.setdefault("token_endpoint_auth_method", "none")
        return await self.http.post(f"{self.origin}/register", json=body)

    async def client(self, name: str = "test client", redirect: str = LOOPBACK) -> dict[str, Any]:
        answer = await self.register(client_name=name, redirect_uris=[redirect])
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def authorize_url(self, client: dict[str, Any], redirect: str, **extra: str) -> tuple[str, str]:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = {
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": redirect,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": secrets.token_urlsafe(8),
            **extra,
        }
        return f"{self.origin}/authorize?{urlencode(query)}", verifier

    async def exchange(
        self, client: dict[str, Any], code: str, verifier: str, redirect: str
    ) -> httpx2.Response:
        return await self.http.post(
            f"{self.origin}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect,
                "code_verifier": verifier,
                "client_id": client["client_id"],
            },
        )

    async def sign_in(
        self, browser: ScriptedBrowser, client: dict[str, Any], user: str = "alice", redirect: str = LOOPBACK
    ) -> Grant:
        url, verifier = self.authorize_url(client, redirect)
        answer = await browser.authorize(url, user, DEMO_USERS[user])
        token = await self.exchange(client, answer["code"], verifier, redirect)
        assert token.status_code == 200, token.text
        return Grant(token.json()["access_token"], token.json()["refresh_token"])

    async def refresh(self, client: dict[str, Any], refresh_token: str) -> httpx2.Response:
        return await self.http.post(
            f"{self.origin}/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client["client_id"],
            },
        )

    async def mcp_status(self, access_token: str) -> int:
        """What /mcp says to this token: 401 when refused, anything else when let in."""
        answer = await self.http.post(
            f"{self.origin}/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "0"},
                },
            },
            headers={
                "authorization": f"Bearer {access_token}",
                "accept": "application/json, text/event-stream",
            },
        )
        return answer.status_code


@pytest.fixture
async def peer(running):
    async with httpx2.AsyncClient(timeout=30) as http:
        yield OAuthPeer(running.origin, http)


# Registration


@pytest.mark.parametrize(
    "redirect",
    [
        "http://evil.example/cb",
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "https://app.example/cb#fragment",
        "https://user:pw@app.example/cb",
        "vbscript:msgbox",
    ],
)
async def test_registration_refuses_redirect_uris_that_are_not_https_loopback_or_an_apps_own(peer, redirect):
    answer = await peer.register(client_name="x", redirect_uris=[redirect])
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_redirect_uri"


@pytest.mark.parametrize(
    "redirect",
    [
        "https://app.example/oauth/cb",
        "http://127.0.0.1:49152/callback",
        "http://[::1]:8080/cb",
        "com.example.app:/cb",
    ],
)
async def test_registration_accepts_https_loopback_and_private_use_schemes(peer, redirect):
    answer = await peer.register(client_name="ok", redirect_uris=[redirect])
    assert answer.status_code == 201, answer.text


async def test_registration_metadata_is_bounded(peer):
    huge = await peer.register(client_name="x" * 200_000, redirect_uris=[LOOPBACK])
    assert huge.status_code == 413
    long_name = await peer.register(client_name="x" * 500, redirect_uris=[LOOPBACK])
    assert long_name.status_code == 400 and "client_name" in long_name.json()["error_description"]
    many = await peer.register(client_name="x", redirect_uris=[f"http://127.0.0.1:{p}/cb" for p in range(20)])
    assert many.status_code == 400 and "at most" in many.json()["error_description"]
    stuffed = await peer.register(client_name="x", redirect_uris=[LOOPBACK], contacts=["a" * 100] * 90)
    assert stuffed.status_code == 400 and "larger than" in stuffed.json()["error_description"]


async def test_registrations_that_never_sign_in_are_capped(peer, monkeypatch, browsers):
    monkeypatch.setattr(_authserver, "MAX_NEW_CLIENTS", 3)
    for _ in range(3):
        await peer.client()
    refused = await peer.register(client_name="one too many", redirect_uris=[LOOPBACK])
    assert refused.status_code == 400 and "try again later" in refused.json()["error_description"]


async def test_a_client_that_signed_in_leaves_the_capped_pool(peer, monkeypatch, browsers):
    monkeypatch.setattr(_authserver, "MAX_NEW_CLIENTS", 2)
    first = await peer.client()
    await peer.sign_in(browsers(), first)
    await peer.client()
    assert (await peer.register(client_name="fits", redirect_uris=[LOOPBACK])).status_code == 201


async def test_authorization_refuses_a_bad_redirect_even_for_a_client_stored_with_one(running, peer):
    client = await peer.client()
    stored = await running.demo.auth.store.take("as.client.new", client["client_id"])
    assert stored is not None
    stored["info"]["redirect_uris"] = ["javascript:alert(1)"]
    await running.demo.auth.store.put(
        "as.client.new", client["client_id"], stored, expires_at=time.time() + 60
    )
    url, _ = peer.authorize_url(client, "javascript:alert(1)")
    answer = await peer.http.get(url)
    assert answer.status_code == 400
    assert "javascript" not in answer.headers.get("location", "")


async def test_loopback_redirects_match_on_any_port_and_nothing_else_varies(peer, browsers):
    client = await peer.client(redirect="http://127.0.0.1:50000/callback")
    grant = await peer.sign_in(browsers(), client, redirect="http://127.0.0.1:61234/callback")
    assert await peer.mcp_status(grant.access_token) == 200
    for other in ("http://127.0.0.1:61234/other", "http://localhost:50000/callback"):
        url, _ = peer.authorize_url(client, other)
        assert (await peer.http.get(url)).status_code == 400


@pytest.mark.parametrize("framework", ["sdk", "fastmcp"], indirect=True)
async def test_a_browser_sent_with_a_client_id_the_server_does_not_know_gets_a_page_of_the_server(
    running, peer
):
    """Errors the authorize step answers to the browser itself (it cannot go back to an app it does
    not know) are one of the server's pages, in the person's language; a program keeps the JSON."""
    from handoff._web import SECURITY_HEADERS

    browser = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    forgotten = {"client_id": f"forgotten-{secrets.token_hex(8)}"}
    url, _ = peer.authorize_url(forgotten, LOOPBACK)
    page = await peer.http.get(url, headers=browser)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert '<body class="page-unknown-app">' in page.text
    assert "<h1>This app is not known here</h1>" in page.text and "Juniper Assistant" in page.text
    assert 'href="/handoff/static/style.css"' in page.text and "Secure pages by handoff" in page.text
    assert forgotten["client_id"] not in page.text  # what the link says is not the server's to repeat
    for header, value in SECURITY_HEADERS.items():
        assert page.headers[header] == value, header
    posted = await peer.http.post(
        f"{running.origin}/authorize", data=dict(parse_qsl(urlsplit(url).query)), headers=browser
    )
    assert posted.status_code == 400 and '<body class="page-unknown-app">' in posted.text
    german = await peer.http.get(url, headers={**browser, "accept-language": "de-DE,de;q=0.9"})
    assert '<html lang="de"' in german.text and "<h1>Diese App ist hier nicht bekannt</h1>" in german.text

    client = await peer.client()
    elsewhere, _ = peer.authorize_url(client, "http://127.0.0.1:1/elsewhere")
    page = await peer.http.get(elsewhere, headers=browser)
    assert page.status_code == 400 and '<body class="page-invalid-sign-in">' in page.text
    assert "/elsewhere" not in page.text
    incomplete = await peer.http.get(f"{running.origin}/authorize?response_type=code", headers=browser)
    assert incomplete.status_code == 400 and '<body class="page-invalid-sign-in">' in incomplete.text

    program = await peer.http.get(url)  # no HTML wanted: the SDK's answer as it was
    assert program.status_code == 400 and program.json()["error"] == "invalid_request"
    signing_in = await peer.http.get(peer.authorize_url(client, LOOPBACK)[0], headers=browser)
    assert signing_in.status_code == 302 and "/handoff/authorize/" in signing_in.headers["location"]


# Consent


async def test_the_consent_page_says_where_the_code_goes_and_that_the_name_is_unverified(peer, browsers):
    client = await peer.client(name="Claude Desktop", redirect="https://evil.example/cb")
    browser = browsers()
    url, _ = peer.authorize_url(client, "https://evil.example/cb")
    page = await browser.open(url)
    page = await browser.sign_in(page, "alice", DEMO_USERS["alice"])
    assert page.title == "Allow an app to act as you?"  # a name the app gave itself is no heading
    assert "“Claude Desktop”" in page.text and "not verified" in page.text and "evil.example" in page.text
    csp = (await browser.http.get(page.url)).headers["content-security-policy"]
    assert "form-action 'self' https://evil.example;" in csp


async def test_a_self_registered_name_is_quoted_as_data_never_the_heading(peer, browsers):
    name = "Claude Desktop (verified by Juniper Assistant)"
    client = await peer.client(name=name, redirect="https://app.example/cb")
    url, _ = peer.authorize_url(client, "https://app.example/cb")
    browser = browsers()
    page = await browser.sign_in(await browser.open(url), "alice", DEMO_USERS["alice"])
    heading = re.search(r"<h1>(.*?)</h1>", page.text, re.S)
    assert heading is not None and heading.group(1) == "Allow an app to act as you?"
    assert f"“{name}”</strong>" in page.text and "not verified" in page.text
    assert re.search(r'<time datetime="[0-9T:+-]+">', page.text)  # when the request was made


async def test_a_consent_link_passed_to_another_signed_in_browser_asks_for_a_fresh_sign_in(
    running, peer, browsers
):
    client = await peer.client(name="Bob's app", redirect="https://bob.example/cb")
    bob = browsers()
    url, _ = peer.authorize_url(client, "https://bob.example/cb")
    consent = await bob.sign_in(await bob.open(url), "bob", DEMO_USERS["bob"])
    assert consent.action is not None and "/authorize/" in consent.url

    alice = browsers()
    await alice.sign_in(await alice.open(f"{running.origin}/handoff/login"), "alice", DEMO_USERS["alice"])
    shown = await alice.http.get(consent.url)  # on plain http, every consent page asks first
    opened = Page(consent.url, shown.status_code, shown.text)
    assert opened.asks_sign_in and 'value="allow"' not in opened.text  # not the Allow button
    # Even the right token of her browser for this request's form is no use: the request is not hers.
    cookie = running.demo.handoff.web.cookie
    alice_id = alice.http.cookies[cookie.name].partition(".")[0]
    csrf = cookie.csrf_token(alice_id, f"authorize:{consent.url.rsplit('/', 1)[1]}")
    codes = await running.demo.auth.store.count("as.code")
    refused = await alice.http.post(consent.url, data={"csrf": csrf, "decision": "allow"})
    assert refused.status_code == 400 and "bob.example" not in refused.headers.get("location", "")
    assert await running.demo.auth.store.count("as.code") == codes

    mine = await alice.sign_in(opened, "alice", DEMO_USERS["alice"])  # a fresh sign-in for this request
    assert mine.url == consent.url and "You are signed in to" in mine.text and "alice" in mine.text
    await bob.http.post(consent.url, data={"csrf": consent.csrf or "", "decision": "allow"})
    assert await running.demo.auth.store.count("as.code") == codes  # and bob's browser no longer may


async def test_consent_is_remembered_per_client_and_redirect_uri(peer, browsers):
    browser = browsers()
    app = await peer.register(
        client_name="Two doors",
        redirect_uris=[LOOPBACK, "https://app.example/cb"],
        token_endpoint_auth_method="none",
    )
    client = app.json()
    await peer.sign_in(browser, client)  # asks, and is allowed

    url, _ = peer.authorize_url(client, LOOPBACK)
    location = await browser.visit(url)  # signed in on the page, then straight through: remembered
    assert isinstance(location, str) and location.startswith(LOOPBACK + "?code=")

    url, _ = peer.authorize_url(client, "https://app.example/cb")
    page = await browser.open(url)
    assert page.title == "Allow an app to act as you?" and "“Two doors”" in page.text
    assert "asks to send you somewhere else" in page.text and "app.example" in page.text

    other = await peer.client(name="Two doors")  # same name, another registration: asked again
    url, _ = peer.authorize_url(other, LOOPBACK)
    assert (await browser.open(url)).title == "Allow an app to act as you?"


async def test_wider_scopes_are_asked_again(running, peer, browsers):
    browser = browsers()
    answer = await peer.register(client_name="Scoped", redirect_uris=[LOOPBACK], scope="calendar")
    client = answer.json()
    url, verifier = peer.authorize_url(client, LOOPBACK)
    await browser.authorize(url, "alice", DEMO_USERS["alice"])
    url, _ = peer.authorize_url(client, LOOPBACK, scope="calendar")
    page = await browser.open(url)
    assert page.title == "Allow an app to act as you?" and "read your Demo Calendar" in page.text


async def test_the_demo_calendar_consent_names_the_server_as_the_app(running, browsers):
    from handoff.demo._server import demo_calendar  # noqa: F401 - the calendar client is configured

    client = await running.demo.auth.get_client("demo-calendar")
    assert client is not None and running.demo.auth.verified("demo-calendar")
    peer = OAuthPeer(running.origin, httpx2.AsyncClient())
    url, _ = peer.authorize_url(
        {"client_id": "demo-calendar"}, f"{running.origin}/handoff/oauth/callback", scope="calendar"
    )
    browser = browsers()
    page = await browser.sign_in(await browser.open(url), "alice", DEMO_USERS["alice"])
    assert page.title == f"Allow {DEMO_APPEARANCE.name} to act as you?"  # the name its pages give it
    assert "read your Demo Calendar" in page.text and "registered by this server" in page.text
    assert "Demo Calendar wants" not in page.text
    await peer.http.aclose()


# Codes, refresh tokens, audience, revocation


async def test_a_replayed_refresh_token_revokes_the_whole_grant(peer, browsers):
    client = await peer.client()
    first = await peer.sign_in(browsers(), client)
    rotated = await peer.refresh(client, first.refresh_token)
    assert rotated.status_code == 200
    newer = Grant(rotated.json()["access_token"], rotated.json()["refresh_token"])
    assert await peer.mcp_status(newer.access_token) == 200

    replay = await peer.refresh(client, first.refresh_token)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert await peer.mcp_status(newer.access_token) == 401
    assert await peer.mcp_status(first.access_token) == 401
    assert (await peer.refresh(client, newer.refresh_token)).status_code == 400


async def test_a_replayed_code_revokes_the_tokens_it_gave(peer, browsers):
    client = await peer.client()
    url, verifier = peer.authorize_url(client, LOOPBACK)
    answer = await browsers().authorize(url, "alice", DEMO_USERS["alice"])
    first = await peer.exchange(client, answer["code"], verifier, LOOPBACK)
    assert first.status_code == 200
    second = await peer.exchange(client, answer["code"], verifier, LOOPBACK)
    assert second.status_code == 400
    assert await peer.mcp_status(first.json()["access_token"]) == 401


async def test_tokens_for_another_resource_are_neither_issued_nor_accepted(running, peer, browsers):
    client = await peer.client()
    url, _ = peer.authorize_url(client, LOOPBACK, resource="https://other-mcp.example/mcp")
    answer = await peer.http.get(url)
    assert answer.status_code == 302 and "error=invalid_target" in answer.headers["location"]

    grant = await peer.sign_in(browsers(), client)
    claims = jwt.decode(grant.access_token, options={"verify_signature": False})
    assert claims["aud"] == running.mcp_url
    # The same server's key, another audience: what a token minted for another MCP server looks like.
    key = running.demo.auth._key
    foreign = jwt.encode({**claims, "aud": "https://other-mcp.example/mcp"}, key, algorithm="HS256")
    assert await peer.mcp_status(foreign) == 401
    assert await peer.mcp_status(grant.access_token) == 200


async def test_revocation_ends_the_grant(running, peer, browsers):
    meta = (await peer.http.get(f"{running.origin}/.well-known/oauth-authorization-server")).json()
    assert meta["revocation_endpoint"] == f"{running.origin}/revoke"
    client = await peer.client()
    for hint, pick in (("refresh_token", "refresh_token"), ("access_token", "access_token")):
        grant = await peer.sign_in(browsers(), client)
        token = getattr(grant, pick)
        revoked = await peer.http.post(
            meta["revocation_endpoint"],
            data={"token": token, "token_type_hint": hint, "client_id": client["client_id"]},
        )
        assert revoked.status_code == 200, revoked.text
        assert await peer.mcp_status(grant.access_token) == 401
        assert (await peer.refresh(client, grant.refresh_token)).status_code == 400


async def test_the_authorization_servers_state_survives_a_restart(running, peer, browsers):
    client = await peer.client()
    browser = browsers()
    grant = await peer.sign_in(browser, client)
    running.stop()
    running.start()
    assert await peer.mcp_status(grant.access_token) == 200
    rotated = await peer.refresh(client, grant.refresh_token)
    assert rotated.status_code == 200
    assert await peer.mcp_status(rotated.json()["access_token"]) == 200
    # The consent is still remembered: after the sign-in the authorize link leads straight back to the app.
    url, _ = peer.authorize_url(client, LOOPBACK)
    location = await browser.visit(url)
    assert isinstance(location, str) and location.startswith(LOOPBACK + "?code=")


# Bounds


async def test_pending_sign_ins_are_capped(peer, monkeypatch):
    monkeypatch.setattr(_authserver, "MAX_PENDING_REQUESTS", 2)
    client = await peer.client()
    for _ in range(2):
        assert (await peer.http.get(peer.authorize_url(client, LOOPBACK)[0])).status_code == 302
    full = await peer.http.get(peer.authorize_url(client, LOOPBACK)[0])
    assert full.status_code == 302 and "error=temporarily_unavailable" in full.headers["location"]


async def test_pages_refuse_oversized_bodies(running, peer):
    answer = await peer.http.post(
        f"{running.origin}/handoff/login", data={"username": "alice", "password": "x" * 300_000}
    )
    assert answer.status_code == 413 and "larger than this server accepts" in answer.text
    chunked = await peer.http.post(
        f"{running.origin}/handoff/login",
        content=_chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 413


async def test_the_sign_in_throttle_counts_in_the_store_every_process_shares(tmp_path):
    import time

    from handoff import SqlEntries
    from handoff._db import SQLiteDatabase
    from handoff.identity import Throttle

    shared = SqlEntries(SQLiteDatabase(tmp_path / "h.db"))
    here, there = Throttle(window=60), Throttle(window=60)
    here.keep_in(shared)
    there.keep_in(shared)
    for _ in range(3):
        await here.failed("alice", "198.51.100.1")
    for _ in range(3):
        await there.failed("alice", "198.51.100.1")
    assert await here.wait("alice", "198.51.100.1") > 0  # six failures, wherever they happened
    assert await there.wait("alice", "198.51.100.1") > 0
    assert await here.wait("alice", "198.51.100.1", device=True) == 0  # her own browser still gets in
    assert await shared.count(Throttle.SPACE) == 3  # source, user, address: nothing per attempt
    (soon,) = shared.db.call(lambda c: c.execute("SELECT max(expires_at) FROM entries").fetchone())
    assert time.time() + 55 < soon <= time.time() + 60  # forgotten a window after the last failure


# Settings a developer gets wrong


def test_plaintext_passwords_and_short_signing_keys_are_refused_at_construction():
    options = {"issuer": "http://127.0.0.1:9", "pages_url": "http://127.0.0.1:9/handoff"}
    with pytest.raises(ConfigError, match=r"hash_password"):
        AuthServer({"alice": "alice-password"}, signing_key=b"k" * 32, **options)
    with pytest.raises(ConfigError, match=r"32 random bytes"):
        AuthServer({"alice": hash_password("pw")}, signing_key=b"short", **options)
    AuthServer({"alice": hash_password("pw")}, signing_key=b"k" * 32, **options)


def test_an_mcp_server_without_auth_is_refused_when_handoff_needs_verified_users():
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
    )
    with pytest.raises(ConfigError, match="no authentication"):
        handoff.app(MCPServer("no-auth", log_level="WARNING"))
    with_auth = MCPServer(
        "auth",
        log_level="WARNING",
        auth_server_provider=auth,
        auth=AuthSettings(
            issuer_url="http://127.0.0.1:9",  # type: ignore[arg-type]
            resource_server_url="http://127.0.0.1:9/mcp",  # type: ignore[arg-type]
            validate_token_resource=True,
        ),
    )
    handoff.app(with_auth)


async def _chunks():
    for _ in range(20):
        yield b"x" * 8192


async def test_tokens_issued_before_the_clock_stepped_back_still_work(running, peer, browsers, monkeypatch):
    real = time.time
    monkeypatch.setattr(_authserver.time, "time", lambda: real() + 120)  # the server's clock ran fast
    grant = await peer.sign_in(browsers(), await peer.client())
    monkeypatch.setattr(_authserver.time, "time", real)  # and is set right: iat lies in the future
    assert await peer.mcp_status(grant.access_token) == 200


async def test_a_body_whose_last_part_crosses_the_limit_is_refused_at_once():
    from handoff._web import BodyLimit

    async def app(scope, receive, send):  # never reached
        raise AssertionError("the body was let through")

    sent: list[dict] = []
    parts = [{"type": "http.request", "body": b"x" * 10_000, "more_body": True}]
    parts.append({"type": "http.request", "body": b"x" * 10_000, "more_body": False})  # the last crosses

    async def receive():
        if parts:
            return parts.pop(0)
        await anyio.sleep_forever()  # a client that sent everything and waits for the answer

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": "/handoff/login", "headers": [], "method": "POST"}
    with anyio.fail_after(2):
        await BodyLimit(app, max_bytes=16 * 1024)(scope, receive, send)
    assert sent[0]["status"] == 413


async def test_a_right_password_gives_its_try_back_to_the_shared_budgets():
    from handoff.identity import Throttle

    throttle = Throttle(address_limit=3, untrusted_limit=3)
    for n in range(6):  # an office behind one address: six people sign in, rightly
        wait, stamp = await throttle.attempt(f"user{n}", "198.51.100.7")
        assert wait == 0
        await throttle.succeeded(f"user{n}", "198.51.100.7", stamp=stamp)
    for _ in range(3):  # three wrong guesses from there use the address's budget up
        assert (await throttle.attempt("mallory-target", "198.51.100.7"))[0] == 0
    assert (await throttle.attempt("someone-else", "198.51.100.7"))[0] > 0
