"""Held waits are counted against file descriptors: past the capacity they are refused at once,
the pages stay open, and the descriptor limit is raised at startup."""

from __future__ import annotations

import logging
import resource
import subprocess
import sys
import textwrap

import anyio
import pytest
from _mcp import text_of, user_client
from mcp_types import ElicitResult, InputRequiredResult

from handoff import Busy
from handoff._capacity import Holds, hold_capacity, reserve

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"


async def test_holds_refuse_past_capacity_and_take_again_once_released(caplog):
    holds = Holds(capacity=2)
    async with holds.hold(), holds.hold():
        assert holds.held == 2
        with caplog.at_level(logging.WARNING, "handoff"):
            for _ in range(3):
                with pytest.raises(Busy, match="try again"):
                    async with holds.hold():
                        pass
        assert holds.refused == 3
        assert len([r for r in caplog.records if "busy" in r.message]) == 1  # once a minute at most
    assert holds.held == 0
    async with holds.hold():
        assert holds.held == 1


def test_capacity_keeps_a_reserve_for_pages():
    assert reserve(256) == 64 and hold_capacity(256) == 192
    assert reserve(1024) == 102 and hold_capacity(1024) == 922
    assert hold_capacity(40) == 0


def test_the_soft_limit_is_raised_to_the_hard_limit_at_startup():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard descriptor limit ({hard}) leaves nothing to raise")

    def low() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    script = textwrap.dedent(
        """
        import resource
        from handoff._capacity import raise_descriptor_limit
        before = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        print(before, raise_descriptor_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], preexec_fn=low, capture_output=True, text=True, check=True
    ).stdout
    before, reported, after = (int(n) for n in out.split())
    expected = 65_536 if hard == resource.RLIM_INFINITY else hard
    assert before == 256 and reported == after == expected


async def _first_round(client, city: str):
    result = await client.session.call_tool("forecast", {"city": city}, allow_input_required=True)
    assert isinstance(result, InputRequiredResult), result
    return result


async def _retry(client, first: InputRequiredResult, city: str):
    return await client.session.call_tool(
        "forecast",
        {"city": city},
        input_responses={"weather_api_key": ElicitResult(action="accept")},
        request_state=first.request_state,
        allow_input_required=True,
    )


async def test_past_capacity_a_retry_is_answered_at_once_and_an_in_call_wait_says_busy(running, browsers):
    holds = running.demo.handoff.holds
    holds.capacity = 2
    browser = browsers()
    results: dict[str, object] = {}

    async with user_client(running.mcp_url, browser, "alice", mode=MODERN) as (client, _):
        first = await _first_round(client, "Tromsø")
        (request,) = first.input_requests.values()  # type: ignore[union-attr]
        url = request.params.url  # type: ignore[union-attr]

        async def held(city: str) -> None:  # each from its own client
            async with user_client(running.mcp_url, browsers(), "alice", mode=MODERN) as (other, _):
                results[city] = await _retry(other, await _first_round(other, city), city)

        async with anyio.create_task_group() as tg:
            tg.start_soon(held, "Oslo")
            tg.start_soon(held, "Bergen")
            for _ in range(250):  # both retries reach the server and are held
                if holds.held == 2:
                    break
                await anyio.sleep(0.02)
            assert holds.held == 2

            with anyio.fail_after(3):  # not held for retry_wait: answered at once
                third = await _retry(client, first, "Tromsø")
            assert isinstance(third, InputRequiredResult)
            assert third.input_requests is None and third.request_state not in (
                None,
                first.request_state,
            )

            async def accept(context, params):
                return ElicitResult(action="accept")

            async with user_client(running.mcp_url, browsers(), "alice", elicitation_callback=accept) as (
                legacy,
                _,
            ):
                with anyio.fail_after(5):
                    busy = await legacy.call_tool("list_notes", {})
            assert busy.is_error and "too busy" in text_of(busy)
            assert "Finish in the browser" in text_of(busy) and "call the tool again" in text_of(busy)

            page = await browser.open(url)  # the pages stay open while the holds are full
            done = await browser.submit(page, {"value": "wk_CapacitySecretValue", "action": "save"})
            assert not isinstance(done, str) and done.title == "Saved"
        assert holds.held == 0 and holds.refused == 2
        for city in ("Oslo", "Bergen"):
            assert city in text_of(results[city])
