"""Every page, fuzzed (hypothesis): ids, form fields, bodies, cookies and headers, over 10,000 cases.

Whatever arrives: never a 5xx; every page keeps its framing headers; no redirect leaves the server (a
consent's goes to the client's registered redirect URI); no response shows a stored secret; and a
record changes only for a POST that carries the token its page gave one of its owner's browsers,
sent from that browser (or for the OAuth callback of a `state` that browser was given). The demo
serves plain http, so a page gives that token only after a sign-in typed on it.

The demo runs in process (httpx2's ASGI transport) for speed; it also listens on loopback, because it
is its own calendar provider and a connect callback exchanges the code at its /token over HTTP.
"""

from __future__ import annotations

import asyncio
import html
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import ada_url
import httpx2
import pytest
from _server import ServerThread, free_port
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from handoff._need import Invocation
from handoff.demo import DEMO_USERS, build_demo
from handoff.identity import Throttle, _authserver
from handoff.ledger import Draft, Limits, Status

from .conftest import PAYMENT

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SECRET_SHAPE = re.compile(r"wk_[A-Za-z0-9]{16}")
"""Values of this shape never occur in a page by chance: if one shows up, it was echoed."""
REDIRECT = "http://127.0.0.1:1/cb"
KINDS = {
    "weather": ("secret:weather_api_key", "forecast", {"city": "Oslo"}),
    "notes": ("secret:notes_token", "list_notes", {}),
    "payment": ("approval:payment", "send_payment", PAYMENT),
    "calendar": ("connection:calendar", "next_meeting", {}),
}
POOL = [("alice", kind) for kind in KINDS] + [("bob", "weather"), ("bob", "payment")]
BROWSERS = {"alice": "alice", "alice2": "alice", "bob": "bob", "spare": "alice", "anon": None}
"""Browser name → who it is signed in as. `spare` may sign out (and in again); the others never do."""
OWNERS = {"alice": ("alice", "alice2"), "bob": ("bob",)}
SEEDED = {("alice", "archive_key"): "wk_SeededAliceArchive", ("bob", "archive_key"): "wk_SeededBobArchive0"}
FUZZ = settings(
    deadline=None,
    database=None,
    phases=[Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@dataclass
class Browser:
    name: str
    user: str | None
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def take(self, response: httpx2.Response) -> None:
        for line in response.headers.get_list("set-cookie"):
            name, _, value = line.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()


@dataclass
class Sent:
    """One fuzzed request as it went out, for the oracles."""

    method: str
    path: str
    cookie: str
    body: bytes
    query: str = ""


class Site:
    """The demo, its browsers, pending records and sign-ins, and what every response must respect."""

    def __init__(self, tmp: Any) -> None:
        port = free_port()
        self.origin = f"http://127.0.0.1:{port}"
        self.demo = build_demo(self.origin, tmp)
        # a fuzz run makes and ends far more records than a person could in a minute
        self.demo.handoff.ledger.limits = Limits(max_pending=10**6, max_per_minute=10**6)
        self.server = ServerThread(self.demo.app, port).start()
        self.browsers: dict[str, Browser] = {}
        self.pool: dict[tuple[str, str], str] = {}
        self.ended: list[str] = []
        self.tokens: dict[tuple[str, str], str] = {}
        self.stored: set[str] = set(SEEDED.values())
        self.consents: list[str] = []
        self.states: dict[str, tuple[str, str]] = {}
        """OAuth states not yet used: state → (browser name, record id)."""
        self.burnt: list[str] = []
        self.examples: dict[str, int] = {}

    # Plumbing

    async def send(
        self,
        method: str,
        path: str,
        *,
        cookie: str = "",
        body: bytes = b"",
        headers: Any = (),
        remote: str = "",
    ) -> httpx2.Response:
        transport = httpx2.ASGITransport(app=self.demo.app, client=(remote or "127.0.0.1", 50000))
        all_headers = [(b"cookie", cookie.encode("latin-1"))] if cookie else []
        all_headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        request = httpx2.Request(method, self.origin + path, headers=all_headers, content=body)
        response = await transport.handle_async_request(request)
        response.request = request
        await response.aread()
        return response

    async def visit(self, browser: Browser, path: str, form: dict[str, str] | None = None) -> httpx2.Response:
        """What the browser does on its own: open a page, or post a form, keeping its cookies."""
        body = urlencode(form).encode() if form is not None else b""
        headers = [("content-type", "application/x-www-form-urlencoded")] if form is not None else []
        response = await self.send(
            "POST" if form is not None else "GET",
            path,
            cookie=browser.header,
            body=body,
            headers=headers,
            remote="10.99.0.1",
        )
        browser.take(response)
        return response

    async def token_on(self, browser: Browser, path: str) -> str:
        response = await self.visit(browser, path)
        match = CSRF.search(response.text)
        assert match, (browser.name, path, response.status_code, response.text[:300])
        return match.group(1)

    async def signed_token_on(self, browser: Browser, path: str) -> str:
        """The token of the page at `path` for the browser's user, after signing in on it."""
        assert browser.user is not None
        sign_in = {"csrf": await self.token_on(browser, path), "username": browser.user}
        response = await self.visit(browser, path, {**sign_in, "password": DEMO_USERS[browser.user]})
        match = CSRF.search(response.text)
        assert response.status_code == 200 and match, (browser.name, path, response.text[:300])
        return html.unescape(match.group(1))

    # Setup

    async def start(self) -> None:
        # the fuzz is not about guessing: its wrong passwords must not slow down the browsers' own sign-ins
        throttle = Throttle(free=10**9, untrusted_limit=10**9, address_limit=10**9)
        throttle.keep_in(self.demo.handoff.entries)
        self.demo.auth.throttle = throttle
        for (principal, name), value in SEEDED.items():
            await self.demo.handoff.vault.put(principal, name, value)
        for name, user in BROWSERS.items():
            browser = self.browsers[name] = Browser(name, None)
            login = await self.token_on(browser, "/handoff/login")
            if user:
                await self.sign_in(browser, user, login)
        for owner, kind in POOL:
            await self.renew(owner, kind)
        for _ in range(3):
            await self.new_consent()
        await self.new_states()

    async def sign_in(self, browser: Browser, user: str, token: str) -> None:
        answer = await self.visit(
            browser,
            "/handoff/login",
            {"csrf": token, "username": user, "password": DEMO_USERS[user], "next": ""},
        )
        assert answer.status_code == 303, answer.text[:300]
        await self.browser_tokens(browser)
        assert browser.user == user

    async def browser_tokens(self, browser: Browser) -> None:
        """The browser's sign-in (and sign-out) tokens, and who it is signed in as now."""
        self.tokens[(browser.name, "login")] = await self.token_on(browser, "/handoff/login")
        self.tokens.pop((browser.name, "logout"), None)
        index = await self.visit(browser, "/handoff/")
        who = re.search(r"Signed in as <strong>([^<]*)</strong>", index.text)
        browser.user = html.unescape(who.group(1)) if who else None
        if browser.user:
            self.tokens[(browser.name, "logout")] = CSRF.search(index.text).group(1)

    async def renew(self, owner: str, kind: str) -> None:
        """A fresh pending record of `owner` for `kind`, as its tool would make, and its owner's tokens."""
        ref, tool, arguments = KINDS[kind]
        need = self.demo.handoff.needs[ref]
        invocation = Invocation("handoff-demo", tool, arguments)
        record = await self.demo.handoff.ledger.create(
            Draft(principal=owner, kind=need.kind, params=need.params(invocation), key=need.key(invocation))
        )
        if (owner, kind) in self.pool:
            self.ended = [*self.ended, self.pool[(owner, kind)]][-12:]
        self.pool[(owner, kind)] = record.id
        for name in OWNERS[owner]:
            self.tokens[(name, record.id)] = await self.signed_token_on(
                self.browsers[name], f"/handoff/e/{record.id}"
            )

    async def new_consent(self) -> None:
        """A pending MCP-client sign-in waiting for consent (a new client each time), started in alice's
        browser, and the token its page gives her there once she signed in on it."""
        registered = await self.send(
            "POST",
            "/register",
            body=json.dumps(
                {
                    "redirect_uris": [REDIRECT],
                    "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                }
            ).encode(),
            headers=[("content-type", "application/json")],
            remote="10.99.0.1",
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": registered.json()["client_id"],
                "redirect_uri": REDIRECT,
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256",
                "state": "client-state",
            }
        )
        answer = await self.send(
            "GET", f"/authorize?{query}", cookie=self.browsers["alice"].header, remote="10.99.0.1"
        )
        assert answer.status_code == 302, answer.text
        request_id = answer.headers["location"].rsplit("/", 1)[1]
        self.consents.append(request_id)
        self.tokens[("alice", request_id)] = await self.signed_token_on(
            self.browsers["alice"], f"/handoff/authorize/{request_id}"
        )

    def current_states(self) -> list[str]:
        """The states waiting for alice's pending connect record (the others are for ended ones)."""
        return sorted(s for s, (_, rid) in self.states.items() if rid == self.pool[("alice", "calendar")])

    async def new_states(self) -> None:
        """Press Continue on alice's connect page, unless a state for it already waits for its callback."""
        while not self.current_states():
            record_id = self.pool[("alice", "calendar")]
            answer = await self.visit(
                self.browsers["alice"],
                f"/handoff/e/{record_id}",
                {"csrf": self.tokens[("alice", record_id)], "action": "continue"},
            )
            assert answer.status_code == 303, answer.text[:300]
            self.states[httpx2.URL(answer.headers["location"]).params["state"]] = ("alice", record_id)

    # Oracles

    def unique_pairs(self, name: str) -> list[str]:
        """The cookies only this browser holds (its session), as `name=value`."""
        others = {f"{k}={v}" for b in self.browsers.values() if b.name != name for k, v in b.cookies.items()}
        return [p for p in (f"{k}={v}" for k, v in self.browsers[name].cookies.items()) if p not in others]

    def present(self, name: str, cookie: str) -> bool:
        return any(pair in cookie for pair in self.unique_pairs(name))

    async def statuses(self) -> dict[str, Status]:
        ledger = self.demo.handoff.ledger
        return {rid: (await ledger.get(rid)).status for rid in [*self.pool.values(), *self.ended]}

    async def vault(self) -> dict[tuple[str, str], str | None]:
        vault = self.demo.handoff.vault
        names = [(o, KINDS[k][0].split(":")[1]) for o, k in POOL if KINDS[k][0].startswith("secret:")]
        return {(o, n): await vault.get(o, n) for o, n in [*names, *SEEDED]}

    def check_response(self, response: httpx2.Response, sent: Sent) -> None:
        where = f"{sent.method} {sent.path}"
        # the one 5xx by design: a waiting state's code the provider would not exchange (bad gateway)
        upstream = sent.path == "/handoff/oauth/callback" and any(s in sent.query for s in self.states)
        assert response.status_code < 500 or (upstream and response.status_code == 502), (
            where,
            response.status_code,
            response.text[:500],
        )
        if response.request.url.path.startswith("/handoff/"):
            csp = response.headers.get("content-security-policy", "")
            assert "frame-ancestors 'none'" in csp and response.headers.get("x-frame-options") == "DENY", (
                where
            )
        if response.status_code in (301, 302, 303, 307, 308):
            location = response.headers["location"]
            stays = ada_url.URL(location, base=self.origin + "/handoff/").origin == self.origin
            assert stays or location.startswith(REDIRECT + "?"), (where, location)
        text = response.text
        for value in self.stored:
            assert value not in text, (where, "a stored secret is shown")
        for value in SECRET_SHAPE.findall(sent.body.decode("utf-8", "replace")):
            assert value not in text, (where, "a submitted value is shown back")

    async def check_records(self, before: dict[str, Status], vault_before: dict, sent: Sent) -> None:
        """Every record that changed was changed by its owner's browser with its token (or its state);
        every value that changed in the vault is a secret record's, completed by this request."""
        after = await self.statuses()
        changed = [rid for rid, status in after.items() if rid in before and before[rid] is not status]
        completed = set()
        for rid in changed:
            record = await self.demo.handoff.ledger.get(rid)
            assert before[rid] is Status.PENDING, (sent, rid, before[rid], after[rid])
            assert self.allowed(record.principal, rid, sent), (sent, rid, before[rid], after[rid])
            if record.kind == "secret" and record.status is Status.COMPLETED:
                completed.add((record.principal, record.params["name"]))
        for key, value in (await self.vault()).items():
            if value != vault_before[key]:
                assert key in completed, (sent, key, "changed in the vault without its record completing")
                if value and SECRET_SHAPE.fullmatch(value):
                    self.stored.add(value)
        for key, rid in list(self.pool.items()):
            if rid in changed:
                await self.renew(*key)

    async def intact(self) -> None:
        """The browsers that never sign out are still signed in; the consents still wait."""
        for name in ("alice", "alice2", "bob"):
            browser = self.browsers[name]
            page = await self.send("GET", "/handoff/", cookie=browser.header)
            assert f"Signed in as <strong>{browser.user}</strong>" in page.text, name
        for request_id in self.consents:
            page = await self.send(
                "GET", f"/handoff/authorize/{request_id}", cookie=self.browsers["alice"].header
            )
            assert page.status_code == 200 and 'name="csrf"' in page.text, request_id

    def counted(self, test: str) -> None:
        self.examples[test] = self.examples.get(test, 0) + 1

    def owners(self, user: str) -> list[str]:
        """The browsers signed in as `user` now."""
        return [b.name for b in self.browsers.values() if b.user == user]

    def allowed(self, owner: str, rid: str, sent: Sent) -> bool:
        if sent.method == "POST" and sent.path == f"/handoff/e/{rid}":
            return any(
                self.present(name, sent.cookie)
                and (name, rid) in self.tokens
                and self.tokens[(name, rid)].encode() in sent.body
                for name in self.owners(owner)
            )
        if sent.path == "/handoff/oauth/callback":
            return any(
                state in sent.query and self.present(name, sent.cookie)
                for state, (name, record_id) in self.states.items()
                if record_id == rid
            )
        return False


class Loop:
    """One event loop for the whole module, run from the (synchronous) hypothesis tests' own thread."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()

    def call(self, function: Any, *args: Any) -> Any:
        return self.runner.run(function(*args))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[Site, Loop]]:
    loop = Loop()
    site = Site(tmp_path_factory.mktemp("fuzz"))
    patched = pytest.MonkeyPatch()
    # a fuzz run starts far more sign-ins in alice's browser than a person would keep waiting
    patched.setattr(_authserver, "MAX_PENDING_PER_USER", 10**6)
    try:
        loop.call(site.start)
        yield site, loop
        loop.call(site.intact)
    finally:
        patched.undo()
        site.server.stop()
        loop.runner.close()


# What a request is made of. Plans are symbolic ("alice's payment record", "bob's token"): they are
# resolved against the site when the case runs, so they stay valid as records are replaced.

NASTY = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\x00" * 40,
        "\u202e",
        "\ufeff",
        "\u200b",
        "\uff45\uff56\uff49\uff4c",  # full-width "evil"
        "%00",
        "%",
        "+",
        "&",
        "=",
        ";",
        "\r\n",
        "../",
        "{{7*7}}",
        "<script>alert(1)</script>",
        "'\"",
        "x" * 9000,
        "y" * 70_000,
        "\U0001f600" * 50,
        "ǅ̸̡" * 10,
        "\U0010ffff",
    ]
)
TEXT = st.one_of(st.text(max_size=24), NASTY)
SHORT_TEXT = st.one_of(st.text(max_size=24), NASTY.filter(lambda t: len(t) < 1000))
"""For paths and queries: a URL of tens of kilobytes is refused before it could reach a server."""
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
SECRET = st.integers(0, 62**16 - 1).map(lambda n: "wk_" + "".join(_ALNUM[n // 62**i % 62] for i in range(16)))
"""A value the demo's weather key check accepts, of `SECRET_SHAPE`: one choice, where a regex takes many."""
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60
)
HEADERS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "host",
                "x-forwarded-for",
                "x-forwarded-host",
                "x-forwarded-proto",
                "forwarded",
                "origin",
                "referer",
                "user-agent",
                "accept",
                "accept-language",
                "x-real-ip",
                "sec-fetch-site",
                "if-none-match",
            ]
        ),
        st.one_of(
            HEADER_TEXT,
            st.sampled_from(["evil.example", "127.0.0.1", "https", "-1", "99999999999", "chunked"]),
        ),
    ),
    max_size=2,
)
COOKIE = st.one_of(
    st.tuples(st.just("none")),
    st.tuples(st.just("as"), st.sampled_from(sorted(BROWSERS))),
    st.tuples(st.just("garbage"), HEADER_TEXT),
    st.tuples(st.just("forged"), st.sampled_from(sorted(BROWSERS)), HEADER_TEXT),
    st.tuples(st.just("tossed"), st.sampled_from(sorted(BROWSERS)), st.sampled_from(sorted(BROWSERS))),
    st.tuples(st.just("extra"), st.sampled_from(sorted(BROWSERS)), HEADER_TEXT),
    st.tuples(st.just("spoiled"), st.sampled_from(sorted(BROWSERS)), st.integers(0, 3), HEADER_TEXT),
)
TOKEN = st.one_of(
    st.tuples(st.just("text"), TEXT),
    st.sampled_from(["other record's", "owner's", "other browser's", "mine", "login", "logout", "bob's own"]),
    st.tuples(st.just("hex"), st.text("0123456789abcdef", min_size=60, max_size=68)),
)
"""What a csrf field holds. (Hypothesis tries first branches most: those are the harmless ones, in these
strategies, and the honest cases come from `HONEST`.)"""
ENCODING = st.one_of(
    st.sampled_from(["urlencoded", "urlencoded", "multipart", "json", "none"]),
    st.tuples(st.just("raw"), st.binary(max_size=300)),
)
CONTENT_TYPE = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/x-www-form-urlencoded; charset=latin-1",
            "APPLICATION/X-WWW-FORM-URLENCODED",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            'multipart/form-data; boundary="q"',
            "text/plain",
            "application/json",
            "",
        ]
    ),
    HEADER_TEXT,
)
EXTRA_FIELDS = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from(["value", "action", "csrf", "principal", "user", "status", "record_id", "next"]),
            TEXT,
        ),
        TEXT,
    ),
    max_size=1,
)


