"""Invariant 6: the pages' headers, cookies, redirects and templates."""

from __future__ import annotations

import re

import httpx2
import pytest
from starlette.requests import Request

from handoff import ConfigError, CustomIdentity, Handoff, Keyring, LocalIdentity, generate_key
from handoff._web import safe_next
from handoff.demo import DEMO_USERS, ScriptedBrowser

pytestmark = pytest.mark.anyio


async def _nobody(request: object) -> str | None:
    return None


NETWORK_IDENTITY = CustomIdentity(_nobody)  # type: ignore[arg-type]


async def test_security_headers_on_every_page(running, browsers):
    browser = browsers()
    for path in ("/handoff/", "/handoff/login", "/handoff/e/" + "a" * 32, "/handoff/static/style.css"):
        response = await browser.http.get(running.origin + path)
        h = response.headers
        assert "frame-ancestors 'none'" in h["content-security-policy"], path
        assert (
            "script-src" not in h["content-security-policy"]
            and "default-src 'none'" in h["content-security-policy"]
        )
        assert "unsafe-inline" not in h["content-security-policy"]
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        assert h["cache-control"] == "no-store"


async def test_browser_cookie_attributes(running, browsers):
    response = await browsers().http.get(running.origin + "/handoff/login")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    # plain http on loopback: no Secure, so no __Host- prefix (browsers would drop it); the port in the name
    assert cookie.startswith(f"handoff-{running.port}=")


def test_https_pages_use_host_prefixed_secure_cookies():
    h = Handoff.in_memory(
        public_url="https://mcp.example.com",
        browser=NETWORK_IDENTITY,
        secret_key=b"k" * 32,
        keyring=Keyring.parse(generate_key()),
    )
    assert h.web.cookie.name == "__Host-handoff" and h.web.cookie.secure


def test_public_url_must_be_https_unless_loopback():
    keyring = Keyring.parse(generate_key())
    for url in ("http://mcp.example.com", "ftp://x", "https://user@x.com", "https://x.com/?q=1", "/relative"):
        with pytest.raises(ConfigError):
            Handoff.in_memory(public_url=url, browser=NETWORK_IDENTITY, secret_key=b"k" * 32, keyring=keyring)
    for url in ("http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9", "https://x.example"):
        Handoff.in_memory(public_url=url, browser=NETWORK_IDENTITY, secret_key=b"k" * 32, keyring=keyring)


def test_no_open_redirect_targets():
    root = "/handoff"
    for bad in (
        "https://evil.com",
        "//evil.com",
        "/handoff//evil.com",
        "/other",
        "/handoff\\@evil.com",
        "/handoff/../x",
        "",
        None,
        "/handoff/e/x\r\nLocation: https://evil.com",
    ):
        assert safe_next(bad, root) == "/handoff/"
    assert safe_next("/handoff/e/abc", root) == "/handoff/e/abc"


