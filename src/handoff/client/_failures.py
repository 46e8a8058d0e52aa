"""Failures to reach a server, and any failure of a call, said in one line a person can act on.

A dead server shows up as an exception group from the transport's task group, several layers deep;
`unreachable` finds what actually happened there, and `one_line` says the same for any failure the
command line meets (an invalid answer, an error from the server, an unexpected exception).
"""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass

import httpx2
from mcp.client._input_required import InputRequiredRoundsExceededError
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, INVALID_PARAMS, METHOD_NOT_FOUND, PARSE_ERROR
from pydantic import ValidationError

from .._errors import HandoffError, leaves
from ._reconnect import LOST
from ._timeouts import AnswerTimeout, AnswerTooLarge, HandshakeTimeout, mib


class ServerUnreachable(HandoffError):
    """The MCP server could not be reached, or did not answer as one: the connection was refused or
    timed out, no answer came, the connection closed, or HTTP answered an error instead of MCP."""


@dataclass(frozen=True)
class HttpRefusal:
    """The last request to the MCP endpoint got an HTTP error with no JSON-RPC error in it."""

    status: int
    reason: str


def unreachable(
    exc: BaseException,
    server: str,
    *,
    connect_timeout: float,
    http_refusal: HttpRefusal | None = None,
    handshake: bool = False,
) -> ServerUnreachable | None:
    """The one error to raise when `exc` means the server is not there (or broke off), else None.

    `handshake` is true while connecting: any error of the connection itself then means the server
    cannot be used, while later an error from the server (an `MCPError`) is its answer to a request.
    """
    for leaf in leaves(exc):
        said = _why(leaf, server, connect_timeout, http_refusal, handshake)
        if said is not None:
            return ServerUnreachable(said)
    return None


def _why(
    leaf: BaseException,
    server: str,
    connect_timeout: float,
    http_refusal: HttpRefusal | None,
    handshake: bool,
) -> str | None:
    if isinstance(leaf, AnswerTimeout):
        return (
            f"{server} accepted the connection but did not answer within {leaf.seconds:g} s; "
            "is the server stuck, or is this not its MCP endpoint?"
        )
    if isinstance(leaf, HandshakeTimeout):
        return (
            f"{server} accepted the connection but did not finish the handshake within {leaf.seconds:g} s; "
            "is the server stuck, or is this not its MCP endpoint?"
        )
    if isinstance(leaf, AnswerTooLarge):
        return (
            f"{server} sent an answer larger than {mib(leaf.limit)}, the most handoff reads of one "
            "answer; it was not read further"
        )
    if isinstance(leaf, httpx2.ConnectTimeout):
        return (
            f"cannot reach {server}: no connection within {connect_timeout:g} s; "
            "check the address and that the server is running"
        )
    if isinstance(leaf, httpx2.ConnectError):
        return f"cannot reach {server}: {_connect_problem(leaf)}"
    if isinstance(leaf, httpx2.TimeoutException):
        return f"{server} stopped answering in the middle of an answer ({leaf}); try again later"
    if isinstance(leaf, httpx2.TransportError):
        detail = str(leaf) or type(leaf).__name__
        return f"lost the connection to {server} ({detail}); is the server still running?"
    if isinstance(leaf, MCPError) and http_refusal is not None:
        answered = f"{server} answered HTTP {http_refusal.status} {http_refusal.reason}"
        if http_refusal.status >= 500:
            return f"{answered}; the server failed: try again later, or look at its log"
        if handshake:
            return f"{answered} instead of MCP; is this the server's MCP endpoint (it often ends in /mcp)?"
        if http_refusal.status == 404:
            return f"{answered}: it no longer knows this connection (restarted?); connect again"
        return f"{answered} instead of an MCP answer; check the address and connect again"
    if isinstance(leaf, MCPError) and (event := _EVENT_TOO_LARGE.search(leaf.message)) is not None:
        return (
            f"{server} sent an event larger than {mib(int(event.group(1)))}, the most handoff reads of "
            "one answer; it was not read further"
        )
    if isinstance(leaf, MCPError) and connection_closed(leaf):
        return f"the connection to {server} closed before it answered; is the server still running?"
    if handshake and isinstance(leaf, OSError):
        return f"cannot start {server}: {leaf.strerror or leaf}; check the command"
    return None


