"""Fair 2025-11-25 sessions: each principal holds at most a bounded number of MCP sessions at once.

The SDK's session manager bounds the sessions of a whole process (10,000) and closes a session after
30 idle minutes; nothing stops one signed-in user from opening all of them, after which everyone
else's `initialize` is refused. `SessionBounds` sits on the MCP endpoint, inside the authentication
middleware (it sees who is verified), and keeps, per principal, the sessions it opened, oldest
first: a principal that opens one more than its bound has its own oldest session closed (as a
client's DELETE would close it), so the new one opens and no other principal is touched.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_HEADER = b"mcp-session-id"
DEFAULT_SESSIONS_PER_PRINCIPAL = 32
"""How many 2025-11-25 sessions one principal may hold on one process (a desktop client holds one
or two; an agent fleet under one identity should raise it)."""


class Sessions:
    """The 2025-11-25 sessions each principal holds on this process, oldest first, and its bound."""

    def __init__(self, per_principal: int) -> None:
        if per_principal < 1:
            raise ValueError("sessions_per_principal must be at least 1")
        self.per_principal = per_principal
        self.held: dict[str, OrderedDict[str, None]] = {}
        self.closed_for_bound = 0
        """How many sessions were closed to make room for their principal's newer ones."""

    def count(self, principal: str) -> int:
        return len(self.held.get(principal, ()))

    def opened(self, principal: str, session: str) -> None:
        self.held.setdefault(principal, OrderedDict())[session] = None

    def to_close(self, principal: str) -> list[str]:
        """The principal's oldest sessions that must close for one more to fit (taken off the list)."""
        held = self.held.get(principal)
        closing: list[str] = []
        while held is not None and len(held) >= self.per_principal:
            closing.append(held.popitem(last=False)[0])
        self.closed_for_bound += len(closing)
        return closing

    def forget(self, principal: str, session: str) -> None:
        held = self.held.get(principal)
        if held is not None:
            held.pop(session, None)
            if not held:
                del self.held[principal]


class SessionBounds:
    """ASGI middleware for the MCP endpoint at `path`: at most `sessions.per_principal` open sessions
    for each principal (as `principal_of(scope)` names it; requests without one pass untouched)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        sessions: Sessions,
        principal_of: Callable[[Scope], str | None],
    ) -> None:
        self.app = app
        self.path = path.rstrip("/") or "/"
        self.sessions = sessions
        self.principal_of = principal_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        principal = self.principal_of(scope)
        if principal is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        session = headers.get(SESSION_HEADER, b"").decode("latin-1") or None
        if session is None:
            if scope["method"] == "POST":
                await self._make_room(principal, scope)
                await self.app(scope, receive, self._noting_new(principal, send))
            else:
                await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._noting_end(principal, session, scope["method"], send))

    async def _make_room(self, principal: str, scope: Scope) -> None:
        """Close the principal's oldest sessions until one more fits."""
        for oldest in self.sessions.to_close(principal):
            await self._close(scope, oldest)

    async def _close(self, scope: Scope, session: str) -> None:
        """Close `session` as its client's DELETE would, on behalf of the same verified principal."""
        kept = [(k, v) for k, v in scope.get("headers") or [] if k not in (b"content-length", SESSION_HEADER)]
        closing = {**scope, "method": "DELETE", "headers": [*kept, (SESSION_HEADER, session.encode())]}

        async def nothing() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def dropped(message: Message) -> None:
            return None

        await self.app(closing, nothing, dropped)

    def _noting_new(self, principal: str, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 300:
                opened = dict(message.get("headers") or []).get(SESSION_HEADER)
                if opened:
                    self.sessions.opened(principal, opened.decode("latin-1"))
            await send(message)

        return sending

    def _noting_end(self, principal: str, session: str, method: str, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 404 or (method == "DELETE" and status < 300):
                    self.sessions.forget(principal, session)
            await send(message)

        return sending


def principal_from(mcp_identity: Any) -> Callable[[Scope], str | None]:
    """`principal_of` for `SessionBounds`: the principal `mcp_identity` finds in a request's scope
    (the verified user the authentication middleware put there)."""

    def principal_of(scope: Scope) -> str | None:
        if scope.get("user") is None or not getattr(scope["user"], "is_authenticated", False):
            return None
        principal: str | None = mcp_identity.principal(SimpleNamespace(request=SimpleNamespace(scope=scope)))
        return principal

    return principal_of
