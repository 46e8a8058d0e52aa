# examples/client.py: call one tool on a server that needs sign-in; the person consents to each link.
# Run: python examples/client.py http://127.0.0.1:8000/mcp   (the browser opens to sign in, once)
import sys

import anyio

from handoff.client import (
    ConsentRequest,
    Decision,
    Elicitations,
    FileTokens,
    HandoffClient,
    SignIn,
    SignInFailed,
)


class AskAtTheTerminal:
    """Shows who asks, why, and where the link really goes, then lets the person decide."""

    async def ask(self, request: ConsentRequest) -> Decision:
        print(f"{request.server} asks you to open {request.url}\n  because: {request.message}")
        print(f"  link check: {request.report.verdict}")
        for reason in request.report.reasons:
            print(f"  - {reason.text}")
        if not request.may_accept:  # a blocked link is never opened
            return Decision.DECLINE
        answer = await anyio.to_thread.run_sync(input, "Open it in your browser? [y/N] ")
        return Decision.ACCEPT if answer.strip().lower() == "y" else Decision.DECLINE


async def main(url: str) -> None:
    sign_in = SignIn(FileTokens())  # the token file `handoff call` and `handoff connect` use too
    elicitations = Elicitations(AskAtTheTerminal(), server="weather")
    try:
        async with HandoffClient(url, auth=sign_in, elicitations=elicitations) as client:
            result = await client.call_tool("forecast", {"city": "Oslo"})
    except SignInFailed as exc:
        sys.exit(f"Not signed in: {exc}")
    print(result.content[0].text)


anyio.run(main, sys.argv[1])
