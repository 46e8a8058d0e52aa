"""`handoff demo` in its own process, as an operator runs it: for the tests that kill, restart or
shift the clock of a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from _server import wait_until_serving

FAKETIME_LIBRARY = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def clock_shifted(seconds: int) -> dict[str, str]:
    """The environment that runs a program with its wall clock `seconds` off (libfaketime); its
    monotonic clock is left alone, as an NTP step leaves it."""
    return {
        "LD_PRELOAD": FAKETIME_LIBRARY,
        "FAKETIME": f"{seconds:+d}s",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_NO_CACHE": "1",
    }


class DemoProcess:
    """`handoff demo` on `port` with its data in `data`; `crash_at` names a point where it kills
    itself (HANDOFF_CRASH_AT), `env` adds to its environment."""

    def __init__(
        self, data: Path, port: int, crash_at: str | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        environment = {k: v for k, v in os.environ.items() if k != "HANDOFF_CRASH_AT"}
        if crash_at:
            environment["HANDOFF_CRASH_AT"] = crash_at
        environment.update(env or {})
        handoff = Path(sys.executable).parent / "handoff"
        self.process = subprocess.Popen(
            [str(handoff), "demo", "--port", str(port), "--data-dir", str(data)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.origin = f"http://127.0.0.1:{port}"
        self.mcp_url = f"{self.origin}/mcp"
        wait_until_serving(f"{self.origin}/handoff/login", self.process, "handoff demo")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
