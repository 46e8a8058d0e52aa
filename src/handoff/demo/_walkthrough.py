"""`handoff demo --walkthrough`: the whole story in both protocol eras, each step printed and checked."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import uvicorn
from mcp import MCPError
from mcp_types import (
    INVALID_PARAMS,
    URL_ELICITATION_REQUIRED,
    ElicitCompleteNotification,
    ElicitResult,
    InputRequiredResult,
)

from ._browser import ScriptedBrowser
from ._client import demo_client, signed_in_http
from ._server import DEMO_USERS, Demo, build_demo

KEY = "wk_demo_1234567890"


class StepFailed(Exception):
    pass


class Story:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.n = 0

    def chapter(self, title: str) -> None:
        self.say(f"\n== {title} ==")
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
    """Run both stories against a fresh demo server on 127.0.0.1:`port`; True when every step held."""
    story = Story(say)
    for name in ("httpx2", "httpx", "mcp", "handoff", "uvicorn"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="handoff-walkthrough-") as data:
        demo = build_demo(f"http://127.0.0.1:{port}", data)
        config = uvicorn.Config(
            demo.app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
        )
        server = uvicorn.Server(config)
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve)
            while not server.started:  # noqa: ASYNC110 - uvicorn only exposes a flag
                await anyio.sleep(0.02)
            try:
                story.chapter("Protocol 2025-11-25: error -32042, then the completion notice")
                await _legacy_story(story, demo)
                await demo.handoff.vault.delete("alice", "weather_api_key")
                story.chapter("Protocol 2026-07-28: InputRequiredResult, then a retry the server wakes")
                say("(Alice's key was removed, so this story starts from scratch.)")
                await _modern_story(story, demo)
                story.chapter("A third-party connection: OAuth with PKCE, the token stays on the server")
                await _connection_story(story, demo)
                story.chapter("An approval: exactly these details, once")
                await _approval_story(story, demo)
                say("\nEvery step held. No key, token or approval passed through the MCP client.")
                held = True
            except StepFailed as failed:
                say(f"   ✗ {failed}")
                say("\nThe walkthrough stopped: the step above did not go as expected.")
                held = False
            finally:
                server.should_exit = True
    return held


async def _legacy_story(story: Story, demo: Demo) -> None:
    notices: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, ElicitCompleteNotification):
            notices.append(message.params.elicitation_id)
            arrived.set()

    async def no_request(*_: object) -> Any:
        raise StepFailed("the server sent an elicitation request although it should answer with -32042")

    async with ScriptedBrowser(demo.public_url) as alice, ScriptedBrowser(demo.public_url) as bob:
        story.step("Alice's MCP client signs in to the demo server (OAuth, in Alice's browser)")
        http = signed_in_http(demo.mcp_url, alice, "alice", DEMO_USERS["alice"])
        async with demo_client(
            demo.mcp_url, http, mode="legacy", message_handler=on_message, elicitation_callback=no_request
        ) as client:
            who = _text(await client.call_tool("whoami", {}))
            story.check("alice" in who, f"server says: {who}", f"whoami answered {who!r}")

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

            await _bob_is_refused(story, demo, bob, url)
            await _alice_enters_her_key(story, alice, url, "(still signed in from the OAuth step)")

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
            await _audit(story, demo, eid)


async def _modern_story(story: Story, demo: Demo) -> None:
    async with ScriptedBrowser(demo.public_url) as alice, ScriptedBrowser(demo.public_url) as bob:
        story.step("Alice's MCP client signs in and speaks 2026-07-28")
        http = signed_in_http(demo.mcp_url, alice, "alice", DEMO_USERS["alice"])
        async with demo_client(demo.mcp_url, http, mode="2026-07-28", elicitation_callback=_accept) as client:
            who = _text(await client.call_tool("whoami", {}))
            story.check("alice" in who, f"server says: {who}", f"whoami answered {who!r}")

            story.step("The client calls `forecast`")
            first = await client.session.call_tool("forecast", {"city": "Porto"}, allow_input_required=True)
            if not isinstance(first, InputRequiredResult) or not first.input_requests:
                raise StepFailed(f"expected an InputRequiredResult, got {first!r}")
            (key, request), *_ = first.input_requests.items()
            params = request.model_dump(by_alias=True, exclude_none=True).get("params", {})
            story.check(
                params.get("mode") == "url" and "elicitationId" not in params,
                "InputRequiredResult with one elicitation/create in url mode (no elicitationId)",
                f"unexpected input request {params}",
            )
            story.check(
                bool(first.request_state), "and a sealed requestState the client must echo", "no requestState"
            )
            url = params["url"]
            story.ok(f"the client is asked to open {url}")

            await _bob_is_refused(story, demo, bob, url)

            story.step(
                "The client retries with the user's consent and the exact requestState; the server waits"
            )
            finished: list[tuple[float, Any]] = []

            async def retry() -> None:
                answer = await client.session.call_tool(
                    "forecast",
                    {"city": "Porto"},
                    input_responses={key: _ACCEPT},
                    request_state=first.request_state,
                    allow_input_required=True,
                )
                finished.append((time.perf_counter(), answer))

            async with anyio.create_task_group() as tg:
                tg.start_soon(retry)
                await anyio.sleep(0.3)
                story.check(not finished, "the retry is held open, no polling", "the retry returned at once")
                done_at = await _alice_enters_her_key(story, alice, url, "")
            returned_at, answer = finished[0]
            story.step("The held retry wakes up and the tool runs")
            story.check(
                not isinstance(answer, InputRequiredResult) and "Porto" in _text(answer),
                f"{_text(answer)} ({(returned_at - done_at) * 1000:.1f} ms after the key was saved)",
                f"retry answered {answer!r}",
            )

            story.step("The same requestState cannot be used again")
            try:
                await client.session.call_tool(
                    "forecast",
                    {"city": "Porto"},
                    request_state=first.request_state,
                    allow_input_required=True,
                )
                raise StepFailed("a replayed requestState was accepted")
            except MCPError as error:
                story.check(
                    error.code == INVALID_PARAMS, f"replay refused: {error.message}", f"got {error.code}"
                )


@contextlib.asynccontextmanager
async def _alice(demo: Demo) -> AsyncIterator[tuple[ScriptedBrowser, Any, _Notices]]:
    """Alice's browser and her 2025-era MCP client, signed in, with its completion notices."""
    async with ScriptedBrowser(demo.public_url) as alice:
        http = signed_in_http(demo.mcp_url, alice, "alice", DEMO_USERS["alice"])
        notices = _Notices()
        async with demo_client(
            demo.mcp_url,
            http,
            mode="legacy",
            message_handler=notices.on_message,
            elicitation_callback=_accept,
        ) as client:
            yield alice, client, notices


