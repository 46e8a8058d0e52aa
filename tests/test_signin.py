"""Signing in from Python and from the command line, against the demo's real authorization server:
the browser once, stored tokens after, refresh, sign-out with revocation, and one-line failures."""

from __future__ import annotations

import json
import os
import shlex
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
from _mcp import text_of
from _server import python_path

from handoff.client import (
    FileTokens,
    HandoffClient,
    MemoryTokens,
    SavedSignIn,
    SignIn,
    SignInFailed,
    TokenFileError,
)
from handoff.client._callback import LoopbackCallback
from handoff.demo import DEMO_USERS, ScriptedBrowser

HERE = Path(__file__).parent


class Person:
    """Plays the person at the system browser: signs in at the page the client opens, as `user`, and
    lets the browser follow the redirect back to the client's loopback callback (or declines)."""

    def __init__(self, origin: str, user: str = "alice", *, allow: bool = True) -> None:
        self.origin = origin
        self.user = user
        self.allow = allow
        self.opened: list[str] = []

    async def open(self, url: str) -> None:
        self.opened.append(url)
        async with ScriptedBrowser(self.origin) as browser:
            if self.allow:
                answer = await browser.authorize(url, self.user, DEMO_USERS[self.user])
                redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
                location = str(httpx2.URL(redirect, params=answer))
            else:
                page = await browser.open(url)
                page = await browser.sign_in(page, self.user, DEMO_USERS[self.user])
                declined = await browser.submit(page, {"decision": "deny"})
                assert isinstance(declined, str), declined
                location = declined
        async with httpx2.AsyncClient() as http:
            await http.get(location)


def quiet(lines: list[str]):
    return lines.append


def entry(path: Path, server: str) -> dict:
    return json.loads(path.read_text())["servers"][server]


async def refresh_at_token_endpoint(origin: str, saved: dict) -> httpx2.Response:
    client = saved["client"]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": saved["tokens"]["refresh_token"],
        "client_id": client["client_id"],
    }
    if client.get("client_secret"):
        form["client_secret"] = client["client_secret"]
    async with httpx2.AsyncClient() as http:
        return await http.post(f"{origin}/token", data=form)


# From Python


