"""Is a JSON-RPC message what the MCP schema says? Checked with `mcp_types`' per-version models.

The spec's schema.json is published by no package registry, and may not be copied here; `mcp_types`
ships models generated from it for each version (`_v2025_11_25`, `_v2026_07_28`). They are used
strictly: required fields present, no type coerced (pydantic strict mode), and no field the schema
does not name (its objects are open for extensions, so a misspelt optional field would pass it
silently; the scripted servers send no extension fields, so any unnamed one is a mistake).
"""

from __future__ import annotations

from typing import Any

import mcp_types._v2025_11_25 as v2025
import mcp_types._v2026_07_28 as v2026
from pydantic import BaseModel, ValidationError

LEGACY, MODERN = "2025-11-25", "2026-07-28"

RESULTS: dict[str, dict[str, type[BaseModel]]] = {
    LEGACY: {
        "initialize": v2025.InitializeResult,
        "tools/list": v2025.ListToolsResult,
        "tools/call": v2025.CallToolResult,
        "ping": v2025.Result,
    },
    MODERN: {
        "server/discover": v2026.DiscoverResult,
        "tools/list": v2026.ListToolsResult,
        "tools/call": v2026.CallToolResult,
    },
}
ERRORS: dict[str, dict[int, type[BaseModel]]] = {
    LEGACY: {-32042: v2025.URLElicitationRequiredError},
    MODERN: {
        -32022: v2026.UnsupportedProtocolVersionError,
        -32601: v2026.MethodNotFoundError,
        -32602: v2026.InvalidParamsError,
        -32600: v2026.InvalidRequestError,
        -32700: v2026.ParseError,
    },
}
REQUESTS: dict[str, dict[str, type[BaseModel]]] = {
    LEGACY: {"elicitation/create": v2025.ElicitRequest},
    MODERN: {},
}
NOTIFICATIONS: dict[str, dict[str, type[BaseModel]]] = {
    LEGACY: {"notifications/elicitation/complete": v2025.ElicitationCompleteNotification},
    MODERN: {},
}


def kind(message: dict[str, Any], answers: str | None) -> str:
    """What the message is: `result of tools/call`, `error -32042`, `request elicitation/create`…"""
    if "error" in message:
        return f"error {message['error'].get('code')}"
    if "result" in message:
        result_type = message["result"].get("resultType")
        return f"result of {answers}" + (f" ({result_type})" if result_type else "")
    return f"{'request' if 'id' in message else 'notification'} {message.get('method')}"


def problems(era: str, message: dict[str, Any], answers: str | None) -> list[str]:
    """What is wrong with `message` (sent by a server of `era` in answer to `answers`), if anything."""
    versions = v2025 if era == LEGACY else v2026
    found: list[str] = []
    if "error" in message:
        model = ERRORS[era].get(message["error"].get("code"), versions.JSONRPCErrorResponse)
        found += _check(model, message)
    elif "result" in message:
        stub = {} if era == LEGACY else {"resultType": "complete"}  # the result is checked below
        found += _check(versions.JSONRPCResultResponse, {**message, "result": stub})
        model = RESULTS[era].get(answers or "")
        if model is None:
            found.append(f"no result of {answers!r} exists in {era}")
        elif era == MODERN and answers == "tools/call" and message["result"].get("resultType") != "complete":
            found += _check(v2026.InputRequiredResult, message["result"])
        else:
            found += _check(model, message["result"])
    elif "id" in message:
        model = REQUESTS[era].get(message.get("method", ""))
        if model is None:
            found.append(f"a server does not send {message.get('method')!r} requests in {era}")
        else:
            found += _check(model, message)
    else:
        model = NOTIFICATIONS[era].get(message.get("method", ""))
        if model is None:
            found.append(f"a server does not send {message.get('method')!r} notifications in {era}")
        else:
            found += _check(model, message)
    return found


def _check(model: type[BaseModel], value: dict[str, Any]) -> list[str]:
    try:
        parsed = model.model_validate(value, strict=True)
    except ValidationError as error:
        return [
            f"{model.__name__}: {'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in error.errors()
        ]
    kept = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return [f"{model.__name__}: {path}: a field the schema does not name" for path in _unnamed(value, kept)]


def _unnamed(sent: Any, kept: Any, path: str = "") -> list[str]:
    """Keys of `sent` that the model dropped (it ignores what it does not name)."""
    if isinstance(sent, dict) and isinstance(kept, dict):
        found = [f"{path}{key}" for key in sent if key not in kept]
        for key in sent:
            if key in kept:
                found += _unnamed(sent[key], kept[key], f"{path}{key}.")
        return found
    if isinstance(sent, list) and isinstance(kept, list):
        pairs = enumerate(zip(sent, kept, strict=False))
        return [p for i, (s, k) in pairs for p in _unnamed(s, k, f"{path}{i}.")]
    return []
