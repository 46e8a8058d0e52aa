"""What the client does with the links servers send: one limit however they come, every link told."""

from __future__ import annotations

import json

import pytest
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ElicitRequest, ElicitRequestURLParams, InputRequiredResult

from handoff.client import Considered, Decision, Elicitations, HandoffClient, PolicyConsent

pytestmark = pytest.mark.anyio


# One limit, whatever the shape: here the input requests of one InputRequiredResult (2026-07-28).
# The -32042 and elicitation/create shapes are in test_client.py, against the TypeScript peer.


def many_steps() -> MCPServer:
    server = MCPServer("many-steps", log_level="WARNING")

    @server.tool()
    async def steps(n: int, ctx: Context) -> InputRequiredResult | str:
        """Asks for `n` browser steps in one InputRequiredResult; then says how each was answered."""
        if ctx.input_responses:
            return json.dumps({key: answer.action for key, answer in ctx.input_responses.items()})
        return InputRequiredResult(
            input_requests={
                f"step{i}": ElicitRequest(
                    params=ElicitRequestURLParams(message=f"Step {i}", url=f"https://steps.example/{i}")
                )
                for i in range(n)
            },
            request_state="opaque",
        )

    return server


async def test_one_limit_for_the_input_requests_of_one_input_required_result():
    opened: list[str] = []
    told: list[tuple[str, Decision, str, int]] = []

    async def browser(url: str) -> None:
        opened.append(url)

    def on_link(link: Considered) -> None:
        told.append((link.url, link.decision, link.because, len(opened)))

    consent = PolicyConsent("ok")
    elicitations = Elicitations(consent, opener=browser, on_link=on_link)
    async with HandoffClient(many_steps(), mode="2026-07-28", elicitations=elicitations) as client:
        result = await client.call_tool("steps", {"n": 8})
    answers = json.loads(result.content[0].text)
    assert sorted(answers.values()) == ["accept"] * 5 + ["decline"] * 3
    assert len(consent.asked) == 5 and len(opened) == 5 and elicitations.refused_for_flooding == 3
    assert sorted(decision for _, decision, _, _ in told) == [Decision.ACCEPT] * 5 + [Decision.DECLINE] * 3
    assert {because for _, decision, because, _ in told if decision is Decision.DECLINE} == {"limit"}
    accepted = [(url, before) for url, decision, _, before in told if decision is Decision.ACCEPT]
    assert all(url not in opened[:before] for url, before in accepted)  # told before it was opened