async def test_login_never_redirects_off_site(running, browsers):
    browser = browsers()
    page = await browser.open(running.origin + "/handoff/login?next=https://evil.example/steal")
    response = await browser.http.post(
        running.origin + "/handoff/login",
        data={
            "username": "alice",
            "password": DEMO_USERS["alice"],
            "next": "https://evil.example/steal",
            "csrf": page.csrf or "",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/handoff/"


async def test_login_needs_csrf_and_the_right_password(running, browsers):
    browser = browsers()
    page = await browser.open(running.origin + "/handoff/login")
    no_csrf = await browser.http.post(
        running.origin + "/handoff/login", data={"username": "alice", "password": DEMO_USERS["alice"]}
    )
    assert no_csrf.status_code == 400
    wrong = await browser.submit(page, {"username": "alice", "password": "nope"})
    assert not isinstance(wrong, str) and wrong.status == 401 and "Wrong user name or password" in wrong.text


async def test_templates_escape_what_they_show(running, browsers):
    browser = browsers()
    page = await browser.open(
        running.origin + "/handoff/login?next=/handoff/%22%3E%3Cscript%3Ealert(1)%3C/script%3E"
    )
    assert "<script>" not in page.text and "&#34;&gt;&lt;script&gt;" in page.text


def test_local_identity_refuses_non_loopback_peers_and_browsers_without_the_passphrase():
    import anyio

    from handoff import hash_password

    identity = LocalIdentity(hash_password("a passphrase"))
    browser_id = anyio.run(identity.sessions.start, "local")
    web = Handoff.in_memory(
        public_url="http://127.0.0.1:9",
        browser=identity,
        secret_key=b"k" * 32,
        keyring=Keyring.parse(generate_key()),
    ).web

    def request(host: str, signed_in: bool = True) -> Request:
        cookie = f"{web.cookie.name}={web.cookie.value(browser_id)}".encode() if signed_in else b""
        scope = {
            "type": "http",
            "client": (host, 1),
            "headers": [(b"cookie", cookie)],
            "method": "GET",
            "path": "/",
        }
        scope["app"] = type("App", (), {"state": type("State", (), {"web": web})()})()
        return Request(scope)

    assert anyio.run(identity.current, request("127.0.0.1")) == "local"
    assert anyio.run(identity.current, request("::1")) == "local"
    assert anyio.run(identity.current, request("10.0.0.2")) is None
    assert anyio.run(identity.current, request("127.0.0.1", signed_in=False)) is None
    # nor does a page's own sign-in take the passphrase from off this computer
    from starlette.datastructures import FormData

    from handoff.identity._login import SignInRefused

    form = FormData({"password": "a passphrase"})
    refused = anyio.run(identity.authenticate, request("10.0.0.2"), form, "sign-in:x")
    assert isinstance(refused, SignInRefused) and refused.status == 403


async def test_password_guessing_is_slowed_down_but_the_person_still_gets_in(running, browsers):
    alice = browsers()
    await alice.sign_in(await alice.open(running.origin + "/handoff/login"), "alice", DEMO_USERS["alice"])
    stranger = browsers()  # same address (loopback), never signed in as alice
    page = await stranger.open(running.origin + "/handoff/login")
    for _ in range(5):
        wrong = await stranger.submit(page, {"username": "alice", "password": "guess"})
        assert not isinstance(wrong, str) and wrong.status == 401
        page = wrong
    blocked = await stranger.submit(page, {"username": "alice", "password": DEMO_USERS["alice"]})
    assert (
        not isinstance(blocked, str) and blocked.status == 429 and "Too many failed sign-ins" in blocked.text
    )
    # Alice's own browser signed in as her before: the stranger's guesses do not lock her out.
    again = await alice.open(running.origin + "/handoff/login")
    signed_in = await alice.sign_in(again, "alice", DEMO_USERS["alice"])
    assert signed_in.status == 200 and "/login" not in signed_in.url


async def test_a_strangers_failures_never_lock_the_person_out_from_elsewhere():
    from handoff.identity import Throttle

    throttle = Throttle(free=5, untrusted_limit=1000, address_limit=1000)
    for _ in range(8):
        await throttle.failed("alice", "203.0.113.66")
    assert await throttle.wait("alice", "203.0.113.66") > 0  # the guesser waits
    assert await throttle.wait("alice", "198.51.100.7") == 0  # alice, from her own address, does not


async def test_guessing_from_one_source_backs_off_exponentially_and_success_resets_it():
    from handoff.identity import Throttle

    throttle = Throttle(free=2, max_wait=60)
    waits = []
    for _ in range(5):
        await throttle.failed("alice", "203.0.113.66")
        waits.append(await throttle.wait("alice", "203.0.113.66"))
    assert waits[0] == 0 and 0.5 < waits[1] <= 1 and 1.5 < waits[2] <= 2 and 3.5 < waits[3] <= 4
    await throttle.succeeded("alice", "203.0.113.66")
    assert await throttle.wait("alice", "203.0.113.66") == 0


async def test_many_addresses_slow_strangers_but_not_a_browser_that_signed_in_before():
    from handoff.identity import Throttle

    throttle = Throttle(untrusted_limit=3, address_limit=1000)
    for n in range(3):
        await throttle.failed("alice", f"203.0.113.{n}")
    assert await throttle.wait("alice", "203.0.113.99") > 0  # a fourth stranger waits
    assert await throttle.wait("alice", "203.0.113.99", device=True) == 0  # alice's own browser does not


async def test_one_address_spraying_many_names_is_slowed():
    from handoff.identity import Throttle

    throttle = Throttle(address_limit=3)
    for user in ("bob", "carol", "dave"):
        await throttle.failed(user, "203.0.113.9")
    assert await throttle.wait("erin", "203.0.113.9") > 0
    assert await throttle.wait("erin", "198.51.100.1") == 0


async def test_redirects_are_built_from_the_public_url_never_the_host_header(running):
    async with httpx2.AsyncClient() as http:
        for path, target in (("/handoff", "/handoff/"), ("/mcp/", "/mcp")):
            answer = await http.get(f"{running.origin}{path}", headers={"host": "evil.example"})
            assert answer.status_code == 307 and answer.headers["location"] == f"{running.origin}{target}"
        inner = await http.get(f"{running.origin}/handoff/login/", headers={"host": "evil.example"})
        assert "evil.example" not in inner.headers.get("location", "")


def test_forwarded_headers_from_a_local_caller_are_not_believed_by_the_demo(tmp_path):
    import subprocess
    import sys
    import time
    from pathlib import Path

    from _server import free_port

    port = free_port()
    handoff = Path(sys.executable).parent / "handoff"
    demo = subprocess.Popen(
        [str(handoff), "demo", "--port", str(port), "--data-dir", str(tmp_path / "demo")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        with httpx2.Client(base_url=origin, timeout=10) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    page = http.get("/handoff/login")
                    break
                except httpx2.TransportError:
                    assert time.monotonic() < deadline, "handoff demo did not start"
                    time.sleep(0.1)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            codes = []
            for n in range(8):  # a guesser who claims a new address every time
                answer = http.post(
                    "/handoff/login",
                    data={"csrf": csrf, "username": "alice", "password": "guess", "next": "/handoff/"},
                    headers={"x-forwarded-for": f"198.51.100.{n}"},
                )
                codes.append(answer.status_code)
            assert codes[:5] == [401] * 5 and 429 in codes[5:]  # still one address: throttled
    finally:
        demo.terminate()
        demo.wait(timeout=10)
    from handoff._db import Database

    rows = Database(tmp_path / "demo" / "handoff.db").call(
        lambda c: c.execute("SELECT remote FROM audit").fetchall()
    )
    assert all(remote in (None, "127.0.0.1") for (remote,) in rows)


def test_text_that_is_not_an_address_never_becomes_one():
    from handoff._web import remote_address

    def request(host: str) -> Request:
        return Request({"type": "http", "client": (host, 1), "headers": [], "method": "GET", "path": "/"})

    assert remote_address(request("127.0.0.1")) == "127.0.0.1"
    assert remote_address(request("::ffff:10.0.0.1")) == "::ffff:a00:1"
    assert remote_address(request("1.2.3.4, <script>evil</script>")) is None


async def test_loopback_servers_on_other_ports_never_share_or_plant_a_session(tmp_path):
    """Browsers send a cookie for 127.0.0.1 to every port: two local servers must still keep apart."""
    from conftest import Running

    one, two = Running(tmp_path / "one").start(), Running(tmp_path / "two").start()
    try:
        browser = ScriptedBrowser(one.origin)  # one cookie jar for both, as a real browser has
        await browser.sign_in(await browser.open(f"{one.origin}/handoff/login"), "alice", DEMO_USERS["alice"])
        cookies = {c.name: c.value for c in browser.http.cookies.jar}
        assert f"handoff-{one.port}" in cookies and f"handoff-{two.port}" not in cookies
        assert "alice" in (await browser.http.get(f"{one.origin}/handoff/")).text
        index = await browser.http.get(f"{two.origin}/handoff/")
        assert "alice" not in index.text  # not signed in on the other server
        # The other server plants the first one's session under its own cookie name: refused.
        browser.http.cookies.set(f"handoff-{two.port}", cookies[f"handoff-{one.port}"], domain="127.0.0.1")
        index = await browser.http.get(f"{two.origin}/handoff/")
        assert "alice" not in index.text
        # And a bare id without this server's MAC is no session either.
        bare = cookies[f"handoff-{one.port}"].partition(".")[0]
        browser.http.cookies.set(f"handoff-{one.port}", bare, domain="127.0.0.1")
        assert "alice" not in (await browser.http.get(f"{one.origin}/handoff/")).text
        await browser.http.aclose()
    finally:
        one.stop()
        two.stop()


async def test_on_https_the_session_cookie_is_the_person_and_no_page_asks_again(tmp_path, monkeypatch):
    """Over https (a real TLS listener on loopback) the `__Host-` Secure session stands for the person:
    an anonymous browser is sent to the sign-in, a signed-in one sees its record's page at once."""
    from _mcp import user_client
    from _server import ServerThread, free_port
    from _tls import loopback_certificate
    from mcp import MCPError

    from handoff.demo import build_demo

    key, certificate = loopback_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # the tests' HTTP clients trust it
    port = free_port()
    demo = build_demo(f"https://127.0.0.1:{port}", tmp_path / "data")
    server = ServerThread(demo.app, port, ssl_keyfile=str(key), ssl_certfile=str(certificate)).start()
    try:
        async with ScriptedBrowser(demo.public_url) as alice, ScriptedBrowser(demo.public_url) as stranger:
            async with user_client(demo.mcp_url, alice, "alice") as (client, _):
                with pytest.raises(MCPError) as caught:
                    await client.call_tool("forecast", {"city": "Oslo"})
            url = caught.value.data["elicitations"][0]["url"]
            cookie = next(c for c in alice.http.cookies.jar if c.name == "__Host-handoff")
            assert cookie.secure and cookie.path == "/"

            anonymous = await stranger.http.get(url)
            assert anonymous.status_code == 303 and "/handoff/login?next=" in anonymous.headers["location"]
            shown = await alice.http.get(url)  # signed in at the OAuth step: no sign-in asked here
            assert (
                shown.status_code == 200
                and 'name="value"' in shown.text
                and 'name="password"' not in shown.text
            )
            page = await alice.open(url)
            done = await alice.submit(page, {"value": "wk_OverHttps000001", "action": "save"})
            assert not isinstance(done, str) and done.title == "Saved"
        assert await demo.handoff.vault.get("alice", "weather_api_key") == "wk_OverHttps000001"
    finally:
        server.stop()
