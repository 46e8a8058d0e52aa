"""Real HTTP on loopback: a uvicorn server in a thread, on a free port."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1:port until `stop()` (`options` go to uvicorn's
    Config: `ssl_certfile=`, `ssl_keyfile=` for https)."""

    def __init__(self, app: Any, port: int, **options: Any) -> None:
        self.port = port
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def wait_until_serving(url: str, process: Any, what: str, timeout: float = 30) -> None:
    """Wait until `url` answers over HTTP; fail saying that `what` did not start (or died)."""
    import httpx2

    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx2.get(url, timeout=1)
            return
        except httpx2.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.stderr.read() if process.stderr else ""
                raise AssertionError(f"{what} did not start: {output}") from None
            time.sleep(0.1)


def python_path(*folders: Any) -> str:
    """PYTHONPATH for a program the tests start: `folders`, then the PYTHONPATH the tests themselves
    run with (so that the program imports the same handoff as the tests)."""
    import os

    inherited = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([*(str(f) for f in folders), *([inherited] if inherited else [])])
