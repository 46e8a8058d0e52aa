"""`handoff demo --walkthrough`: the whole story, scripted, each step printed and checked."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from typing import Any

import anyio
import uvicorn
from mcp import MCPError
from mcp_types import URL_ELICITATION_REQUIRED, ElicitCompleteNotification

from ._browser import ScriptedBrowser
from ._client import demo_client, signed_in_http
from ._server import DEMO_USERS, build_demo


class StepFailed(Exception):
    pass


class Story:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.n = 0

    def step(self, text: str) -> None:
        self.n += 1
        self.say(f"\n{self.n}. {text}")

    def ok(self, text: str) -> None:
        self.say(f"   ✓ {text}")

    def check(self, condition: bool, text: str, failure: str) -> None:
        if not condition:
            raise StepFailed(failure)
        self.ok(text)


async def walkthrough(port: int, say: Callable[[str], None] = print) -> bool:
    """Run the story against a fresh demo server on 127.0.0.1:`port`; True when every step held."""
    story = Story(say)
    for name in ("httpx2", "httpx", "mcp", "handoff", "uvicorn"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="handoff-walkthrough-") as data:
        demo = build_demo(f"http://127.0.0.1:{port}", data)
        server = uvicorn.Server(uvicorn.Config(demo.app, host="127.0.0.1", port=port, log_level="warning"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve)
            while not server.started:  # noqa: ASYNC110 - uvicorn only exposes a flag
                await anyio.sleep(0.02)
            try:
                await _story(story, demo.public_url, demo.mcp_url, demo)
                say("\nEvery step held. The key never passed through the MCP client.")
                held = True
            except StepFailed as failed:
                say(f"   ✗ {failed}")
                say("\nThe walkthrough stopped: the step above did not go as expected.")
                held = False
            finally:
                server.should_exit = True
    return held


async def _story(story: Story, origin: str, mcp_url: str, demo: Any) -> None:
    notices: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, ElicitCompleteNotification):
            notices.append(message.params.elicitation_id)
            arrived.set()

    async def no_form(*_: object) -> Any:
        raise StepFailed("the server sent an elicitation request although it should answer with -32042")

    async with ScriptedBrowser(origin) as alice, ScriptedBrowser(origin) as bob:
        story.step("Alice's MCP client signs in to the demo server (OAuth, in Alice's browser)")
        http = signed_in_http(mcp_url, alice, "alice", DEMO_USERS["alice"])
        async with demo_client(
            mcp_url, http, message_handler=on_message, elicitation_callback=no_form
        ) as client:
            who = await client.call_tool("whoami", {})
            story.check(
                "alice" in _text(who), f"server says: {_text(who)}", f"whoami answered {_text(who)!r}"
            )

            story.step("The client calls `forecast`, which needs Alice's weather API key")
            try:
                result = await client.call_tool("forecast", {"city": "Lisbon"})
                raise StepFailed(f"the tool ran without a key: {_text(result)!r}")
            except MCPError as error:
                story.check(
                    error.code == URL_ELICITATION_REQUIRED,
                    f"error {error.code}: {error.message}",
                    f"expected error -32042, got {error.code}",
                )
                elicitation = error.data["elicitations"][0]
            url, eid = elicitation["url"], elicitation["elicitationId"]
            story.ok(f"the client is asked to open {url}")
            story.check(
                eid in url and "alice" not in url,
                "the URL carries only an unguessable id",
                "the URL carries more than the id",
            )

            story.step("Bob gets hold of the link and opens it while signed in as Bob")
            page = await bob.open(url)
            if "/login" in page.url:
                page = await bob.sign_in(page, "bob", DEMO_USERS["bob"])
            story.check(
                page.status == 403 and "not yours" in page.title.lower(),
                f"Bob is refused: {page.title!r} (HTTP {page.status})",
                f"Bob saw {page.title!r} (HTTP {page.status})",
            )
            record = await demo.handoff.ledger.get(eid)
            story.check(
                record.pending, "the request is still pending for Alice", f"record is {record.status}"
            )

            story.step("Alice opens the link (still signed in from the OAuth step) and enters her key")
            page = await alice.open(url)
            story.check(
                page.status == 200 and page.title == "Weather API key",
                f"Alice sees {page.title!r}",
                f"Alice saw {page.title!r} (HTTP {page.status})",
            )
            bad = await alice.submit(page, {"value": "not-a-key", "action": "save"})
            story.check(
                not isinstance(bad, str) and bad.status == 422,
                "a malformed key is refused by the server's check",
                "a malformed key was accepted",
            )
            assert not isinstance(bad, str)
            done = await alice.submit(bad, {"value": "wk_demo_1234567890", "action": "save"})
            story.check(
                not isinstance(done, str) and done.title == "Saved",
                "the key is stored, encrypted",
                f"saving failed: {done if isinstance(done, str) else done.title}",
            )

            story.step("The client learns that the elicitation is complete")
            with anyio.move_on_after(10):
                await arrived.wait()
            story.check(
                notices == [eid],
                "notifications/elicitation/complete arrived for that id",
                f"notices received: {notices}",
            )

            story.step("The client retries the original call")
            result = await client.call_tool("forecast", {"city": "Lisbon"})
            story.check(
                not result.is_error and "Lisbon" in _text(result),
                _text(result),
                f"retry failed: {_text(result)!r}",
            )

            story.step("The audit log tells what happened (never the key)")
            for entry in await demo.handoff.audit.read(record_id=eid):
                story.say(
                    f"   {entry.event:<18} {entry.principal or '-':<6} from {entry.remote or '-'}"
                    + (f"  ({entry.detail})" if entry.detail else "")
                )
            events = [e.event for e in await demo.handoff.audit.read(record_id=eid)]
            story.check(
                "identity_mismatch" in events and "completed" in events,
                "Bob's attempt and Alice's completion are both on record",
                f"audit had {events}",
            )


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)
