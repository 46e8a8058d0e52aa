"""`Handoff`: the object a server author creates; it ties ledger, vault, identity, pages and gate."""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.lowlevel
import uvicorn
from anyio.abc import TaskGroup, TaskStatus
from mcp.server.request_state import RequestStateSecurity
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._appearance import Appearance
from ._capacity import Holds, raise_descriptor_limit
from ._completion import Completion, Value
from ._entries import Entries
from ._errors import Busy, ConfigError, RateLimited, StorageUnavailable, VaultError
from ._gate import Secrets, gate
from ._health import health_routes
from ._logs import WOKEN, lifecycle
from ._logs import configure as configure_logs
from ._metrics import Metric, Metrics, counter, counters, gauge
from ._need import (
    APPROVAL_LIFE,
    ApprovalNeed,
    ConnectionNeed,
    Delivery,
    Describer,
    Need,
    SecretNeed,
    Validator,
)
from ._notifier import Notifier, written_out
from ._sessions import DEFAULT_SESSIONS_PER_PRINCIPAL, SessionBounds, Sessions, principal_from
from ._sql import Database
from ._tracing import joined, step, traceparent
from ._web import BodyLimit, BrowserCookie, SecurityHeaders, Web, remote_address
from .audit import AuditLog, Entry, Event
from .bus import Bus
from .eras import Call, StateSealer, SteppedClockCodec
from .frameworks import Refusal, framework_of, request_of
from .identity import (
    BrowserIdentity,
    LocalIdentity,
    LocalUser,
    McpIdentity,
    OidcLogin,
    PasswordLogin,
    TokenSubject,
    is_loopback,
)
from .identity._authorize_errors import AuthorizeErrorPages
from .identity._authserver import AuthServer, OAuthRequesters, PublicClientRevocation
from .identity._throttle import Throttle
from .ledger import Draft, Ledger, Limits, Record, Status
from .oauth import Connections, Provider
from .pages import ApprovalFlow, ConnectFlow, Flow, OAuthStates, SecretFlow, build_pages
from .store import Store
from .vault import Keyring, Vault

logger = logging.getLogger("handoff")

F = TypeVar("F", bound=Callable[..., Any])

AUTH_BODY_LIMIT = 16 * 1024
LINK_LIFE = 480.0
"""Seconds a link lives by default: eight minutes, what a 2026 client's ten held rounds cover."""
SWEEP_BATCH = 250
"""Records expired per transaction: a few milliseconds each, in a worker thread (a call that needs the
database meanwhile waits for one batch at most)."""
SWEEP_PAUSE = 0.005
"""Seconds between batches, when there are more: calls and pages get the database in between."""
_AUTH_PATHS = ("/register", "/token", "/revoke", "/authorize")


class StorageGuard:
    """ASGI middleware: while the store cannot be used, the OAuth and MCP endpoints answer 503 with a
    message to try again later, instead of a bare 500."""

    def __init__(self, app: ASGIApp, handoff: Handoff) -> None:
        self.app = app
        self.handoff = handoff

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except StorageUnavailable:
            if scope["type"] != "http" or started:
                raise
            request = Request(scope)
            await self.handoff.note_storage_failure(detail=request.url.path, remote=remote_address(request))
            response = JSONResponse(
                {"error": "temporarily_unavailable", "error_description": StorageUnavailable.PERSON},
                status_code=503,
                headers={"retry-after": "60", "cache-control": "no-store"},
            )
            await response(scope, receive, send)


def _bound(host: str, port: int, *, what: str = "the pages") -> socket.socket:
    """A listening socket on `host:port` for `what`, or a ConfigError saying why there is none."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if os.name != "nt":  # a port whose last connections are in TIME_WAIT is free (as uvicorn binds it)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        where = "in public_url" if what == "the pages" else "for them"
        raise ConfigError(
            f"cannot serve {what} on {host}:{port} ({exc.strerror}): is another server using that "
            f"port? Choose another {where}"
        ) from exc
    return sock


def _redirect(path: str, target: str) -> Route:
    async def redirect(request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(target + query, status_code=307)

    return Route(path, redirect, methods=["GET", "HEAD", "POST", "DELETE"])


def check_public_url(url: str) -> str:
    """The base URL users' browsers open: https, unless the host is loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"public URL {url!r} must be an absolute http(s) URL, such as https://mcp.example.com"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"public URL {url!r} uses plain http on a non-loopback host; serve the pages over https "
            "(http is only allowed for 127.0.0.1, ::1 and localhost)"
        )
    if parts.query or parts.fragment or parts.username:
        raise ConfigError(f"public URL {url!r} must not carry a query, fragment or user name")
    return url.rstrip("/")