@st.composite
def forms(draw: Any, fields: dict[str, Any]) -> list[tuple[str, Any]]:
    """Form pairs: csrf tokens (symbolic), the given fields (each maybe left out), an extra field (maybe
    one of theirs again), in any order."""
    pairs: list[tuple[str, Any]] = [("csrf", t) for t in draw(st.lists(TOKEN, max_size=2))]
    for name, strategy in fields.items():
        if (value := draw(st.none() | strategy | strategy)) is not None:
            pairs.append((name, value))
    pairs += draw(EXTRA_FIELDS)
    random.Random(draw(st.integers(0, 255))).shuffle(pairs)  # one choice, where a permutation takes many
    return pairs


def _body(pairs: list[tuple[str, str]], encoding: Any, content_type: str | None) -> tuple[bytes, list]:
    if encoding == "urlencoded":
        body, kind = urlencode(pairs).encode(), "application/x-www-form-urlencoded"
    elif encoding == "multipart":
        boundary = "fuzz-b0undary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode(
                "utf-8", "replace"
            )
            for k, v in pairs
        ]
        body, kind = (
            b"".join(parts) + f"--{boundary}--\r\n".encode(),
            f"multipart/form-data; boundary={boundary}",
        )
    elif encoding == "json":
        body, kind = json.dumps(dict(pairs)).encode(), "application/json"
    elif encoding == "none":
        body, kind = b"", None
    else:
        body, kind = encoding[1], "application/x-www-form-urlencoded"
    kind = kind if content_type is None else content_type
    return body, [("content-type", kind)] if kind is not None else []


