"""Opening a consented URL: the system browser only, never an embedded view, never a prefetch."""

from __future__ import annotations

import sys
import webbrowser
from collections.abc import Awaitable, Callable

import anyio.to_thread

from .._exact import printable

Opener = Callable[[str], Awaitable[None]]


async def open_in_browser(url: str) -> bool:
    """Hand the URL to the person's default browser (honours $BROWSER); whether one took it."""
    return bool(await anyio.to_thread.run_sync(webbrowser.open, url))


async def system_browser(url: str) -> None:
    """Hand the URL to the person's default browser, or print it when no browser can be started."""
    if not await open_in_browser(url):
        shown = printable(url, lines=False)
        print(f"Could not start a browser. Open this link yourself:\n  {shown}", file=sys.stderr)


async def print_only(url: str) -> None:
    """For headless use: print the URL for the person to open; nothing is fetched."""
    print(f"Open this link in your browser:\n  {printable(url, lines=False)}", file=sys.stderr)
