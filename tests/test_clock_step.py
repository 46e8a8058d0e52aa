"""The wall clock stepped back (an NTP correction) under a real server, with libfaketime: what was
sealed or issued before the step still works after it, within the stated tolerance; expiry and single
use stay as strict as ever."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx2
import pytest
from _demo import DemoProcess, clock_shifted
from _mcp import refuse_elicitation, text_of
from _server import free_port
from mcp import MCPError
from mcp_types import INVALID_PARAMS, ElicitResult, InputRequiredResult

from handoff._clock import CLOCK_STEP, issued_in_time
from handoff.demo import DEMO_USERS, ScriptedBrowser
from handoff.demo._client import demo_client, signed_in_http

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
KEY = "wk_ClockStepSecretValue42"
DEMO_TTL = 480  # `handoff demo`'s request lifetime
BACK = -420  # more than the SDK's own minute and the 300 s tokens had before, less than CLOCK_STEP


class Person:
    """alice: her browser, and an MCP client whose token stays the one issued at the start."""

    def __init__(self, origin: str) -> None:
        self.browser = ScriptedBrowser(origin)
        self.refused: list[str] = []  # every 401 the server answered the client

        async def note(response: httpx2.Response) -> None:
            if response.status_code == 401:
                self.refused.append(str(response.request.url))

        self.http = signed_in_http(f"{origin}/mcp", self.browser, "alice", DEMO_USERS["alice"], hooks=[note])

    async def close(self) -> None:
        await self.http.aclose()
        await self.browser.http.aclose()


async def _saved_before_the_step(data: Path, port: int) -> tuple[Person, str]:
    """Sign alice in, start a gated 2026 call, save its value in the browser: the retry's sealed state."""
    server = DemoProcess(data, port)
    person = Person(server.origin)
    try:
        async with demo_client(
            server.mcp_url, person.http, mode=MODERN, elicitation_callback=refuse_elicitation
        ) as client:
            first = await client.session.call_tool("forecast", {"city": "Oslo"}, allow_input_required=True)
            assert isinstance(first, InputRequiredResult) and first.request_state and first.input_requests
            (request,) = first.input_requests.values()
            page = await person.browser.open(request.params.url)  # type: ignore[union-attr]
            done = await person.browser.submit(page, {"value": KEY, "action": "save"})
            assert not isinstance(done, str) and done.title == "Saved"
    except BaseException:
        await person.close()
        raise
    finally:
        server.stop()
    return person, first.request_state


async def _retry(mcp_url: str, person: Person, state: str, *, refused: bool = False):
    """Re-send the call with `state`: its result, or (`refused`) the error it was refused with."""
    async with demo_client(
        mcp_url, person.http, mode=MODERN, elicitation_callback=refuse_elicitation
    ) as client:
        with pytest.raises(MCPError) if refused else contextlib.nullcontext() as caught:
            result = await client.session.call_tool(
                "forecast",
                {"city": "Oslo"},
                input_responses={"weather_api_key": ElicitResult(action="accept")},
                request_state=state,
                allow_input_required=True,
            )
    return caught.value.error if refused else result


async def test_a_retry_and_a_token_from_before_a_step_back_work_after_it_once(tmp_path):
    data, port = tmp_path / "demo", free_port()
    person, state = await _saved_before_the_step(data, port)
    signed_in = len(person.refused)
    server = DemoProcess(data, port, env=clock_shifted(BACK))
    try:
        result = await _retry(server.mcp_url, person, state)
        assert not isinstance(result, InputRequiredResult) and "Forecast for Oslo" in text_of(result)
        assert person.refused[signed_in:] == []  # the token issued before the step was not refused
        replayed = await _retry(server.mcp_url, person, state, refused=True)  # still good for one use only
        assert replayed.code == INVALID_PARAMS
    finally:
        server.stop()
        await person.close()


@pytest.mark.parametrize(
    "shift",
    [DEMO_TTL + 120, -(int(CLOCK_STEP) + 300)],
    ids=["past-its-expiry", "stepped-back-beyond-the-tolerance"],
)
async def test_a_state_outside_its_time_is_still_refused(tmp_path, shift):
    data, port = tmp_path / "demo", free_port()
    person, state = await _saved_before_the_step(data, port)
    server = DemoProcess(data, port, env=clock_shifted(shift))
    try:
        refused = await _retry(server.mcp_url, person, state, refused=True)
        assert refused.code == INVALID_PARAMS and refused.message == "Invalid or expired requestState"
    finally:
        server.stop()
        await person.close()


def test_the_tolerance_is_bounded_and_refuses_what_is_not_a_time():
    now = 1_800_000_000.0
    assert issued_in_time(now + CLOCK_STEP, now) and issued_in_time(now - 86400, now)
    assert not issued_in_time(now + CLOCK_STEP + 1, now)
    for odd in (float("nan"), float("inf"), "1", None, True):
        assert not issued_in_time(odd, now)


def test_the_security_notes_state_the_tolerance():
    notes = (Path(__file__).parents[1] / "docs" / "security.md").read_text()
    assert f"up to {int(CLOCK_STEP)} s (`CLOCK_STEP`" in notes