def _tampered(value: str, at: int) -> str:
    at %= len(value)
    return value[:at] + ("A" if value[at] != "A" else "B") + value[at + 1 :]


def _cookie(site: Site, plan: tuple) -> tuple[str, Browser | None]:
    """The cookie header a plan sends, and the browser it mostly stands for."""
    kind = plan[0]
    if kind == "as":
        browser = site.browsers[plan[1]]
        return browser.header, browser
    if kind == "none":
        return "", None
    if kind == "garbage":
        return plan[1], None
    browser = site.browsers[plan[1]]
    if kind == "forged":
        return "; ".join(f"{k}={plan[2]}" for k in browser.cookies), None
    if kind == "tossed":
        return f"{browser.header}; {site.browsers[plan[2]].header}", browser
    if kind == "spoiled":  # one of its cookies given another value
        names = list(browser.cookies)
        spoiled = names[plan[2] % len(names)]
        return "; ".join(f"{k}={plan[3] if k == spoiled else v}" for k, v in browser.cookies.items()), browser
    return f"{plan[2]}; {browser.header}", browser


def _token(site: Site, plan: Any, browser: Browser | None, target: str | None, owner: str | None) -> str:
    """The csrf value a plan sends, for `browser` posting to record (or consent) `target`."""
    if isinstance(plan, tuple):
        return str(plan[1])
    name = browser.name if browser else "anon"
    others = [rid for rid in site.pool.values() if rid != target]
    owners = OWNERS.get(owner or "", ())
    choices = {
        "mine": site.tokens.get((name, target or "")),
        "owner's": site.tokens.get((owners[0], target or "")) if owners else None,
        "other browser's": next(
            (site.tokens.get((o, target or "")) for o in (*owners, "alice", "alice2", "bob") if o != name),
            None,
        ),
        "other record's": site.tokens.get((name, others[0])) if others else None,
        "login": site.tokens.get((name, "login")),
        "logout": site.tokens.get((name, "logout")),
        "bob's own": site.tokens.get(("bob", site.pool[("bob", "weather")])),
    }
    return choices.get(plan) or ""


