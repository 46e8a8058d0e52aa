"""What the upstream server asks of the client in front, passed on as it is: form elicitations,
sampling and roots, to a client that declared them (else the upstream hears it is not supported);
and who the clients in front are, for the notices and log messages the upstream sends."""

from __future__ import annotations

import weakref
from typing import Any, TypeVar

import anyio
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    ClientCapabilities,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    ErrorData,
    InputRequest,
    ListRootsRequest,
    ListRootsResult,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

from ._steps import Pass, Steps

R = TypeVar("R", bound=BaseModel)


class Downstreams:
    """The clients in front (one on stdio, any number over HTTP): the latest request context of
    each connection, forgotten with the connection."""

    def __init__(self) -> None:
        self._sessions: weakref.WeakKeyDictionary[Any, ServerSession] = weakref.WeakKeyDictionary()

    def seen(self, session: ServerSession) -> None:
        self._sessions[session._connection] = session  # the SDK keys nothing public by connection

    def all(self) -> list[ServerSession]:
        return list(self._sessions.values())

    def handshaken(self) -> list[ServerSession]:
        """Those that may be sent a request or notice outside any call (2025 and earlier)."""
        return [s for s in self.all() if s.protocol_version not in MODERN_PROTOCOL_VERSIONS]


def undeclared(capabilities: ClientCapabilities | None, request: InputRequest) -> ErrorData | None:
    """The error for the upstream when the client in front did not declare what `request` needs."""
    declared = capabilities or ClientCapabilities()
    if isinstance(request, ElicitRequest):
        modes = declared.elicitation
        if modes is not None and (modes.form is not None or modes.url is None):
            return None
        return ErrorData(code=INVALID_PARAMS, message="the client does not support form mode elicitation")
    if isinstance(request, CreateMessageRequest):
        if declared.sampling is not None:
            return None
        return ErrorData(code=METHOD_NOT_FOUND, message="the client does not support sampling")
    if declared.roots is not None:
        return None
    return ErrorData(code=METHOD_NOT_FOUND, message="the client does not support roots")


class Passthrough:
    """The upstream client's callbacks: each request goes to the call it belongs to (and from there
    to the client that made the call, in its era), or, outside any call, to a 2025 client in front."""

    def __init__(self, steps: Steps, downstreams: Downstreams, *, timeout: float) -> None:
        self.steps = steps
        self.downstreams = downstreams
        self.timeout = timeout

    async def form(self, params: ElicitRequestFormParams) -> ElicitResult | ErrorData:
        return await self._through(ElicitRequest(params=params), ElicitResult)

    async def sampling(
        self, context: Any, params: CreateMessageRequestParams
    ) -> CreateMessageResult | ErrorData:
        return await self._through(CreateMessageRequest(params=params), CreateMessageResult)

    async def roots(self, context: Any) -> ListRootsResult | ErrorData:
        return await self._through(ListRootsRequest(), ListRootsResult)

    async def _through(self, request: InputRequest, result_type: type[R]) -> R | ErrorData:
        step = self.steps.owner()
        if step is None:
            return await self._outside_calls(request, result_type)
        item = Pass(request, result_type)
        step.push(item)
        try:
            with anyio.move_on_after(self.timeout):
                await item.answered.wait()
        except anyio.get_cancelled_exc_class():
            item.answer(ErrorData(code=INTERNAL_ERROR, message="withdrawn"))  # goes away in the client too
            raise
        if isinstance(item.result, result_type | ErrorData):
            return item.result
        item.answer(ErrorData(code=INTERNAL_ERROR, message=f"no answer within {self.timeout:g} s"))
        return ErrorData(code=INTERNAL_ERROR, message=f"the client did not answer within {self.timeout:g} s")

    async def _outside_calls(self, request: InputRequest, result_type: type[R]) -> R | ErrorData:
        clients = self.downstreams.handshaken()
        if not clients:
            return ErrorData(code=METHOD_NOT_FOUND, message="no client in front can be asked outside a call")
        session = clients[-1]
        missing = undeclared(session.client_capabilities, request)
        if missing is not None:
            return missing
        try:
            with anyio.fail_after(self.timeout):
                return await session.send_request(request, result_type)
        except MCPError as exc:
            return exc.error
        except TimeoutError:
            return ErrorData(
                code=INTERNAL_ERROR, message=f"the client did not answer within {self.timeout:g} s"
            )
