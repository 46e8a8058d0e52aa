"""A deliberately broken MCP server for `handoff check server`, JSON-RPC by hand (both eras).

What it gets wrong, each a check that must FAIL: -32042 (2025-11-25) or an InputRequiredResult
(2026-07-28) sent to clients that did not declare URL mode; an `api_key` in the URL; a page that
shows its form to anyone and sends none of the protective headers; a requestState that is plain
base64 the server never verifies (tampered, other arguments, replayed: all accepted); and an
elicitationId in 2026-07-28. What it gets right: the shapes, https-or-loopback, the retry.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

MODERN = "2026-07-28"
CACHE = {"cacheScope": "private", "ttlMs": 0}
TOOL = {
    "name": "fetch_key",
    "description": "Needs a key, entered in the browser.",
    "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def broken_app(base: str) -> Starlette:
    done: set[str] = set()

    def link(step: str) -> str:
        return f"{base}/step/{step}?api_key=k-{step}"

    def call(params: dict[str, Any], era: str) -> dict[str, Any]:
        step = f"{era}-step"
        if era != MODERN:
            if step in done:
                return {"result": {"content": [{"type": "text", "text": "ran"}]}}
            entry = {"mode": "url", "elicitationId": step, "url": link(step), "message": "Enter your key."}
            return {
                "error": {
                    "code": -32042,
                    "message": "URL elicitation required",
                    "data": {"elicitations": [entry]},
                }
            }
        if params.get("requestState") is not None:  # never verified: only whether the step is done
            if step in done:
                return {"result": {"resultType": "complete", "content": [{"type": "text", "text": "ran"}]}}
            return {"result": {"resultType": "input_required", "requestState": params["requestState"]}}
        request = {
            "method": "elicitation/create",
            "params": {"mode": "url", "message": "Enter your key.", "url": link(step), "elicitationId": step},
        }
        state = base64.urlsafe_b64encode(json.dumps({"step": step}).encode()).decode()
        return {
            "result": {
                "resultType": "input_required",
                "inputRequests": {"key": request},
                "requestState": state,
            }
        }

    async def mcp(request: Request) -> Response:
        if request.method == "GET":
            return Response(status_code=405)
        if request.method == "DELETE":
            return Response(status_code=200)
        body = await request.json()
        if "id" not in body:
            return Response(status_code=202)
        method, params = body["method"], body.get("params") or {}
        era = (params.get("_meta") or {}).get("io.modelcontextprotocol/protocolVersion", "2025-11-25")
        headers: dict[str, str] = {}
        answer: dict[str, Any]
        if method == "initialize":
            headers["mcp-session-id"] = uuid.uuid4().hex
            answer = {
                "result": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "broken", "version": "0"},
                }
            }
        elif method == "server/discover":
            answer = {
                "result": {
                    "resultType": "complete",
                    "supportedVersions": [MODERN],
                    "capabilities": {"tools": {}},
                    **CACHE,
                }
            }
        elif method == "tools/list":
            answer = {"result": {"resultType": "complete", "tools": [TOOL], **CACHE}}
        elif method == "tools/call":
            answer = call(params, era)
        else:
            answer = {"error": {"code": -32601, "message": f"no method {method}"}}
        return JSONResponse({"jsonrpc": "2.0", "id": body["id"], **answer}, headers=headers)

    async def step(request: Request) -> Response:
        step = request.path_params["step"]
        if request.method == "POST":
            done.add(step)
            return HTMLResponse("<h1>Saved</h1>")
        return HTMLResponse(
            f'<h1>Your key</h1><form method="post" action="/step/{step}"><input name="key">'
            '<button type="submit">Save</button></form>'
        )

    return Starlette(
        routes=[
            Route("/mcp", mcp, methods=["GET", "POST", "DELETE"]),
            Route("/step/{step}", step, methods=["GET", "POST"]),
        ]
    )