def _resolve_form(
    site: Site, pairs: list, browser: Browser | None, target: str | None, owner: str | None
) -> list:
    return [(k, _token(site, v, browser, target, owner) if k == "csrf" else v) for k, v in pairs]


RECORD_TARGET = st.one_of(
    st.tuples(st.just("unknown")),
    st.tuples(st.just("pool"), st.sampled_from(POOL)),
    st.tuples(st.just("pool"), st.sampled_from(POOL)),
    st.tuples(st.just("ended"), st.integers(0, 11)),
    st.tuples(st.just("tampered"), st.sampled_from(POOL), st.integers(0, 31)),
    st.tuples(st.just("raw"), SHORT_TEXT),
)


def _record_path(site: Site, plan: tuple) -> tuple[str, str | None, str | None]:
    """The path a target plan names, the record id it is for (if any) and that record's owner."""
    kind = plan[0]
    if kind == "pool":
        rid = site.pool[plan[1]]
        return f"/handoff/e/{rid}", rid, plan[1][0]
    if kind == "ended" and site.ended:
        rid = site.ended[plan[1] % len(site.ended)]
        return f"/handoff/e/{rid}", rid, None
    if kind == "tampered":
        rid = _tampered(site.pool[plan[1]], plan[2])
        return f"/handoff/e/{rid}", rid, plan[1][0]
    if kind == "raw":
        return f"/handoff/e/{quote(plan[1], safe='')}", None, None
    return "/handoff/e/" + "Unknown0" * 4, None, None


