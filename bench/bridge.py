"""The bridge's figures: a plain tool call through `handoff bridge` ÷ the same call made directly,
and the browser's completion → the result at the client in front, against the same completion
straight to a `HandoffClient` (what the bridge itself runs upstream), in both eras.

Direct: a `HandoffClient` on loopback HTTP to the benchmark server. Through the bridge: the official
`mcp` client on stdio to `handoff bridge URL`, which makes the same call with the same sign-in.
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp_types import ElicitResult

from handoff.client import Elicitations, FileTokens, HandoffClient, PolicyConsent, SignIn
from handoff.demo import DEMO_USERS, ScriptedBrowser

TESTS = Path(__file__).parent.parent / "tests"
KEY = "wk_bench_1234567890"
BATCH = 4
"""Timed flows per bridge process: with its first, untimed, the 5 links it asks about in a minute."""
SETTLE = 0.05
"""Seconds between a link being accepted and the browser's POST (not timed), so that the
client tracks the step before it completes."""


def summary_of(samples: list[float]) -> dict[str, float]:
    from run import summary

    return summary(samples)


def show(name: str, s: dict[str, float]) -> None:
    from run import show as shown

    shown(name, s)


class Person:
    """Finishes each page it is given, in a browser signed in as alice, timing the saving POST."""

    def __init__(self, origin: str) -> None:
        self.browser = ScriptedBrowser(origin, person=("alice", DEMO_USERS["alice"]))
        self.posted: list[float] = []

    async def finish(self, url: str) -> None:
        await anyio.sleep(SETTLE)
        page = await self.browser.open(url)
        if "/login" in page.url:
            page = await self.browser.sign_in(page, "alice", DEMO_USERS["alice"])
        self.posted.append(time.perf_counter())
        await self.browser.submit(page, {"value": KEY, "action": "save"})


def bridge(url: str, tokens: Path, era: str) -> StdioServerParameters:
    """`handoff bridge URL`, signing in once through the tests' browser stand-in (tokens kept in
    `tokens`), speaking `era` upstream."""
    protocol = "legacy" if era == "legacy" else "2026-07-28"
    env = {
        **os.environ,
        "BROWSER": f"{shlex.quote(sys.executable)} {TESTS / 'fake_browser.py'} %s",
        "FAKE_LOG": os.devnull,
        "HANDOFF_TOKENS": str(tokens),
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [sys.executable, "-m", "handoff.cli", "bridge", "--protocol", protocol, url]
    quiet = f"exec {shlex.join(argv)} 2>/dev/null"  # its log lines would drown the figures
    return StdioServerParameters(command="sh", args=["-c", quiet], env=env)


async def completion(call: Callable[[], Awaitable[Any]], person: Person) -> float:
    """One flow (the key forgotten before): the call, the person finishing when the link is given;
    seconds from the saving POST to the call's result."""
    result = await call()
    assert not result.is_error, result
    return time.perf_counter() - person.posted[-1]


async def bench_bridge(server: Any, rounds: int = 400, flows: int = 40) -> dict[str, object]:
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        tokens = Path(folder) / "tokens.json"
        for era in ("legacy", "2026-07-28"):
            person = Person(server.url)
            async with person.browser:
                results[era] = await _one_era(server, tokens, era, person, rounds, flows)
    return results


async def _one_era(
    server: Any, tokens: Path, era: str, person: Person, rounds: int, flows: int
) -> dict[str, object]:
    async def opener(url: str) -> None:
        tasks.start_soon(person.finish, url)

    async def link_given(context: Any, params: Any) -> ElicitResult:
        tasks.start_soon(person.finish, params.url)
        return ElicitResult(action="accept")

    mode = "legacy" if era == "legacy" else "2026-07-28"
    async with anyio.create_task_group() as tasks:
        bridged = Client(bridge(server.mcp_url, tokens, era), mode=mode, elicitation_callback=link_given)
        async with bridged:  # signs in upstream (the first era), so the direct client has the token
            elicitations = Elicitations(PolicyConsent("ok"), opener=opener, max_prompts=1_000_000)
            direct = HandoffClient(
                server.mcp_url, auth=SignIn(FileTokens(tokens)), elicitations=elicitations, mode=mode
            )
            async with direct:
                plain = {"direct": direct, "bridge": bridged}
                samples: dict[str, list[float]] = {"direct": [], "bridge": []}
                for _ in range(30):  # warm up both paths
                    for client in plain.values():
                        await client.call_tool("forecast_plain", {"city": "x"})
                for i in range(rounds):  # interleaved, alternating order, so drift hits both alike
                    order = ["direct", "bridge"] if i % 2 else ["bridge", "direct"]
                    for name in order:
                        t = time.perf_counter()
                        result = await plain[name].call_tool("forecast_plain", {"city": "x"})
                        samples[name].append(time.perf_counter() - t)
                        assert not result.is_error
                done: dict[str, list[float]] = {"direct": [], "bridge": []}
                for batch in range(flows // BATCH):
                    # a bridge prompts at most 5 links a minute: a fresh one for each batch of flows
                    fresh = Client(
                        bridge(server.mcp_url, tokens, era), mode=mode, elicitation_callback=link_given
                    )
                    async with fresh:
                        await direct.call_tool("bench_forget", {})  # its first flow warms it up, untimed
                        await completion(lambda: fresh.call_tool("forecast", {"city": "x"}), person)  # noqa: B023
                        for i in range(BATCH):
                            order = [direct, fresh] if (batch + i) % 2 else [fresh, direct]
                            for client in order:
                                await direct.call_tool("bench_forget", {})

                                async def call(client: Any = client) -> Any:
                                    return await client.call_tool("forecast", {"city": "x"})

                                took = await completion(call, person)
                                done["direct" if client is direct else "bridge"].append(took)
        tasks.cancel_scope.cancel()

    d, b = summary_of(samples["direct"]), summary_of(samples["bridge"])
    cd, cb = summary_of(done["direct"]), summary_of(done["bridge"])
    label = "2025-11-25" if era == "legacy" else era
    print(f"through the bridge vs direct ({label}, loopback HTTP upstream, stdio in front):")
    show("plain call, direct", d)
    show("plain call, through the bridge", b)
    ratio = b["median_ms"] / d["median_ms"]
    print(f"  ratio of medians: {ratio:.3f}  (target ≤ 1.10)")
    show("completion → result, direct", cd)
    show("completion → result, bridge", cb)
    extra = cb["p99_ms"] - cd["p99_ms"]
    print(f"  p99 above direct: {extra:+.2f} ms  (target ≤ +20 ms)")
    return {"plain_direct": d, "plain_bridge": b, "ratio": ratio, "done_direct": cd, "done_bridge": cb}
