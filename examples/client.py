# examples/client.py: call one tool on a server that needs sign-in; the person consents to each link.
# Run: python examples/client.py http://127.0.0.1:8000/mcp   (the browser opens to sign in, once)
import sys
import threading

import anyio
import anyio.from_thread
import anyio.lowlevel

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
        answer = await read_line("Open it in your browser? [y/N] ")
        return Decision.ACCEPT if answer.strip().lower() == "y" else Decision.DECLINE


async def read_line(prompt: str) -> str:
    """A line typed at the terminal, read in a thread that Ctrl-C does not have to wait for."""
    print(prompt, end="", flush=True)
    token = anyio.lowlevel.current_token()
    send, receive = anyio.create_memory_object_stream[str](1)

    def read() -> None:
        line = sys.stdin.readline()  # "" at the end of input: no
        anyio.from_thread.run_sync(send.send_nowait, line, token=token)

    threading.Thread(target=read, daemon=True).start()
    return await receive.receive()


async def main(url: str) -> None:
    sign_in = SignIn(FileTokens())  # the token file `handoff call` and `handoff connect` use too
    elicitations = Elicitations(AskAtTheTerminal(), server="weather")
    try:
        async with HandoffClient(url, auth=sign_in, elicitations=elicitations) as client:
            result = await client.call_tool("forecast", {"city": "Oslo"})
    except SignInFailed as exc:
        sys.exit(f"Not signed in: {exc}")
    print(result.content[0].text)


try:
    anyio.run(main, sys.argv[1])
except KeyboardInterrupt:  # Ctrl-C: the person stopped it; nothing went wrong
    sys.exit(130)