async def _case(site: Site, method: str, path: str, cookie: str, body: bytes, headers: list, query: str = ""):
    """Send one fuzzed request and hold every oracle to it."""
    before, vault_before = await site.statuses(), await site.vault()
    sent = Sent(method, path, cookie, body, query)
    response = await site.send(
        method,
        path + (f"?{query}" if query else ""),
        cookie=cookie,
        body=body,
        headers=headers,
        remote="127.0.0.1",
    )
    site.check_response(response, sent)
    await site.check_records(before, vault_before, sent)
    return response


# The fuzz tests

HONEST = st.one_of(st.none(), st.none(), st.none(), st.integers(0, 2))
"""About one case in four is sent as a form of the right person's browser, its own token last (the one
that counts; which browser: the number), so that the changes the oracles allow happen too, and are
checked."""

RECORD_FIELDS = {
    "value": st.one_of(SECRET, TEXT),
    "action": st.one_of(st.sampled_from(["save", "decline", "approve", "deny", "continue"]), TEXT),
    "decision": st.one_of(st.sampled_from(["allow", "deny"]), TEXT),
}


@settings(FUZZ, max_examples=3500)
@given(
    target=RECORD_TARGET,
    cookie=COOKIE,
    form=forms(RECORD_FIELDS),
    encoding=ENCODING,
    content_type=CONTENT_TYPE,
    headers=HEADERS,
    honest=HONEST,
)
def test_record_posts(site, target, cookie, form, encoding, content_type, headers, honest):
    """Forms posted to record pages: a record changes only by its owner's browser with its own token."""
    site, loop = site
    site.counted("record posts")
    path, rid, owner = _record_path(site, target)
    if honest is not None and owner:  # the owner's own browser and form, with its own token: it may change
        cookie, form = ("as", OWNERS[owner][honest % len(OWNERS[owner])]), [*form, ("csrf", "mine")]
        encoding, content_type = "urlencoded", None
    cookie_header, browser = _cookie(site, cookie)
    pairs = _resolve_form(site, form, browser, rid, owner)
    body, type_header = _body(pairs, encoding, content_type)
    loop.call(_case, site, "POST", path, cookie_header, body, [*type_header, *headers])