async def _connection_story(story: Story, demo: Demo) -> None:
    async with _alice(demo) as (alice, client, notices):
        story.step("The client calls `next_meeting`, which needs Alice's Demo Calendar account")
        url, eid = await _needs(client, "next_meeting", {})
        story.ok(f"-32042: the client is asked to open {url}")

        story.step("Alice opens the link and continues to the provider")
        page = await alice.open(url)
        story.check(
            page.title == "Connect Demo Calendar" and "calendar" in page.text,
            f"Alice sees {page.title!r}, with the scope it asks for",
            f"Alice saw {page.title!r}",
        )
        consent = await alice.submit(page, {"action": "continue"})
        if isinstance(consent, str) or "/authorize/" not in consent.url:
            raise StepFailed(f"expected the provider's consent page, got {consent}")
        story.ok("the provider asks Alice to allow Demo Calendar (PKCE S256, single-use state)")
        done = await alice.submit(consent, {"decision": "allow"})
        story.check(
            not isinstance(done, str) and done.title == "Connected",
            "back on the exact callback: the code is exchanged, the tokens go to the vault",
            f"the callback showed {done if isinstance(done, str) else done.title}",
        )

        story.step("The completion notice arrives and the retry uses the connection")
        story.check(await notices.wait(eid), "notice received", "no completion notice")
        result = await client.call_tool("next_meeting", {})
        story.check("design review" in _text(result), _text(result), f"retry failed: {_text(result)!r}")