def _metrics_listen(address: str | None, token: str | None) -> tuple[str, int] | None:
    """`host:port` of the metrics listener, refused off loopback without a token to guard it."""
    if address is None:
        return None
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise ConfigError(f"metrics_address {address!r} must be host:port, such as 127.0.0.1:9464")
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"metrics_address {address!r} is not loopback: give metrics_token= too, so that only your "
            "scraper reads the metrics"
        )
    return host, int(port)


_PARTS = ("audit", "entries", "bus", "completion")


class Handoff:
    """URL mode elicitation for one MCP server: declare needs on tools, mount the pages.

    Build it with `Handoff.embedded(...)` for the SQLite defaults, or pass each
    part yourself. Then decorate tools with `requires_secret`, `requires_connection`
    or `requires_approval`, read values with `secret(name)` / `token(provider)`, and
    serve `app(mcp_server)`.

    `public_url` is what browsers open (https unless loopback); `secret_key` (32+
    random bytes) signs CSRF tokens and, unless `state_keys` is given, seals
    2026-07-28 request states; `pages_path` is where the pages are mounted;
    `wait_timeout` bounds a 2025 in-call wait (`delivery="request"`); `retry_wait`
    is the shortest hold of a 2026 retry before answering again (longer when the
    client's ten rounds must cover what is left of the link's life; 0 answers at
    once and lets the client poll); `sweep_interval`
    is how often expired records are swept and audited; `audit_retention` is how
    long audit lines are kept (90 days; None keeps them forever);
    `sessions_per_principal` is how many 2025-11-25 sessions one verified principal
    may hold open on this process (32; one more closes that principal's oldest,
    nobody else's; None leaves only the SDK's bound of the whole process);
    `metrics_address` (`127.0.0.1:9464`) serves `handoff.metrics` in Prometheus' format on a
    listener of its own, loopback unless `metrics_token` is given, which scrapers then send as
    `Authorization: Bearer <token>`.
    """

    def __init__(
        self,
        *,
        public_url: str,
        browser: BrowserIdentity,
        secret_key: bytes,
        store: Store | None = None,
        ledger: Ledger | None = None,
        vault: Vault | None = None,
        mcp_identity: McpIdentity | None = None,
        audit: AuditLog | None = None,
        bus: Bus | None = None,
        pages_path: str = "/handoff",
        wait_timeout: float = 300.0,
        retry_wait: float = 25.0,
        state_keys: Sequence[bytes] | None = None,
        sweep_interval: float = 5.0,
        audit_retention: float | None = 90 * 86400.0,
        providers: Sequence[Provider] = (),
        entries: Entries | None = None,
        completion: Completion | None = None,
        appearance: Appearance | None = None,
        sessions_per_principal: int | None = DEFAULT_SESSIONS_PER_PRINCIPAL,
        metrics_address: str | None = None,
        metrics_token: str | None = None,
    ) -> None:
        if len(secret_key) < 32:
            raise ConfigError("secret_key must be at least 32 random bytes (used for CSRF tokens)")
        if pages_path and (not pages_path.startswith("/") or pages_path.endswith("/")):
            raise ConfigError(
                f"pages_path {pages_path!r} must start with '/' and not end with one, like '/handoff'"
            )
        self.public_url = check_public_url(public_url)
        self._secret_key = secret_key
        if isinstance(browser, LocalIdentity) and not is_loopback(urlsplit(self.public_url).hostname or ""):
            raise ConfigError("LocalIdentity is for loopback-only servers: use a 127.0.0.1 or localhost URL")
        if store is None:
            if ledger is None or vault is None:
                raise ConfigError("give Handoff a store=Store.open(...), or both a ledger and a vault")
            store = Store.of(ledger, vault, audit=audit, entries=entries, bus=bus, completion=completion)
        self.store = store
        self.ledger: Ledger = store.ledger
        self.vault: Vault = store.vault
        self.entries: Entries = store.entries
        self.audit: AuditLog = store.audit
        self.completion: Completion = store.completion
        self.browser = browser
        if isinstance(browser, PasswordLogin | OidcLogin):  # AuthServer too: its sessions and grants
            browser.keep_in(self.entries)
        self._identity_assumed = mcp_identity is None
        self.mcp_identity: McpIdentity = mcp_identity or (
            LocalUser(browser.name) if isinstance(browser, LocalIdentity) else TokenSubject()
        )
        self.bus: Bus = store.bus
        self.metrics = Metrics()
        """What the round trip does, in Prometheus' format (served on `metrics_address`)."""
        self.metrics_listen = _metrics_listen(metrics_address, metrics_token)
        self.metrics_token = metrics_token
        self.metrics.read(self._read_metrics)
        self.notifier = Notifier(self.metrics)
        self._background: TaskGroup | None = None
        """While serving: where an outbox row is taken off once its notice is written out."""
        self.bus.listen(self.notifier.on_record, interest=self.notifier.watching)
        self.wait_timeout = wait_timeout
        self.retry_wait = retry_wait
        self.holds = Holds()
        """Requests held open while people finish in the browser, refused with `Busy` before the
        process runs out of file descriptors (set `holds.capacity` to fix the number)."""
        self.states = StateSealer(
            state_keys or [hmac.new(secret_key, b"handoff/request-state", "sha256").digest()],
            ttl=self.ledger.ttl,
        )
        if sessions_per_principal is not None and sessions_per_principal < 1:
            raise ConfigError("sessions_per_principal must be at least 1 (or None for no bound)")
        self.sessions: Sessions | None = Sessions(sessions_per_principal) if sessions_per_principal else None
        """The 2025-11-25 sessions each principal holds on this process (None: unbounded)."""
        self.sweep_interval = sweep_interval
        self.audit_retention = audit_retention
        self.providers: dict[str, Provider] = {p.name: p for p in providers}
        self.connections = Connections(self.vault, store.lock)
        self.oauth_states = OAuthStates(self.entries)
        self.needs: dict[str, Need] = {}
        """Every declared need, by `kind:name` (pages look up validation hooks here)."""
        self.flows: dict[str, Flow] = {
            "secret": SecretFlow(),
            "approval": ApprovalFlow(),
            "connection": ConnectFlow(),
        }
        self.web = Web(
            BrowserCookie(secret_key, secure=self.public_url.startswith("https:"), origin=self.public_url),
            pages_path,
            self.public_url,
            appearance,
        )

    @classmethod
    def embedded(
        cls,
        *,
        public_url: str,
        db_path: str | Path | Database | None = None,
        browser: BrowserIdentity,
        secret_key: bytes,
        database_url: str | None = None,
        keyring: Keyring | None = None,
        ttl: float = LINK_LIFE,
        limits: Limits | None = None,
        **options: Any,
    ) -> Handoff:
        """Ledger, vault, audit and the sign-in state in one database: the SQLite file `db_path`, or
        the PostgreSQL database `database_url` (default: HANDOFF_DATABASE_URL, which wins over
        `db_path` so that a deployment picks its database without a code change). The keyring
        defaults to HANDOFF_VAULT_KEYS."""
        where = database_url or Store.url_from_env() or db_path
        if where is None:
            raise ConfigError(
                "Handoff.embedded needs a database: db_path='handoff.db' for SQLite, or "
                "database_url='postgresql://…' (or HANDOFF_DATABASE_URL) for PostgreSQL"
            )
        store = Store.open(where, keyring or Keyring.from_env(), ttl=ttl, limits=limits)
        return cls(public_url=public_url, store=store, browser=browser, secret_key=secret_key, **options)

    @classmethod
    def in_memory(
        cls,
        *,
        public_url: str,
        browser: BrowserIdentity,
        secret_key: bytes,
        keyring: Keyring,
        ttl: float = LINK_LIFE,
        limits: Limits | None = None,
        **options: Any,
    ) -> Handoff:
        """Everything in process memory: for tests and throwaway servers."""
        parts = {name: options.pop(name) for name in _PARTS if name in options}
        store = Store.memory(keyring, ttl=ttl, limits=limits, **parts)
        return cls(public_url=public_url, store=store, browser=browser, secret_key=secret_key, **options)

    # What tool authors use

    def requires_secret(
        self,
        name: str,
        *,
        label: str,
        help: str = "",
        message: str | None = None,
        validate: Validator | None = None,
        delivery: Delivery = "error",
    ) -> Callable[[F], F]:
        """Declare that a tool needs the calling user's secret `name`; read it with `secret(name)`.

        When the secret is missing, the user is sent to a page of this server to
        enter it; the tool body runs only once it is stored. `validate` can reject
        a value with a message shown on that page.
        """
        return gate(self, self._declare(SecretNeed(name, label, help, message, validate)), delivery)

    def requires_approval(
        self,
        name: str,
        *,
        label: str,
        describe: Describer | None = None,
        message: str | None = None,
        delivery: Delivery = "error",
        lifetime: float = APPROVAL_LIFE,
    ) -> Callable[[F], F]:
        """Declare that each call of a tool needs a person's approval, given for exactly its arguments.

        The approval page shows `describe(arguments)` (for a payment: amount, currency,
        payee, description), every character as it will be used. An approval is bound
        to this server, this tool and these arguments, is used by one run, and lapses
        `lifetime` seconds (ten minutes) after it was given; other arguments need another.
        """
        need = ApprovalNeed(name, label, describe, message, lifetime)
        return gate(self, self._declare(need), delivery)

    def requires_connection(
        self,
        provider: str,
        *,
        scopes: Sequence[str] = (),
        message: str | None = None,
        delivery: Delivery = "error",
    ) -> Callable[[F], F]:
        """Declare that a tool needs the user's connection to `provider` with `scopes`; read the access
        token with `token(provider)`. Tokens are refreshed before expiry; a refresh that fails or lacks
        the scopes sends the person through the provider again."""
        known = self.provider(provider)
        return gate(
            self, self._declare(ConnectionNeed(provider, known.label, tuple(scopes), message)), delivery
        )

    def add_provider(self, provider: Provider) -> None:
        self.providers[provider.name] = provider

    def provider(self, name: str) -> Provider:
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigError(
                f"no OAuth provider named {name!r} is configured; add it with Handoff(providers=[...]) "
                "or handoff.add_provider(...)"
            ) from None

    def token(self, provider: str) -> str:
        """The access token of a connection, inside a tool gated by `requires_connection(provider)`."""
        value: str = Secrets.current(f"connection:{provider}", "requires_connection")
        return value

    def oauth_callback_url(self) -> str:
        """The one redirect URI to register with every provider (matched exactly)."""
        return self.web.url("/oauth/callback")

    def _declare(self, need: Need) -> Need:
        known = self.needs.get(need.ref)
        if known is not None and known.label != need.label:
            raise ConfigError(f"{need.kind} {need.name!r} is declared twice with different labels")
        self.needs[need.ref] = need
        return need

    def principal(self, ctx: Any) -> str | None:
        """The verified principal of the tool call `ctx` (the SDK's or FastMCP's `Context`) belongs to
        (None if unauthenticated)."""
        return self.mcp_identity.principal(request_of(ctx).context)

    def secret(self, name: str) -> str:
        """The value of a declared secret, inside a tool gated by `requires_secret(name)`."""
        value: str = Secrets.current(f"secret:{name}", "requires_secret")
        return value

    # What eras and pages use

    def url_for(self, record_id: str) -> str:
        return self.web.url(f"/e/{record_id}")

    async def open(self, call: Call, need: Need) -> tuple[Record, str]:
        """The pending record for this need of this call (reused while one is pending), and its URL."""
        parent = traceparent()  # the tool call's: later steps, in other requests, join its trace
        with step("handoff.link", {"handoff.kind": need.kind}) as span:
            record = await self._pending_record(call, need, parent)
            span.set_attribute("handoff.record_id", record.id)
        return record, self.url_for(record.id)

    async def _pending_record(self, call: Call, need: Need, trace: str) -> Record:
        principal, client_id, tool, remote = call.principal, call.client_id, call.tool, call.remote
        key = need.key(call.invocation)
        record = await self.ledger.latest(principal, key)
        if record is None or not record.pending:
            try:
                record = await self.ledger.create(
                    Draft(
                        principal=principal,
                        kind=need.kind,
                        params=need.params(call.invocation),
                        client_id=client_id,
                        key=key,
                        trace=trace,
                    )
                )
            except RateLimited as limited:
                await self.audit.write(
                    Event.RATE_LIMITED,
                    principal=principal,
                    client_id=client_id,
                    remote=remote,
                    detail=key,
                )
                self.metrics.outcome(need.kind, "rate_limited")
                raise Refusal(f"{tool} cannot ask for your {need.label} right now: {limited}") from None
            await self.audit.write(
                Event.CREATED,
                principal=principal,
                client_id=client_id,
                record_id=record.id,
                remote=remote,
                detail=key,
            )
            self.metrics.created(record.kind)
        return record

    async def finish(
        self,
        record_id: str,
        status: Status,
        *,
        remote: str | None,
        value: Value | None = None,
        trace: str = "",
    ) -> Record:
        """Move a record to its final status, with the value the person gave (if any) and its audit
        line, as one change (see `Completion`); then tell whoever waits. `trace` is the record's
        (its tool call's traceparent), which this step joins.

        Of two concurrent submits exactly one stores its value and completes; the other gets
        `TransitionRefused`, and nothing of it is kept.
        """
        attributes = {"handoff.record_id": record_id, "handoff.status": status.value}
        with joined("handoff.complete", trace, attributes):
            record = await self.completion.finish(record_id, status, value=value, remote=remote)
            self.metrics.finished(record)
            await self._tell(record, announced=self.completion.announces)
        return record

    async def complete_with_secret(self, record: Record, value: str, *, remote: str | None) -> Record:
        """Store the value and complete the record, once: a second submit finds it completed."""
        given = Value(record.principal, record.params["name"], value)
        return await self.finish(record.id, Status.COMPLETED, remote=remote, value=given, trace=record.trace)

    async def _tell(self, record: Record, *, announced: bool = False) -> None:
        """Wake whoever waits on `record`, here and on other replicas (unless the completion's own
        transaction `announced` it to them); then, once the notices are written out, take it off the
        outbox (in the background while serving: the person's page does not wait for that). When the
        store fails in between, the change is kept all the same (the person's page says so) and the
        notice stays queued: a sweep, here or on another replica, sends it."""
        try:
            await self.bus.publish(record, announced=announced)
        except StorageUnavailable:
            self._untold(record)
            return
        if self._background is None:  # not serving: no connection to write a notice to
            await self._told(record, flushed=True)
        else:
            self._background.start_soon(self._told, record)

    async def _told(self, record: Record, *, flushed: bool = False) -> None:
        if not flushed:
            await written_out()  # a crash before this point leaves the row, and the sweep tells again
        try:
            await self.completion.told(record.id)
        except StorageUnavailable:
            self._untold(record)
        except Exception:  # in the background: a fault here must not stop the server
            logger.exception("record %s… finished; its notice stays in the outbox", record.id[:8])

    def _untold(self, record: Record) -> None:
        self.metrics.store_errors.inc()
        logger.warning("record %s… finished; its notice waits in the outbox for the sweep", record.id[:8])

    async def tell_untold(self) -> int:
        """Announce completions whose notice a crash cut off (queued more than a few seconds ago)."""
        untold = await self.completion.untold(time.time() - 2.0)
        for record_id in untold:
            await self._tell(await self.ledger.get(record_id))
        return len(untold)

    async def wait(self, record_id: str, timeout: float | None = None) -> Record | None:
        """The record once it has finished, or None if it is still pending after `timeout`, or at once
        when this process already holds as many waits as it can (the caller answers "still pending")."""
        try:
            return await self.hold(record_id, timeout)
        except Busy:
            return None

    async def hold(self, record_id: str, timeout: float | None = None) -> Record | None:
        """Like `wait`, but raises `Busy` instead of holding the request when no more may be held."""
        record = await self.ledger.get(record_id)
        if not record.pending:
            return record
        async with self.holds.hold():
            self.metrics.held.inc()
            with joined("handoff.wake", record.trace, {"handoff.record_id": record_id}) as span:
                woken = await self.bus.wait(record_id, self.wait_timeout if timeout is None else timeout)
                span.set_attribute("handoff.woken", woken is not None)
        if woken is not None:
            self.metrics.since_completion(self.metrics.completion_to_wake, woken)
            lifecycle(Entry(time.time(), WOKEN, woken.principal, woken.client_id, woken.id))
        record = await self.ledger.get(record_id)
        return None if record.pending else record

    async def read_secret(self, principal: str, name: str) -> str | None:
        try:
            return await self.vault.get(principal, name)
        except VaultError as exc:
            logger.warning("stored secret %r of %s is unreadable, asking again: %s", name, principal, exc)
            return None

    async def sweep(self) -> int:
        """Expire overdue records (audit each, wake whoever waits on them) and forget expired entries;
        returns how many records expired. Batches of `SWEEP_BATCH`, each in a worker thread."""
        await self.entries.purge()
        await self.tell_untold()
        self.metrics.outbox(*await self.completion.outbox())
        if self.audit_retention is not None:
            await self.audit.prune(time.time() - self.audit_retention)
        swept = 0
        announced = self.completion.announces
        while batch := await self.completion.expire_due(SWEEP_BATCH):
            self.metrics.expired(batch)
            for record in batch:
                await self.bus.publish(record, announced=announced)
            swept += len(batch)
            if len(batch) < SWEEP_BATCH:
                break
            await anyio.sleep(SWEEP_PAUSE)  # let calls and pages have the database in between
        return swept

    # Serving

    def pages(self) -> Starlette:
        """The out-of-band pages as their own app (mount it at `pages_path`)."""
        return build_pages(self, self.web)

    def app(self, mcp_server: Any, **streamable_http: Any) -> Starlette:
        """The MCP server's streamable HTTP app with the pages mounted beside it: an `MCPServer` of the
        SDK, or a FastMCP server (its own `http_app`, with `HandoffMiddleware` installed). Options go
        to that app (`streamable_http_app(...)`, or FastMCP's `http_app(...)`)."""
        host = str(streamable_http.get("host", "127.0.0.1"))
        if isinstance(self.browser, LocalIdentity) and not is_loopback(host):
            raise ConfigError(
                f"refusing to serve on {host}: LocalIdentity trusts every browser on this machine, so it "
                "only binds to loopback; use another identity (AuthServer, CustomIdentity) on a network"
            )
        framework = framework_of(mcp_server)
        self._check_verified_users(mcp_server)
        self._take_name(mcp_server)
        app = framework.http_app(self, mcp_server, dict(streamable_http))
        if self.sessions is not None:
            path = str(streamable_http.get("streamable_http_path") or streamable_http.get("path") or "/mcp")
            bounds = Middleware(
                SessionBounds,
                path=path,
                sessions=self.sessions,
                principal_of=principal_from(self.mcp_identity),
            )
            app.user_middleware.append(bounds)  # innermost, inside authentication: it sees who is verified
        if isinstance(self.browser, AuthServer):
            app.add_middleware(AuthorizeErrorPages, auth=self.browser, web=self.web)
        self._with_pages(app)
        app.add_middleware(PublicClientRevocation)
        app.add_middleware(OAuthRequesters, cookie=self.web.cookie)
        # The SDK's OAuth endpoints take small forms and JSON; nobody needs to post megabytes there.
        app.add_middleware(BodyLimit, max_bytes=AUTH_BODY_LIMIT, paths=_AUTH_PATHS)
        inner = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[Mapping[str, Any] | None]:
            async with inner(app) as state, self.running():
                yield state

        app.router.lifespan_context = lifespan  # type: ignore[assignment]
        return app

    async def serve_stdio(self, mcp_server: Any, *, sock: socket.socket | None = None) -> None:
        """Serve `mcp_server` on this process's stdin and stdout, for an MCP client that starts it
        (a desktop app's local server), with the pages on the public URL's loopback port (or on
        `sock`, a socket already bound there). Its one user is whoever runs it (`LocalIdentity`, whose
        pages ask for the person's passphrase). Nothing but MCP is written to stdout."""
        if isinstance(self.mcp_identity, TokenSubject):
            raise ConfigError(
                "a server on stdio has no access tokens to tell its user by: use LocalIdentity (its user "
                "is LocalUser), or give mcp_identity= yourself"
            )
        parts = urlsplit(self.public_url)
        host = parts.hostname or ""
        if not is_loopback(host):
            raise ConfigError(
                f"a server on stdio serves its pages on this machine only: give a loopback public_url "
                f"such as http://127.0.0.1:8378, not {self.public_url}"
            )
        framework = framework_of(mcp_server)
        self._take_name(mcp_server)
        if sock is None:
            sock = _bound(host, parts.port or 80)
        pages = self._with_pages(Starlette())
        web = uvicorn.Server(uvicorn.Config(pages, log_config=None, access_log=False, lifespan="off"))
        async with self.running(), anyio.create_task_group() as tg:
            tg.start_soon(web.serve, [sock])
            await framework.run_stdio(self, mcp_server)
            web.should_exit = True

    def _with_pages(self, app: Starlette) -> Starlette:
        """`app` with the pages mounted at `pages_path`, its slash redirects built from the public URL,
        a 503 instead of a 500 while the store is down, and the pages' security headers; beside them the
        probes, `/healthz` and `/readyz`."""
        app.router.routes.append(Mount(self.web.root, app=self.pages()))
        app.router.routes.extend(health_routes(self.store))
        self._redirect_slashes(app)
        # Outermost, so that a store failing under the SDK's auth middleware is a 503 too.
        app.add_middleware(StorageGuard, handoff=self)
        app.add_middleware(SecurityHeaders, prefix=self.web.root)
        return app

    def _take_name(self, mcp_server: Any) -> None:
        """The pages show the MCP server's name unless the appearance gives one."""
        if not self.web.server_name and isinstance(name := getattr(mcp_server, "name", None), str):
            self.web.server_name = name

    async def app_name(self, client_id: str | None) -> dict[str, Any] | None:
        """The name of the MCP client (app) behind `client_id`, as pages show it: `verified` when this
        server's operator gave it (a configured client, or `Appearance.clients`), not when the app
        registered itself under it. None when no name is known: never a name the request claimed."""
        if not client_id:
            return None
        if (known := self.web.appearance.clients.get(client_id)) is not None:
            return {"name": known, "verified": True}
        if isinstance(self.browser, AuthServer):
            client = await self.browser.get_client(client_id)
            if client is not None and client.client_name:
                return {"name": client.client_name, "verified": self.browser.verified(client_id)}
        return None

    async def note_storage_failure(self, *, detail: str, remote: str | None = None) -> None:
        """Audit that the store failed a person, when the store lets us (it may be what is failing)."""
        self.metrics.store_errors.inc()
        try:
            await self.audit.write(Event.STORAGE_FAILED, remote=remote, detail=detail)
        except StorageUnavailable:
            logger.warning("could not audit a storage failure (%s): the store is unavailable", detail)

    def request_state_security(self) -> RequestStateSecurity:
        """The SDK's own sealing of 2026-07-28 request states, under a key derived from `secret_key`:
        pass it as `MCPServer(..., request_state_security=...)`. Without it the SDK seals under a key
        of this process only, and a retry that crosses a restart (or reaches another replica) fails.
        A state sealed before the clock stepped back is still accepted (see `_clock.CLOCK_STEP`)."""
        key = hmac.new(self._secret_key, b"handoff/sdk-request-state", "sha256").digest()
        return RequestStateSecurity(codec=SteppedClockCodec([key]), ttl=self.ledger.ttl)

    def _redirect_slashes(self, app: Starlette) -> None:
        """`/handoff` → `/handoff/` and `/mcp/` → `/mcp`, built from the public URL: Starlette's own
        slash redirects would echo the request's Host header."""
        app.router.redirect_slashes = False
        extra: list[BaseRoute] = []
        for route in app.router.routes:
            path = getattr(route, "path", "")
            if isinstance(route, Mount) and path:
                extra.append(_redirect(path, f"{self.public_url}{path}/"))
            elif isinstance(route, Route) and path and not path.endswith("/") and "{" not in path:
                extra.append(_redirect(f"{path}/", f"{self.public_url}{path}"))
        app.router.routes.extend(extra)

    def _check_verified_users(self, mcp_server: Any) -> None:
        """Handoff binds records to the verified `sub` of each call: an MCP server without the SDK's auth
        has none, and every person would be told the tool cannot know who they are. (An author who
        verifies tokens some other way says so by passing `mcp_identity=` explicitly.)"""
        if not (self._identity_assumed and isinstance(self.mcp_identity, TokenSubject)):
            return
        framework = framework_of(mcp_server)
        if framework.has_verified_users(mcp_server):
            return
        if framework.name == "fastmcp":
            raise ConfigError(
                "this FastMCP server has no authentication, but handoff needs a verified user for every "
                "tool call: build it with auth=AuthServerProvider(auth) (from handoff.frameworks.fastmcp) "
                "or one of FastMCP's token verifiers (JWTVerifier), or use LocalIdentity for a "
                "single-user loopback server"
            )
        raise ConfigError(
            "this MCP server has no authentication, but handoff needs a verified user for every tool "
            "call: build it with auth=AuthSettings(...) and an auth_server_provider (AuthServer) or a "
            "token_verifier (JwtVerifier), or use LocalIdentity for a single-user loopback server"
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serving: the file descriptor limit raised for held waits, the log's format as
        HANDOFF_LOG_FORMAT says, the store connected (and, on SQLite, claimed for this process), the
        bus listening, then the expiry sweeper."""
        raise_descriptor_limit()
        configure_logs()  # HANDOFF_LOG_FORMAT, when set
        await self.store.start()
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(self.bus.run)
                tg.start_soon(self._sweep_forever)
                self._background = tg
                if self.metrics_listen is not None:
                    await tg.start(self._serve_metrics, _bound(*self.metrics_listen, what="the metrics"))
                try:
                    yield
                finally:
                    self._background = None
                    tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self.store.stop()

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("expiry sweep failed; will retry")
            await anyio.sleep(self.sweep_interval)

    async def _serve_metrics(self, sock: socket.socket, *, task_status: TaskStatus[None]) -> None:
        """The metrics on `sock` (bound already) until cancelled."""
        app = self.metrics.app(self.metrics_token)
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
        task_status.started()
        try:
            await server.serve([sock])
        finally:
            sock.close()

    def _read_metrics(self) -> Iterator[Metric]:
        """What the process keeps anyway, read when scraped."""
        yield gauge("handoff_held_requests_now", "Requests held open right now.", self.holds.held)
        yield counter(
            "handoff_busy_answers", "Requests answered busy: no more could be held open.", self.holds.refused
        )
        yield counter(
            "handoff_bus_reconnects",
            "Times the bus listened again after losing its database.",
            getattr(self.bus, "reconnects", 0),
        )
        yield counter(
            "handoff_bus_caught_up",
            "Records the bus read back after a reconnect.",
            getattr(self.bus, "caught_up", 0),
        )
        throttle = getattr(self.browser, "throttle", None)
        if isinstance(throttle, Throttle):
            yield counters("handoff_signin_tries", "Password sign-ins, by result.", "result", throttle.tally)