@settings(FUZZ, max_examples=2900)
@given(
    method=st.sampled_from(["GET", "GET", "GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"]),
    target=st.one_of(
        RECORD_TARGET.map(lambda t: ("record", t)),
        st.tuples(
            st.just("path"),
            st.sampled_from(["/handoff/", "/handoff/static/", "/handoff/", "/handoff/e/"]),
            SHORT_TEXT,
        ),
    ),
    cookie=COOKIE,
    query=st.lists(st.tuples(SHORT_TEXT, SHORT_TEXT), max_size=2),
    headers=HEADERS,
)
def test_record_reads_and_other_methods(site, method, target, cookie, query, headers):
    """Reads (and other methods) change nothing, and show no record at all: a record's page asks for the
    sign-in first, whoever reads it."""
    site, loop = site
    site.counted("record reads")
    if target[0] == "record":
        path = _record_path(site, target[1])[0]
    else:
        path = target[1] + quote(target[2])
    cookie_header, _ = _cookie(site, cookie)
    response = loop.call(_case, site, method, path, cookie_header, b"", headers, urlencode(query))
    if method == "GET" and target[0] == "record" and target[1][0] == "pool" and response.is_success:
        assert 'name="password"' in response.text and 'name="value"' not in response.text, path


EVIL_NEXT = st.sampled_from(
    ["//evil.example", "https://evil.example", "/\\evil.example", "/handoff/../x", "/handoff/"]
)


