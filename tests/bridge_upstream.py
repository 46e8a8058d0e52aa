"""An MCP server on stdio for what `handoff demo` does not do, to stand upstream of `handoff bridge`.

`work` reports progress; `hang` waits until it is cancelled; `link_then_hang` sends a link and never
finishes; `withdraw` sends a link, then withdraws it; `flood` sends many links at once, each twice.
What happens to the tools is appended to the file named by the first argument, one line each (a
stdio server does not get its client's environment).
"""

from __future__ import annotations

import os
import sys

import anyio
from mcp.server.mcpserver import Context, MCPServer

LINK = "https://example.com/step/"
"""Where the links go: a name the link check finds nothing suspicious in."""

server = MCPServer("bridge-upstream", log_level="WARNING")


def log(line: str) -> None:
    with open(sys.argv[1], "a") as out:
        out.write(line + "\n")


@server.tool()
async def work(steps: int, ctx: Context) -> str:
    """Work in `steps` steps, saying so after each one."""
    for done in range(1, steps + 1):
        await ctx.report_progress(done, steps, f"step {done} of {steps}")
    return f"worked in {steps} steps"


@server.tool()
async def hang() -> str:
    """Wait until the call is cancelled."""
    log("hang: started")
    try:
        await anyio.sleep_forever()
    finally:
        log("hang: cancelled")
    return "never"


@server.tool()
async def link_then_hang(ctx: Context) -> str:
    """Ask to open a link, then wait for ever: the step is never finished."""
    said = await ctx.elicit_url("Finish the step", f"{LINK}never", "never")
    log(f"link_then_hang: {said.action}")
    await anyio.sleep_forever()
    return "never"


@server.tool()
async def withdraw(asked: str, ctx: Context) -> str:
    """Ask to open a link, and withdraw the request once the file `asked` exists (the person was
    asked)."""
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(ctx.elicit_url, "Finish the step", f"{LINK}withdrawn", "withdrawn")
        while not os.path.exists(asked):  # noqa: ASYNC110 (a file another process writes)
            await anyio.sleep(0.02)
        tasks.cancel_scope.cancel()  # the SDK tells the client: notifications/cancelled
    log("withdraw: withdrawn")
    return "withdrawn"


@server.tool()
async def flood(links: int, ctx: Context) -> str:
    """Ask about `links` different links at once, each one twice."""
    answers: list[str] = []

    async def ask(number: int) -> None:
        said = await ctx.elicit_url(f"Step {number}", f"{LINK}{number}", f"flood-{number}")
        answers.append(said.action)

    async with anyio.create_task_group() as tasks:
        for number in [*range(links), *range(links)]:
            tasks.start_soon(ask, number)
    log(f"flood: {sorted(answers)}")
    return f"{answers.count('accept')} accepted of {len(answers)}"


if __name__ == "__main__":
    server.run("stdio")
