"""A TCP relay that counts round trips: what a process asks of a database, as the network sees it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from _server import free_port

_READY = b"Z\x00\x00\x00\x05"
"""PostgreSQL's ReadyForQuery: the server has answered everything sent up to a Sync (or a query)."""


class RoundTripCounter:
    """Relays 127.0.0.1:port to `target` (PostgreSQL) in a thread of its own, counting *turns*: each
    time a client sends after the server said it was ready (ReadyForQuery), the client had waited
    for it. Statements pipelined together are one turn; each statement that waits is one more."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.turns = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RoundTripCounter:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @contextmanager
    def counting(self) -> Iterator[list[int]]:
        """The turns taken inside the block, in a one-item list filled when it ends."""
        with self._lock:
            start = self.turns
        box: list[int] = []
        yield box
        with self._lock:
            box.append(self.turns - start)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
            self._ready.set()
            async with server:
                await server.serve_forever()

        self._loop.create_task(serve())
        self._loop.run_forever()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        answered = [True]  # the next client bytes start a turn

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, from_client: bool) -> None:
            try:
                while data := await r.read(65536):
                    if from_client:
                        if answered[0]:
                            with self._lock:
                                self.turns += 1
                            answered[0] = False
                    elif _READY in data:
                        answered[0] = True
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(client_r, server_w, True), pipe(server_r, client_w, False))