SIGN_IN_PAGES = {
    "login form": ("GET", "/handoff/login"),
    "sign in": ("POST", "/handoff/login"),
    "sign out": ("POST", "/handoff/logout"),
    "index": ("GET", "/handoff/"),
}


@settings(FUZZ, max_examples=2200)
@given(
    page=st.sampled_from(["login form", "sign in", "sign in", "sign out", "index"]),
    cookie=st.one_of(
        st.tuples(st.just("none")),
        st.tuples(st.just("as"), st.just("spare")),
        st.tuples(st.just("garbage"), HEADER_TEXT),
        st.tuples(st.just("forged"), st.just("spare"), HEADER_TEXT),
        st.tuples(st.just("extra"), st.just("spare"), HEADER_TEXT),
        st.tuples(st.just("spoiled"), st.just("spare"), st.integers(0, 3), HEADER_TEXT),
    ),
    form=forms(
        {
            "username": st.one_of(st.sampled_from(sorted(DEMO_USERS)), TEXT),
            "password": st.one_of(st.sampled_from(sorted(DEMO_USERS.values())), TEXT),
            "next": st.one_of(EVIL_NEXT, TEXT),
        }
    ),
    next_query=st.one_of(EVIL_NEXT, SHORT_TEXT),
    encoding=ENCODING,
    content_type=CONTENT_TYPE,
    headers=HEADERS,
    remote=st.integers(0, 2**16 - 1),
)
def test_sign_in_and_out(site, page, cookie, form, next_query, encoding, content_type, headers, remote):
    """Only the `spare` browser, with its own token (and to sign in, a right password), signs in or out."""
    site, loop = site
    site.counted("sign in and out")
    method, path = SIGN_IN_PAGES[page]
    cookie_header, browser = _cookie(site, cookie)
    body, type_header = _body(_resolve_form(site, form, browser, None, None), encoding, content_type)
    sent = Sent(method, path, cookie_header, body if method == "POST" else b"")
    query = urlencode({"next": next_query}) if page == "login form" else ""

    async def run() -> None:
        before = await site.statuses()
        response = await site.send(
            method,
            path + (f"?{query}" if query else ""),
            cookie=cookie_header,
            body=sent.body,
            headers=[*type_header, *headers] if method == "POST" else headers,
            remote=f"10.{remote >> 8}.{remote & 255}.7",  # one address each: the throttle keeps out
        )
        site.check_response(response, sent)
        assert await site.statuses() == before
        if method == "POST" and response.status_code == 303:
            spare = site.browsers["spare"]
            token = site.tokens.get(("spare", "logout" if page == "sign out" else "login"), "")
            assert site.present("spare", cookie_header) and token.encode() in body, (
                page,
                cookie_header,
                body,
            )
            if page == "sign in":
                assert any(p.encode() in body for p in DEMO_USERS.values()), body[:300]
            spare.take(response)  # a new browser id, signed in or out
            await site.browser_tokens(spare)
        if site.examples["sign in and out"] % 200 == 0:
            await site.intact()

    loop.call(run)