async def _approval_story(story: Story, demo: Demo) -> None:
    payment = {"amount": "120.00", "currency": "EUR", "payee": "ACME Tools Ltd", "description": "Invoice 114"}
    async with _alice(demo) as (alice, client, notices):
        story.step("The client calls `send_payment`")
        url, eid = await _needs(client, "send_payment", payment)
        story.ok(f"-32042: approval needed at {url}")

        story.step("Alice reviews exactly what will happen and approves")
        page = await alice.open(url)
        story.check(
            all(v in page.text for v in ("120.00 EUR", "ACME Tools Ltd", "Invoice 114")),
            "the page shows amount, currency, payee and description from the record",
            "the approval page does not show the payment's details",
        )
        done = await alice.submit(page, {"action": "approve"})
        story.check(not isinstance(done, str) and done.title == "Approved", "approved", "approval failed")
        story.check(await notices.wait(eid), "notice received", "no completion notice")

        story.step("The retry runs the payment once; the same call again needs a new approval")
        result = await client.call_tool("send_payment", payment)
        story.check(
            _text(result) == "Paid 120.00 EUR to ACME Tools Ltd.",
            _text(result),
            f"retry answered {_text(result)!r}",
        )
        again, _ = await _needs(client, "send_payment", payment)
        story.check(again != url, "the approval was used up", "the approval could be used twice")


class _Notices:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self._changed = anyio.Event()

    async def on_message(self, message: object) -> None:
        if isinstance(message, ElicitCompleteNotification):
            self.ids.append(message.params.elicitation_id)
            self._changed.set()

    async def wait(self, eid: str, timeout: float = 10) -> bool:
        with anyio.move_on_after(timeout):
            while eid not in self.ids:
                self._changed = anyio.Event()
                await self._changed.wait()
        return eid in self.ids


async def _needs(client: Any, tool: str, arguments: dict[str, Any]) -> tuple[str, str]:
    try:
        result = await client.call_tool(tool, arguments)
    except MCPError as error:
        if error.code != URL_ELICITATION_REQUIRED:
            raise StepFailed(f"expected -32042, got {error.code}") from None
        item = error.data["elicitations"][0]
        return str(item["url"]), str(item["elicitationId"])
    raise StepFailed(f"{tool} ran without asking: {_text(result)!r}")


_ACCEPT = ElicitResult(action="accept")


async def _accept(*_: object) -> ElicitResult:
    return _ACCEPT


async def _bob_is_refused(story: Story, demo: Demo, bob: ScriptedBrowser, url: str) -> None:
    story.step("Bob gets hold of the link and opens it while signed in as Bob")
    page = await bob.open(url)
    if "/login" in page.url:
        page = await bob.sign_in(page, "bob", DEMO_USERS["bob"])
    story.check(
        page.status == 403 and "not yours" in page.title.lower(),
        f"Bob is refused: {page.title!r} (HTTP {page.status})",
        f"Bob saw {page.title!r} (HTTP {page.status})",
    )
    record = await demo.handoff.ledger.get(url.rsplit("/", 1)[1])
    story.check(record.pending, "the request is still pending for Alice", f"record is {record.status}")


async def _alice_enters_her_key(story: Story, alice: ScriptedBrowser, url: str, note: str) -> float:
    story.step(f"Alice opens the link {note}and enters her key".replace("  ", " ").replace(")and", ") and"))
    page = await alice.open(url)
    story.check(
        page.status == 200 and page.title == "Weather API key",
        f"Alice sees {page.title!r}",
        f"Alice saw {page.title!r} (HTTP {page.status})",
    )
    bad = await alice.submit(page, {"value": "not-a-key", "action": "save"})
    if isinstance(bad, str) or bad.status != 422:
        raise StepFailed("a malformed key was accepted")
    story.ok("a malformed key is refused by the server's check")
    done = await alice.submit(bad, {"value": KEY, "action": "save"})
    saved_at = time.perf_counter()
    story.check(
        not isinstance(done, str) and done.title == "Saved",
        "the key is stored, encrypted",
        f"saving failed: {done if isinstance(done, str) else done.title}",
    )
    return saved_at


async def _audit(story: Story, demo: Demo, record_id: str) -> None:
    story.step("The audit log tells what happened (never the key)")
    entries = await demo.handoff.audit.read(record_id=record_id)
    for entry in entries:
        story.say(
            f"   {entry.event:<18} {entry.principal or '-':<6} from {entry.remote or '-'}"
            + (f"  ({entry.detail})" if entry.detail else "")
        )
    events = [e.event for e in entries]
    story.check(
        "identity_mismatch" in events and "completed" in events,
        "Bob's attempt and Alice's completion are both on record",
        f"audit had {events}",
    )


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)
