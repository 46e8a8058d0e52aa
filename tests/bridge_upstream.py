"""An MCP server on stdio for what `handoff demo` does not do, to stand upstream of `handoff bridge`.

`work` reports progress; `hang` waits until it is cancelled; `link_then_hang` sends a link and never
finishes; `withdraw` sends a link, then withdraws it; `flood` sends many links at once, each twice.
For mirroring: a resource and a resource template, a prompt, completions, `chatty` (a log message),
`ask_name` (a form elicitation), `summarize` (sampling), `roots` (the client's roots) and `grow` (a
new tool, resource and prompt, announced with `list_changed`). What happens to the tools is appended
to the file named by the first argument, one line each (a stdio server does not get its client's
environment).
"""

from __future__ import annotations

import os
import sys

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import Prompt
from mcp.server.mcpserver.resources.types import TextResource
from mcp_types import Completion, CompletionArgument, CompletionContext, SamplingMessage, TextContent
from pydantic import BaseModel

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
    log(f"pid {os.getpid()}")
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


@server.resource("memo://greeting", name="greeting", description="A greeting", mime_type="text/plain")
def greeting() -> str:
    return "hello from upstream"


@server.resource("memo://notes/{name}", name="note", description="A note by name")
def note(name: str) -> str:
    return f"note {name}"


@server.prompt(name="review", description="Review a piece of code")
def review(code: str) -> str:
    return f"Please review: {code}"


@server.completion()
async def complete(
    ref: object, argument: CompletionArgument, context: CompletionContext | None
) -> Completion:
    names = ["alpha", "alpine", "beta"]
    return Completion(values=[n for n in names if n.startswith(argument.value)])


@server.tool()
async def chatty(ctx: Context) -> str:
    """Log a message to the client, then answer."""
    await ctx.info("upstream says hello")
    return "chatted"


class Name(BaseModel):
    name: str


@server.tool()
async def ask_name(ctx: Context) -> str:
    """Ask the person for a name in a form."""
    said = await ctx.elicit("What is your name?", Name)
    return f"{said.action}: {said.data.name if said.action == 'accept' else ''}"


@server.tool()
async def summarize(text: str, ctx: Context) -> str:
    """Ask the client's model for a summary."""
    message = SamplingMessage(role="user", content=TextContent(type="text", text=f"Summarize: {text}"))
    answer = await ctx.session.create_message([message], max_tokens=50)
    return f"summary: {getattr(answer.content, 'text', '')}"


@server.tool()
async def roots(ctx: Context) -> str:
    """The client's roots."""
    listed = await ctx.session.list_roots()
    return " ".join(str(root.uri) for root in listed.roots)


@server.tool()
async def grow(ctx: Context) -> str:
    """Add a tool, a resource and a prompt, and say each list changed."""

    def grown() -> str:
        return "grown"

    server.add_tool(grown, name="grown")
    server.add_resource(TextResource(uri="memo://grown", name="grown", text="grown"))
    server.add_prompt(Prompt.from_function(grown, name="grown"))
    await ctx.session.send_tool_list_changed()
    await ctx.session.send_resource_list_changed()
    await ctx.session.send_prompt_list_changed()
    return "grew"


if __name__ == "__main__":
    server.run("stdio")