@settings(FUZZ, max_examples=1000)
@given(
    method=st.sampled_from(["GET", "POST", "POST", "POST"]),
    target=st.one_of(
        st.tuples(st.just("pending"), st.integers(0, 2)),
        st.tuples(st.just("tampered"), st.integers(0, 2), st.integers(0, 31)),
        st.tuples(st.just("raw"), SHORT_TEXT),
    ),
    cookie=COOKIE,
    form=forms({"decision": st.one_of(st.sampled_from(["allow", "deny"]), TEXT)}),
    encoding=ENCODING,
    content_type=CONTENT_TYPE,
    headers=HEADERS,
    honest=HONEST,
)
def test_consent(site, method, target, cookie, form, encoding, content_type, headers, honest):
    """The consent page of an MCP client's sign-in: a code or refusal leaves only by a signed-in browser's
    own consent form, to the client's registered redirect URI."""
    site, loop = site
    site.counted("consent")
    if honest is not None:
        cookie, form = ("as", "alice"), [*form, ("csrf", "mine")]
        method, encoding, content_type = "POST", "urlencoded", None
    cookie_header, browser = _cookie(site, cookie)
    if target[0] == "raw":
        request_id = None
        path = f"/handoff/authorize/{quote(target[1], safe='')}"
    else:
        request_id = site.consents[target[1] % len(site.consents)]
        if target[0] == "tampered":
            request_id = _tampered(request_id, target[2])
        path = f"/handoff/authorize/{request_id}"
    pairs = _resolve_form(site, form, browser, request_id, "alice")
    body, type_header = _body(pairs, encoding, content_type) if method == "POST" else (b"", [])

    async def run() -> None:
        before = await site.statuses()
        sent = Sent(method, path, cookie_header, body)
        response = await site.send(
            method, path, cookie=cookie_header, body=body, headers=[*type_header, *headers]
        )
        site.check_response(response, sent)
        assert await site.statuses() == before
        location = response.headers.get("location", "")
        if location.startswith(REDIRECT):
            # a code (or a refusal) goes to the client only from the consent form of the signed-in browser
            # that started the request
            assert method == "POST" and request_id in site.consents, (method, path)
            assert site.present("alice", cookie_header), cookie_header
            assert site.tokens[("alice", request_id)].encode() in body, body[:300]
            assert "code=" not in location or b"allow" in body, location
            site.consents.remove(request_id)
            await site.new_consent()

    loop.call(run)


@settings(FUZZ, max_examples=400)
@given(
    state=st.one_of(
        st.tuples(st.just("none")),
        st.tuples(st.just("waiting"), st.integers(0, 1)),  # used up here: the next case needs a new one
        st.tuples(st.just("used"), st.integers(0, 20)),
        st.tuples(st.just("used"), st.integers(0, 20)),
        st.tuples(st.just("tampered"), st.integers(0, 1), st.integers(0, 42)),
        st.tuples(st.just("tampered"), st.integers(0, 1), st.integers(0, 42)),
        st.tuples(st.just("text"), SHORT_TEXT),
    ),
    code=st.one_of(st.none(), SHORT_TEXT),
    error=st.one_of(st.none(), st.sampled_from(["access_denied", "server_error"]), SHORT_TEXT),
    extra=st.lists(
        st.tuples(
            st.sampled_from(["next", "redirect_uri", "iss", "url", "scope"]), st.one_of(EVIL_NEXT, SHORT_TEXT)
        ),
        max_size=2,
    ),
    cookie=COOKIE,
    headers=HEADERS,
    honest=st.one_of(*[st.none()] * 9, st.just(0)),  # each costs a Continue press and a code exchange
)
def test_oauth_callback(site, state, code, error, extra, cookie, headers, honest):
    """The connect flow's callback: only a waiting state, back in the browser it was issued to, ends its
    record; a state works once, whoever presents it; nothing redirects."""
    site, loop = site
    site.counted("oauth callback")
    if honest is not None:  # back in the browser that pressed Continue, with the state it was given
        cookie, state = ("as", "alice"), ("current",)
    cookie_header, _ = _cookie(site, cookie)

    async def run() -> None:
        await site.new_states()
        waiting = sorted(site.states)
        if state[0] == "current":
            value = site.current_states()[0]
        elif state[0] == "waiting":
            value = waiting[state[1] % len(waiting)]
        elif state[0] == "used" and site.burnt:
            value = site.burnt[state[1] % len(site.burnt)]
        elif state[0] == "tampered":
            value = _tampered(waiting[state[1] % len(waiting)], state[2])
        elif state[0] == "text":
            value = state[1]
        else:
            value = None
        query = [("state", value)] if value is not None else []
        query += [("code", code)] if code is not None else []
        query += [("error", error)] if error is not None else []
        everything = urlencode([*query, *extra])
        try:
            response = await _case(
                site, "GET", "/handoff/oauth/callback", cookie_header, b"", headers, everything
            )
            asked = CSRF.search(response.text) if 'name="password"' in response.text else None
            if honest is not None and asked:  # alice signs in where the callback asks who is there
                form = {"csrf": html.unescape(asked.group(1)), "username": "alice"}
                form["password"] = DEMO_USERS["alice"]
                body = urlencode(form).encode()
                type_header = [("content-type", "application/x-www-form-urlencoded")]
                await _case(
                    site, "POST", "/handoff/oauth/callback", cookie_header, body, type_header, everything
                )
        finally:
            if value in site.states and await site.demo.handoff.oauth_states.peek(value) is None:
                del site.states[value]  # taken by this callback, whoever sent it
                site.burnt = [*site.burnt, value][-21:]

    loop.call(run)
