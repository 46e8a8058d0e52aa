"""Official-SDK clients signed in as a demo user, and a raw JSON-RPC client for odd capabilities."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp_types import ElicitCompleteNotification

from handoff.demo import DEMO_USERS, ScriptedBrowser
from handoff.demo._client import demo_client, signed_in_http


class Notices:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self._changed = anyio.Event()

    async def handler(self, message: object) -> None:
        if isinstance(message, ElicitCompleteNotification):
            self.ids.append(message.params.elicitation_id)
            self._changed.set()
            self._changed = anyio.Event()

    async def wait_for(self, elicitation_id: str, timeout: float = 5) -> bool:
        with anyio.move_on_after(timeout):
            while elicitation_id not in self.ids:
                await self._changed.wait()
        return elicitation_id in self.ids


@asynccontextmanager
async def user_client(
    mcp_url: str, browser: ScriptedBrowser, user: str, *, password: str | None = None, **options: Any
) -> AsyncIterator[tuple[Client, Notices]]:
    notices = Notices()
    http = signed_in_http(mcp_url, browser, user, password or DEMO_USERS[user])
    options.setdefault("elicitation_callback", refuse_elicitation)
    async with demo_client(mcp_url, http, message_handler=notices.handler, **options) as client:
        yield client, notices


async def refuse_elicitation(*_: object) -> Any:
    raise AssertionError("the server sent elicitation/create where -32042 was expected")


class RawClient:
    """Streamable HTTP by hand: declares exactly the capabilities a test wants."""

    def __init__(self, mcp_url: str, http: httpx2.AsyncClient, version: str = "2025-11-25") -> None:
        self.url = mcp_url
        self.http = http
        self.version = version
        self.session: str | None = None
        self.next_id = 1

    async def _post(self, body: dict[str, Any]) -> dict[str, Any] | None:
        headers = {
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
            "mcp-protocol-version": self.version,
        }
        if self.session:
            headers["mcp-session-id"] = self.session
        response = await self.http.post(self.url, content=json.dumps(body), headers=headers)
        response.raise_for_status()
        self.session = response.headers.get("mcp-session-id", self.session)
        if "id" not in body:
            return None
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            for line in response.text.splitlines():
                if line.startswith("data:") and line[5:].strip():
                    message = json.loads(line[5:])
                    if message.get("id") == body["id"]:
                        return dict(message)
            raise AssertionError(f"no response in stream: {response.text[:500]}")
        return dict(response.json())

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        answer = await self._post({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        assert answer is not None
        return answer

    async def initialize(self, capabilities: dict[str, Any]) -> dict[str, Any]:
        answer = await self.request(
            "initialize",
            {
                "protocolVersion": self.version,
                "capabilities": capabilities,
                "clientInfo": {"name": "raw-test-client", "version": "0"},
            },
        )
        await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer


def text_of(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)
