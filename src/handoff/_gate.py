"""The gate: wraps a tool so it runs only when what it needs is there, and hands it the values."""

from __future__ import annotations

import contextvars
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from mcp.shared.exceptions import MCPError

from ._errors import StorageUnavailable
from ._need import Invocation
from .eras import Call, era_for
from .frameworks import Refusal, ToolRequest, context_annotation, context_parameter, request_of

if TYPE_CHECKING:
    from ._handoff import Handoff
    from ._need import Delivery, Need

F = TypeVar("F", bound=Callable[..., Any])

_CTX = "handoff_ctx"
_values: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "handoff_secrets", default=MappingProxyType({})
)


class Secrets:
    """Access to the values the gate fetched for the running tool call."""

    @staticmethod
    def current(ref: str, decorator: str) -> Any:
        values = _values.get()
        if ref not in values:
            kind, name = ref.split(":", 1)
            raise LookupError(
                f"{kind} {name!r} is not available here: read it inside a tool decorated with "
                f"@handoff.{decorator}({name!r}, ...)"
            )
        return values[ref]


def gate(handoff: Handoff, need: Need, delivery: Delivery) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        needs: tuple[Need, ...] = (need, *getattr(fn, "__handoff_needs__", ()))
        body: Callable[..., Any] = getattr(fn, "__handoff_body__", fn)
        signature = inspect.signature(body, eval_str=True)
        hints = typing.get_type_hints(body, include_extras=True)
        ctx_name = context_parameter(body)
        parameters = list(signature.parameters.values())
        if ctx_name is None:
            # A parameter of the gate's own, injected by the framework and absent from the tool's schema.
            annotation = context_annotation()
            parameters.append(inspect.Parameter(_CTX, inspect.Parameter.KEYWORD_ONLY, annotation=annotation))
            hints = {**hints, _CTX: annotation}

        @functools.wraps(body)
        async def gated(*args: Any, **kwargs: Any) -> Any:
            request = request_of(kwargs.pop(_CTX) if ctx_name is None else kwargs[ctx_name])
            try:
                try:
                    values = await fetch(handoff, request, body.__name__, needs, delivery)
                except StorageUnavailable:
                    await handoff.note_storage_failure(detail=f"tool {body.__name__}")
                    raise Refusal(StorageUnavailable.PERSON) from None
            except Refusal as refusal:
                raise request.framework.tool_error(refusal) from None
            except MCPError as answer:
                raise request.framework.answer(answer) from None
            if not isinstance(values, dict):
                return values  # the era's answer for "not yet" (an InputRequiredResult)
            token = _values.set({**_values.get(), **values})
            try:
                result = body(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
                return result
            finally:
                _values.reset(token)

        gated.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        gated.__annotations__ = hints
        gated.__handoff_needs__ = needs  # type: ignore[attr-defined]
        gated.__handoff_body__ = body  # type: ignore[attr-defined]
        return typing.cast(F, gated)

    return decorate


async def fetch(
    handoff: Handoff, request: ToolRequest, fallback_name: str, needs: tuple[Need, ...], delivery: Delivery
) -> dict[str, Any] | Any:
    """Every need's value for the verified caller, or the era's early answer while some are missing."""
    principal = handoff.mcp_identity.principal(request.context)
    if principal is None:
        raise Refusal(
            "This tool needs to know who you are, but the connection carries no verified user. "
            "Connect with an access token from this server's sign-in."
        )
    params = request.params
    tool = str(params.get("name") or fallback_name)
    invocation = Invocation(request.server, tool, params.get("arguments") or {})
    values: dict[str, Any] = {}
    missing: list[Need] = []
    for need in needs:
        value = await need.peek(handoff, principal, invocation)
        if value is None:
            missing.append(need)
        elif not need.single_use:
            values[need.ref] = value
    if missing or params.get("requestState") is not None:
        call = Call(
            handoff=handoff,
            request=request,
            principal=principal,
            client_id=handoff.mcp_identity.client_id(request.context),
            invocation=invocation,
            delivery=delivery,
        )
        # A retry's state is verified (and consumed) even when nothing is missing any more.
        answer = await era_for(call).obtain(call, missing)
        if answer is not None:
            return answer
    for need in needs:
        if need.ref in values:
            continue
        value = await need.take(handoff, principal, invocation)
        if value is None:
            raise Refusal(
                f"{need.label} is not there yet (or was already used). "
                "Finish in the browser, then call the tool again."
            )
        values[need.ref] = value
    return values
