"""A well-behaved server with one fault planted on its wire: handoff's demo (on the SDK's MCPServer or
on FastMCP) behind an ASGI middleware that rewrites what its MCP endpoint sends, one way per fault.

- "wrong-code": -32042 goes out as -32000, its data (the URL elicitations) unchanged;
- "create-without-id": an elicitation/create in url mode goes out without its elicitationId;
- "notice-unknown-id": the completion notice names an elicitationId nobody was given;
- "session-parameter": every link the server hands out gets `session=<random>` (the pages ignore it:
  it grants nothing);
- "token-in-url": every link gets `access_token=` and the bearer token of the request it answers;
- "third-party-link": every link is moved to https://pages.example.com (which the checker's browser
  must not open).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from _server import ServerThread, free_port

from handoff.demo import build_demo

FAULTS = (
    "wrong-code",
    "create-without-id",
    "notice-unknown-id",
    "session-parameter",
    "token-in-url",
    "third-party-link",
)
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class Planted:
    """The ASGI app `app`, its MCP endpoint's answers rewritten by `fault` (None: unchanged)."""

    def __init__(self, app: Any, fault: str | None) -> None:
        self.app = app
        self.fault = fault

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.fault is None or scope["type"] != "http" or not scope["path"].endswith("/mcp"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        token = headers.get(b"authorization", b"").decode().removeprefix("Bearer ").strip()
        started: dict[str, Any] = {}
        buffer = bytearray()

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
                started["headers"] = [(k, v) for k, v in message["headers"] if k.lower() != b"content-length"]
                if self._streaming(started):
                    await send(started)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            buffer.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if self._streaming(started):
                out = bytearray()
                while (end := _EVENT_END.search(buffer)) is not None:
                    out += self._event(bytes(buffer[: end.start()]), token) + end.group()
                    del buffer[: end.end()]
                if not more:
                    out += buffer
                if out or not more:
                    await send({"type": "http.response.body", "body": bytes(out), "more_body": more})
                return
            if more:
                return
            body = self._json(bytes(buffer), token)
            started["headers"] = [*started["headers"], (b"content-length", str(len(body)).encode())]
            await send(started)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, sending)

    @staticmethod
    def _streaming(started: dict[str, Any]) -> bool:
        return any(
            k.lower() == b"content-type" and v.startswith(b"text/event-stream") for k, v in started["headers"]
        )

    def _event(self, event: bytes, token: str) -> bytes:
        lines = event.splitlines()
        for i, line in enumerate(lines):
            if line.startswith(b"data:"):
                lines[i] = b"data: " + self._json(line[5:].strip(), token)
        return b"\n".join(lines)

    def _json(self, body: bytes, token: str) -> bytes:
        try:
            message = json.loads(body)
        except ValueError:
            return body
        messages = message if isinstance(message, list) else [message]
        for item in messages:
            if isinstance(item, dict):
                self._rewrite(item, token)
        return json.dumps(message).encode()

    def _rewrite(self, message: dict[str, Any], token: str) -> None:
        error, params, result = message.get("error"), message.get("params"), message.get("result")
        if self.fault == "wrong-code" and isinstance(error, dict) and error.get("code") == -32042:
            error["code"] = -32000
        if self.fault == "create-without-id" and message.get("method") == "elicitation/create":
            params.pop("elicitationId", None)
        if (
            self.fault == "notice-unknown-id"
            and message.get("method") == "notifications/elicitation/complete"
        ):
            params["elicitationId"] = f"unknown-{secrets.token_hex(4)}"
        for holder in _link_holders(error, params, result, message.get("method")):
            holder["url"] = self._link(holder["url"], token)

    def _link(self, url: str, token: str) -> str:
        parts = urlsplit(url)
        if self.fault == "session-parameter":
            return urlunsplit(parts._replace(query=_with(parts.query, session=secrets.token_hex(8))))
        if self.fault == "token-in-url":
            return urlunsplit(parts._replace(query=_with(parts.query, access_token=token)))
        if self.fault == "third-party-link":
            return urlunsplit(parts._replace(scheme="https", netloc="pages.example.com"))
        return url


def _with(query: str, **more: str) -> str:
    return "&".join(q for q in (query, urlencode(more)) if q)


def _link_holders(error: Any, params: Any, result: Any, method: Any) -> Iterator[dict[str, Any]]:
    """Every object holding a link the server hands out: -32042's elicitations, elicitation/create's
    params, 2026-07-28's input requests."""
    if isinstance(error, dict) and isinstance(error.get("data"), dict):
        for entry in error["data"].get("elicitations") or []:
            if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                yield entry
    if method == "elicitation/create" and isinstance(params, dict) and isinstance(params.get("url"), str):
        yield params
    if isinstance(result, dict) and isinstance(result.get("inputRequests"), dict):
        for request in result["inputRequests"].values():
            inner = request.get("params") if isinstance(request, dict) else None
            if isinstance(inner, dict) and isinstance(inner.get("url"), str):
                yield inner


@contextlib.contextmanager
def serving(data_dir: Path, fault: str | None, framework: str = "sdk") -> Iterator[str]:
    """The demo on `framework`, with `fault` planted, on loopback: its MCP endpoint's URL."""
    port = free_port()
    demo = build_demo(f"http://127.0.0.1:{port}", data_dir, framework=framework)
    server = ServerThread(Planted(demo.app, fault), port).start()
    try:
        yield demo.mcp_url
    finally:
        server.stop()
