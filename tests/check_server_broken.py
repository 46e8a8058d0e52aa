"""A deliberately broken MCP server for `handoff check server`, JSON-RPC by hand (both eras).

What it gets wrong, each a check that must FAIL: -32042 (2025-11-25) or an InputRequiredResult
(2026-07-28) sent to clients that did not declare URL mode; an `api_key` in the URL; a page that
shows its form to anyone and sends none of the protective headers; a requestState that is plain
base64 the server never verifies (tampered, other arguments, replayed: all accepted); and an
elicitationId in 2026-07-28. What it gets right: the shapes, https-or-loopback, the retry.

`python check_server_broken.py --stdio` serves the same MCP side over stdin/stdout, the pages on a
loopback port of its own (each process its own, so it runs twice side by side). With
$BROKEN_SHARED (a directory) its processes share what was completed there and each tells its own
client: a completion notice reaches every session, not only the one that started the step.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import uvicorn
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
    "annotations": {"readOnlyHint": True},
}


def broken_app(base: str, *, bare_visit: bool = False) -> Starlette:
    """The broken server's app; with `bare_visit`, its link is pre-authenticated: opening it (no
    sign-in, nothing pressed) completes the step."""
    app, _ = broken(base, bare_visit=bare_visit)
    return app


Respond = Callable[[dict[str, Any]], tuple[dict[str, Any] | None, dict[str, str]]]


def broken(
    base: str, completed: Callable[[str], None] = lambda _step: None, *, bare_visit: bool = False
) -> tuple[Starlette, Respond]:
    """The pages app, and the MCP side as a function of one JSON-RPC message (its answer, or None for
    a notification, and the HTTP headers to send with it)."""
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

    def respond(body: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
        if "id" not in body:
            return None, {}
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
        return {"jsonrpc": "2.0", "id": body["id"], **answer}, headers

    async def mcp(request: Request) -> Response:
        if request.method == "GET":
            return Response(status_code=405)
        if request.method == "DELETE":
            return Response(status_code=200)
        answer, headers = respond(await request.json())
        if answer is None:
            return Response(status_code=202)
        return JSONResponse(answer, headers=headers)

    async def step(request: Request) -> Response:
        step = request.path_params["step"]
        if request.method == "POST" or bare_visit:
            done.add(step)
            completed(step)
            return HTMLResponse("<h1>Saved</h1>")
        return HTMLResponse(
            f'<h1>Your key</h1><form method="post" action="/step/{step}"><input name="key">'
            '<button type="submit">Save</button></form>'
        )

    app = Starlette(
        routes=[
            Route("/mcp", mcp, methods=["GET", "POST", "DELETE"]),
            Route("/step/{step}", step, methods=["GET", "POST"]),
        ]
    )
    return app, respond


async def serve_stdio() -> None:
    """The MCP side on stdin/stdout (one JSON-RPC message a line), the pages on a loopback port."""
    shared = Path(os.environ["BROKEN_SHARED"]) / "completed" if os.environ.get("BROKEN_SHARED") else None

    def write(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    def completed(step: str) -> None:
        if shared is not None:
            with shared.open("a") as out:
                out.write(step + "\n")

    async def tell_everyone() -> None:  # the bug: every process tells its client of every completion
        told = 0
        while shared is not None:
            steps = shared.read_text().split() if shared.exists() else []
            for step in steps[told:]:
                write(
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/elicitation/complete",
                        "params": {"elicitationId": step},
                    }
                )
            told = len(steps)
            await anyio.sleep(0.05)

    pages_socket = socket.socket()
    pages_socket.bind(("127.0.0.1", 0))
    app, respond = broken(f"http://127.0.0.1:{pages_socket.getsockname()[1]}", completed)
    web = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(web.serve, [pages_socket])
        tg.start_soon(tell_everyone)
        async for line in anyio.wrap_file(sys.stdin):
            if line.strip():
                answer, _ = respond(json.loads(line))
                if answer is not None:
                    write(answer)
        tg.cancel_scope.cancel()


if __name__ == "__main__" and sys.argv[1:] == ["--stdio"]:
    anyio.run(serve_stdio)