_EVENT_TOO_LARGE = re.compile(r"Server-sent event exceeded the (\d+) byte limit")
"""How the SDK says that it stopped reading an event at its size limit."""


def connection_closed(error: MCPError) -> bool:
    """An error the SDK makes up when the connection ends, not one a server sent."""
    return error.code == CONNECTION_CLOSED and (
        error.message == "Connection closed" or error.message.startswith(("SSE stream", LOST))
    )


def _connect_problem(error: httpx2.ConnectError) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused; is the server running?"
        if isinstance(cause, socket.gaierror):
            return "no such host name; check the address"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"its TLS certificate is not valid ({cause.verify_message}); check the address"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed ({cause.reason or cause}); is it an https server?"
        if isinstance(cause, OSError) and cause.errno is not None:
            return f"{cause.strerror}; check the address and that the server is running"
        cause = cause.__cause__ or cause.__context__
    return f"{error}; check the address and that the server is running"


def one_line(exc: BaseException, server: str) -> str:
    """What went wrong in one line, for any failure of a connection or a call to `server`."""
    chosen = telling_leaf(exc)
    if isinstance(chosen, HandoffError):
        return _first_line(str(chosen))
    if isinstance(chosen, ValidationError):
        first = chosen.errors()[0] if chosen.errors() else None
        where = ".".join(str(part) for part in first["loc"]) if first else ""
        detail = f"{where}: {first['msg']}" if first else "invalid"
        return (
            f"{server} sent an answer that is not valid MCP ({chosen.error_count()} problem(s); "
            f"{detail}); the server is at fault, tell its maintainers"
        )
    if isinstance(chosen, InputRequiredRoundsExceededError):
        return f"{server} kept asking for more input after {chosen.max_rounds} rounds; stopped"
    if isinstance(chosen, MCPError) and (unread := unreadable(chosen)) is not None:
        return (
            f"{server} sent an answer that could not be read ({unread}); the server is at fault, "
            "tell its maintainers"
        )
    if isinstance(chosen, MCPError):
        hint = (
            "; check the tool's name and arguments (handoff connect lists the tools)"
            if chosen.code in (INVALID_PARAMS, METHOD_NOT_FOUND)
            else ""
        )
        return f"{server} answered with error {chosen.code}: {_first_line(chosen.message)}{hint}"
    if isinstance(chosen, RuntimeError):
        return f"{server}'s answer cannot be used: {_first_line(str(chosen))}"
    return (
        f"unexpected {type(chosen).__name__}: {_first_line(str(chosen)) or 'no message'} "
        "(run again with --debug to see where)"
    )


def unreadable(error: MCPError) -> str | None:
    """What was wrong with an answer the SDK could not parse ("nested too deeply", "not JSON"), or
    None when `error` is not that (the SDK answers the request with -32700 in its place)."""
    if error.code != PARSE_ERROR or not error.message.startswith("Failed to parse"):
        return None
    if "recursion limit exceeded" in error.message:
        return "nested too deeply"
    if "Invalid JSON" in error.message:
        return "not JSON"
    return "not valid JSON-RPC"


def telling_leaf(exc: BaseException) -> BaseException:
    """The exception that says most: one of handoff's own, else the first that is not a cancellation."""
    found = list(leaves(exc))
    for leaf in found:
        if isinstance(leaf, HandoffError):
            return leaf
    for leaf in found:
        if isinstance(leaf, Exception):
            return leaf
    return found[0] if found else exc


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit] + ("…" if len(line) > limit else "")