@pytest.mark.anyio
async def test_python_signs_in_once_keeps_the_tokens_and_signs_out(running, tmp_path):
    path = tmp_path / "config" / "handoff" / "tokens.json"
    person = Person(running.origin)
    said: list[str] = []
    sign_in = SignIn(FileTokens(path), opener=person.open, notify=said.append)

    async with HandoffClient(running.mcp_url, auth=sign_in, mode="legacy") as client:
        assert text_of(await client.call_tool("whoami", {})) == "You are alice."
    assert len(person.opened) == 1
    assert said == [
        f"Waiting for you to sign in at {urlsplit(running.origin).netloc} in your browser… (Ctrl-C to cancel)"
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = entry(path, running.mcp_url)
    assert saved["tokens"]["refresh_token"] and saved["client"]["client_id"]
    assert saved["expires_at"] > time.time() + 60
    loaded = await FileTokens(path).load(running.mcp_url)
    assert loaded is not None and saved["tokens"]["refresh_token"] not in repr(loaded)

    # The next client (a new run) uses the stored tokens: no browser, no waiting.
    async with HandoffClient(running.mcp_url, auth=SignIn(FileTokens(path), opener=person.open)) as client:
        assert text_of(await client.call_tool("whoami", {})) == "You are alice."
    assert len(person.opened) == 1

    done = await sign_in.sign_out(running.mcp_url)
    assert done is not None and done.revoked == ("refresh token", "access token") and not done.failed
    assert done.describe() == (
        f"signed out of {running.mcp_url}: refresh token and access token revoked at {running.origin}/revoke"
    )
    assert json.loads(path.read_text())["servers"] == {}
    assert saved["tokens"]["access_token"] not in path.read_text()
    refused = await refresh_at_token_endpoint(running.origin, saved)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert await sign_in.sign_out(running.mcp_url) is None


@pytest.mark.anyio
async def test_an_expired_access_token_is_refreshed_without_the_browser(running, tmp_path):
    path = tmp_path / "tokens.json"
    person = Person(running.origin)
    async with HandoffClient(running.mcp_url, auth=SignIn(FileTokens(path), opener=person.open)) as client:
        await client.call_tool("whoami", {})
    before = entry(path, running.mcp_url)
    data = json.loads(path.read_text())
    data["servers"][running.mcp_url]["expires_at"] = time.time() - 1
    path.write_text(json.dumps(data))

    async with HandoffClient(running.mcp_url, auth=SignIn(FileTokens(path), opener=person.open)) as client:
        assert text_of(await client.call_tool("whoami", {})) == "You are alice."
    after = entry(path, running.mcp_url)
    assert len(person.opened) == 1  # refreshed, not signed in again
    assert after["tokens"]["refresh_token"] != before["tokens"]["refresh_token"]  # the rotated one is kept
    assert after["tokens"]["access_token"] != before["tokens"]["access_token"]
    assert after["expires_at"] > time.time() + 60
    stale = await refresh_at_token_endpoint(running.origin, before)
    assert stale.status_code == 400  # the server rotated it: only the saved one works now


@pytest.mark.anyio
async def test_a_registration_the_server_forgot_is_replaced(running, tmp_path):
    from conftest import Running

    path = tmp_path / "tokens.json"
    person = Person(running.origin)
    async with HandoffClient(running.mcp_url, auth=SignIn(FileTokens(path), opener=person.open)) as client:
        await client.call_tool("whoami", {})
    first = entry(path, running.mcp_url)
    running.stop()  # the same address, served afresh: no registrations, no refresh tokens
    again = Running(tmp_path / "fresh", port=running.port).start()
    try:
        data = json.loads(path.read_text())
        data["servers"][running.mcp_url]["expires_at"] = time.time() - 1
        path.write_text(json.dumps(data))
        sign_in = SignIn(FileTokens(path), opener=person.open, timeout=20)
        async with HandoffClient(again.mcp_url, auth=sign_in) as client:
            assert text_of(await client.call_tool("whoami", {})) == "You are alice."
    finally:
        again.stop()
    assert len(person.opened) == 2  # the refresh was refused, so the person signed in again
    assert entry(path, running.mcp_url)["client"]["client_id"] != first["client"]["client_id"]


@pytest.mark.anyio
async def test_a_server_that_forgot_the_client_gets_a_new_registration_before_the_browser(running, tmp_path):
    """Another server at the same URL (reset, or another store): the stored access token is refused and
    the stored client id is unknown there. The client registers again before it opens the browser, so
    the person signs in once, on a page that works, instead of meeting an error and a 300 s wait."""
    from conftest import Running

    path = tmp_path / "tokens.json"
    person = Person(running.origin)
    async with HandoffClient(running.mcp_url, auth=SignIn(FileTokens(path), opener=person.open)) as client:
        await client.call_tool("whoami", {})
    stale = entry(path, running.mcp_url)
    first = stale["client"]["client_id"]
    running.stop()
    again = Running(tmp_path / "fresh", port=running.port).start()
    try:
        unknown = await refresh_at_token_endpoint(again.origin, stale)
        assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
        sign_in = SignIn(FileTokens(path), opener=person.open, timeout=20, notify=quiet([]))
        async with HandoffClient(again.mcp_url, auth=sign_in) as client:
            assert text_of(await client.call_tool("whoami", {})) == "You are alice."
        renewed = entry(path, running.mcp_url)["client"]["client_id"]
        assert renewed != first
    finally:
        again.stop()
    assert len(person.opened) == 2
    assert parse_qs(urlsplit(person.opened[1]).query)["client_id"] == [renewed]


@pytest.mark.anyio
async def test_a_registration_the_server_still_knows_is_kept_for_the_next_sign_in(running, tmp_path):
    """The tokens were revoked at the server (signed out elsewhere) but the client is still registered:
    the check before the browser finds it known, so the person signs in again with the same client."""
    from handoff.client._revocation import revoke

    store = MemoryTokens()
    person = Person(running.origin)
    async with HandoffClient(running.mcp_url, auth=SignIn(store, opener=person.open)) as client:
        await client.call_tool("whoami", {})
    saved = await store.load(running.mcp_url)
    assert saved is not None and saved.client is not None
    async with httpx2.AsyncClient() as http:
        done = await revoke(running.mcp_url, saved, http)
    assert done.revoked == ("refresh token", "access token")

    async with HandoffClient(running.mcp_url, auth=SignIn(store, opener=person.open)) as client:
        assert text_of(await client.call_tool("whoami", {})) == "You are alice."
    assert len(person.opened) == 2
    assert parse_qs(urlsplit(person.opened[1]).query)["client_id"] == [saved.client.client_id]
    kept = await store.load(running.mcp_url)
    assert kept is not None and kept.client is not None and kept.client.client_id == saved.client.client_id


@pytest.mark.anyio
async def test_a_busy_callback_port_means_a_new_registration(running, tmp_path):
    store = MemoryTokens()
    person = Person(running.origin)
    async with HandoffClient(running.mcp_url, auth=SignIn(store, opener=person.open)) as client:
        await client.call_tool("whoami", {})
    saved = await store.load(running.mcp_url)
    assert saved is not None and saved.client is not None and saved.client.redirect_uris
    port = LoopbackCallback.port_of(str(saved.client.redirect_uris[0]))
    assert port is not None
    await store.save(running.mcp_url, SavedSignIn(client=saved.client))  # tokens gone: sign in again

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        async with HandoffClient(running.mcp_url, auth=SignIn(store, opener=person.open)) as client:
            assert text_of(await client.call_tool("whoami", {})) == "You are alice."
    renewed = await store.load(running.mcp_url)
    assert renewed is not None and renewed.client is not None
    assert renewed.client.client_id != saved.client.client_id
    assert f"127.0.0.1%3A{port}" not in person.opened[1]


@pytest.mark.anyio
async def test_sign_in_failures_are_one_clear_exception(running):
    with pytest.raises(SignInFailed) as no_auth:
        async with HandoffClient(running.mcp_url, mode="legacy"):
            pass
    assert str(no_auth.value) == (
        f"{running.mcp_url} asks you to sign in (HTTP 401 Unauthorized); pass auth=SignIn() to HandoffClient"
    )

    declining = Person(running.origin, allow=False)
    with pytest.raises(SignInFailed, match="was declined; try again and allow access"):
        async with HandoffClient(running.mcp_url, auth=SignIn(opener=declining.open, notify=quiet([]))):
            pass
    assert len(declining.opened) == 1

    async def nobody(url: str) -> None:
        pass

    started = time.monotonic()
    with pytest.raises(SignInFailed, match=r"no sign-in from your browser within 1 s") as late:
        async with HandoffClient(running.mcp_url, auth=SignIn(opener=nobody, timeout=1, notify=quiet([]))):
            pass
    assert time.monotonic() - started < 10
    assert "\n" not in str(late.value) and late.value.__cause__ is None


def test_http_with_auth_needs_a_url():
    from mcp import StdioServerParameters

    with pytest.raises(TypeError, match="auth= signs in to a server at a URL"):
        HandoffClient(StdioServerParameters(command="true"), auth=SignIn())


@pytest.mark.anyio
async def test_the_callback_waits_for_its_own_state_only():
    callback = LoopbackCallback()
    answers: list[int] = []

    async def browser() -> None:
        async with httpx2.AsyncClient() as http:
            answers.append((await http.get(callback.url, params={"code": "x", "state": "other"})).status_code)
            answers.append((await http.get(callback.url, params={"code": "x", "state": "mïne"})).status_code)
            answers.append((await http.get(callback.url, params={"code": "c1", "state": "mine"})).status_code)
            answers.append((await http.get(callback.url, params={"code": "c2", "state": "mine"})).status_code)

    got = await callback.receive("mine", 10, browser)
    assert got is not None and got.code == "c1" and answers == [400, 400, 200, 400]
    assert "c1" not in repr(got)
    assert callback.is_free()  # listening ended with the sign-in
    assert await callback.receive("mine", 0.2, anyio.lowlevel.checkpoint) is None


@pytest.mark.anyio
async def test_the_page_the_browser_lands_on_is_one_of_handoffs_pages():
    """The sign-in's last page, served by the waiting program itself: handoff's template and stylesheet
    (inline, allowed by its hash and nothing else), the program's name, the browser's language."""
    import base64
    import hashlib
    import re
    from importlib.resources import files

    from handoff._web import SECURITY_HEADERS

    css = (files("handoff") / "static" / "style.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    callback = LoopbackCallback(app="Acme CLI")
    pages: dict[str, httpx2.Response] = {}

    async def browser(language: str = "en") -> None:
        async with httpx2.AsyncClient(headers={"accept-language": language}) as http:
            pages[f"other-{language}"] = await http.get(callback.url, params={"state": "old", "code": "x"})
            answer = {"code": "c"} if language == "en" else {"error": "access_denied"}
            pages[language] = await http.get(callback.url, params={"state": "mine", **answer})

    await callback.receive("mine", 10, browser)
    await callback.receive("mine", 10, lambda: browser("de"))
    kinds = {"en": "signed-in", "other-en": "sign-in-unexpected", "de": "sign-in-failed"}
    for name, kind in kinds.items():
        page = pages[name]
        assert f'<body class="page-{kind}">' in page.text, name
        assert f"<style>{css}</style>" in page.text and "<link" not in page.text
        assert '<span class="name">Acme CLI</span>' in page.text and "handoff" in page.text
        policy = page.headers["content-security-policy"]
        assert f"style-src 'sha256-{digest}';" in policy and "default-src 'none'" in policy
        assert re.search(r"script-src|unsafe-inline", policy) is None
        for header in ("x-frame-options", "referrer-policy", "cache-control", "x-content-type-options"):
            assert page.headers[header] == SECURITY_HEADERS[header], header
    assert pages["en"].status_code == 200 and "<h1>Signed in</h1>" in pages["en"].text
    assert "go back to Acme CLI" in pages["en"].text
    assert (
        pages["other-en"].status_code == 400
        and "Acme CLI is not waiting for this sign-in" in pages["other-en"].text
    )
    assert pages["de"].status_code == 400 and '<html lang="de"' in pages["de"].text
    assert (
        "<h1>Anmeldung nicht abgeschlossen</h1>" in pages["de"].text and "(access_denied)" in pages["de"].text
    )


# The token file


@pytest.mark.anyio
async def test_the_token_file_refuses_to_be_shared(tmp_path):
    path = tmp_path / "tokens.json"
    store = FileTokens(path)
    await store.save("https://a.example/mcp", SavedSignIn())
    assert await store.servers() == ["https://a.example/mcp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokens.json", "tokens.json.lock"]  # no temp left

    path.chmod(0o644)
    with pytest.raises(TokenFileError, match=r"can be read by other users \(mode 0644\).*chmod 600"):
        await store.load("https://a.example/mcp")
    path.chmod(0o600)

    link = tmp_path / "link.json"
    link.symlink_to(path)
    with pytest.raises(TokenFileError, match="is a symbolic link"):
        await FileTokens(link).load("https://a.example/mcp")

    path.write_text("{not json")
    with pytest.raises(TokenFileError, match="is not a handoff token file"):
        await store.servers()


def test_the_default_token_file_follows_xdg(monkeypatch, tmp_path):
    from handoff.client import default_token_file

    monkeypatch.delenv("HANDOFF_TOKENS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_token_file() == tmp_path / "xdg" / "handoff" / "tokens.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_token_file() == Path.home() / ".config" / "handoff" / "tokens.json"
    monkeypatch.setenv("HANDOFF_TOKENS", str(tmp_path / "t.json"))
    assert FileTokens().path == tmp_path / "t.json"


# From the command line


def handoff(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "handoff"
    return subprocess.run(
        [str(command), *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **env}
    )


@pytest.fixture
def cli_env(tmp_path) -> dict[str, str]:
    return {
        "BROWSER": f"{shlex.quote(sys.executable)} {HERE / 'fake_browser.py'} %s",
        "FAKE_USER": "alice",
        "FAKE_LOG": str(tmp_path / "browser.log"),
        "HANDOFF_TOKENS": str(tmp_path / "tokens.json"),
        "PYTHONPATH": python_path(HERE),
    }


def test_call_signs_in_once_and_logout_revokes(running, cli_env, tmp_path):
    log, path = tmp_path / "browser.log", tmp_path / "tokens.json"
    first = handoff("call", running.mcp_url, "whoami", "--protocol", "legacy", env=cli_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "You are alice."
    assert "Waiting for you to sign in at" in first.stderr and "(Ctrl-C to cancel)" in first.stderr
    assert log.read_text().count("authorized") == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = entry(path, running.mcp_url)

    second = handoff("call", running.mcp_url, "whoami", "--protocol", "legacy", env=cli_env)
    assert second.returncode == 0 and second.stdout.strip() == "You are alice."
    assert log.read_text().count("authorized") == 1  # the browser was not opened again
    assert "Waiting" not in second.stderr
    for output in (first.stdout + first.stderr, second.stdout + second.stderr):
        assert saved["tokens"]["access_token"] not in output
        assert saved["tokens"]["refresh_token"] not in output

    out = handoff("logout", env=cli_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"signed out of {running.mcp_url}: refresh token and access token revoked at {running.origin}/revoke"
    ]
    assert json.loads(path.read_text())["servers"] == {}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    refused = anyio.run(refresh_at_token_endpoint, running.origin, saved)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"

    again = handoff("logout", running.mcp_url, env=cli_env)
    assert again.returncode == 1 and f"no sign-in is stored for {running.mcp_url}" in again.stderr
    nothing = handoff("logout", env=cli_env)
    assert nothing.returncode == 0 and "no sign-ins are stored" in nothing.stdout


def test_call_with_no_store_keeps_nothing(running, cli_env, tmp_path):
    done = handoff("call", running.mcp_url, "whoami", "--no-store", "--protocol", "2026-07-28", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "You are alice."
    assert not (tmp_path / "tokens.json").exists()


def test_call_says_in_one_line_when_the_sign_in_does_not_happen(running, cli_env, tmp_path):
    env = {**cli_env, "BROWSER": "true %s"}  # a browser that shows nothing: nobody signs in
    started = time.monotonic()
    done = handoff("call", running.mcp_url, "whoami", "--sign-in-timeout", "1", env=env)
    assert done.returncode == 2
    assert time.monotonic() - started < 30
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == (
        "Not signed in: no sign-in from your browser within 1 s; run it again when you are ready to sign "
        "in (if the page showed an error, sign out first to register anew)"
    )
    assert len(lines) == 2 and lines[0].startswith("Waiting for you to sign in at")
    assert "Traceback" not in done.stderr
    as_json = handoff(
        "call", running.mcp_url, "whoami", "--sign-in-timeout", "1", "--format", "json", env=env
    )
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["ran"] is False


def test_logout_notes_a_server_without_revocation(tmp_path):
    """A stored sign-in for a server that publishes no OAuth metadata is forgotten, with a note."""
    from _server import ServerThread, free_port
    from starlette.applications import Starlette

    port = free_port()
    server = ServerThread(Starlette(), port).start()
    try:
        path = tmp_path / "tokens.json"
        url = f"http://127.0.0.1:{port}/mcp"
        from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

        saved = SavedSignIn(
            client=OAuthClientInformationFull(client_id="c", redirect_uris=["http://127.0.0.1:1/callback"]),
            tokens=OAuthToken(access_token="at-secret", refresh_token="rt-secret"),
        )
        anyio.run(FileTokens(path).save, url, saved)
        done = handoff("logout", url, env={"HANDOFF_TOKENS": str(path)})
    finally:
        server.stop()
    assert done.returncode == 0 and done.stdout == ""
    assert done.stderr.strip() == (
        f"signed out of {url} here only: it publishes no OAuth authorization server metadata"
    )
    assert json.loads(path.read_text())["servers"] == {}


def test_connect_says_in_one_line_when_the_sign_in_does_not_happen(running, cli_env):
    command = Path(sys.executable).parent / "handoff"
    done = subprocess.run(
        [str(command), "connect", "--sign-in-timeout", "1", running.mcp_url],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **cli_env, "BROWSER": "true %s", "COLUMNS": "300"},
    )
    assert done.returncode == 2
    assert "Not signed in: no sign-in from your browser within 1 s" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
