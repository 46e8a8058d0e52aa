"""Several replicas of the demo server, each its own uvicorn process, for running behind the balancer.

Every replica gets what replicas must share and nothing else: the public URL (the balancer's), the
database, and the data folder holding the dev keys. The database URL travels in the environment, not
on the command line, where every local user could read its password.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2

from ..store import DATABASE_URL
from ..vault import dev_key
from ._balancer import NotServing, free_port, replica_names


class Replica:
    """One demo server process, `name` (replica1, …), on 127.0.0.1:`port`."""

    def __init__(
        self,
        name: str,
        port: int,
        *,
        public_url: str,
        database_url: str,
        data_dir: Path,
        log_dir: Path,
        framework: str = "sdk",
    ) -> None:
        self.name = name
        self.framework = framework
        self.port = port
        self.metrics_port = free_port()
        """Where this replica serves its metrics, on loopback."""
        self.public_url = public_url
        self.database_url = database_url
        self.data_dir = data_dir
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self.alive else "stopped"
        return f"Replica({self.name!r}, port={self.port}, {state})"

    @property
    def number(self) -> int:
        return int(self.name.removeprefix("replica"))

    @property
    def url(self) -> str:
        """The replica itself, past the balancer."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self) -> None:
        """Start the process (without waiting for it to serve)."""
        if self.alive:
            return
        command = [
            sys.executable,
            "-m",
            "handoff.cli",
            "demo",
            "--port",
            str(self.port),
            "--public-url",
            self.public_url,
            "--data-dir",
            str(self.data_dir),
            "--framework",
            self.framework,
            "--metrics-port",
            str(self.metrics_port),
        ]
        env = {**os.environ, DATABASE_URL: self.database_url, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - this Python, running handoff
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )

    def wait_serving(self, timeout: float = 30) -> None:
        """Wait until the replica answers HTTP (uvicorn listens only once the store is connected)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx2.get(f"{self.url}/.well-known/oauth-authorization-server", timeout=2)
                return
            except httpx2.TransportError:
                if not self.alive:
                    raise NotServing(f"{self.name} did not start: {self.last_words()}") from None
                if time.monotonic() > deadline:
                    self.kill()
                    raise NotServing(
                        f"{self.name} did not start serving within {timeout:g} s; see {self.log_path}"
                    ) from None
                time.sleep(0.05)

    def last_words(self) -> str:
        """Why a replica that stopped stopped, in one line: the last its log says (a `handoff demo`
        says what failed in its last line), and where the rest is."""
        lines = self.log().strip().splitlines()
        said = lines[-1].removeprefix("Error: ") if lines else "it printed nothing"
        return f"{said} (its log: {self.log_path})"

    def start(self, timeout: float = 30) -> Replica:
        self.launch()
        self.wait_serving(timeout)
        return self

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM: uvicorn finishes what it is doing)."""
        if self.alive:
            assert self.process is not None
            self.process.terminate()

    def wait(self, timeout: float = 10) -> None:
        """Wait for a stopping process; kill it if it takes longer than `timeout`."""
        process = self.process
        if process is None:
            return
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def stop(self, timeout: float = 10) -> None:
        self.terminate()
        self.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is cleaned up, open connections just end."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=5)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class Replicas:
    """`count` demo server processes on free loopback ports, named replica1 … replicaN in the order
    the balancer numbers its servers."""

    def __init__(
        self,
        count: int,
        *,
        public_url: str,
        database_url: str,
        data_dir: str | Path,
        log_dir: str | Path | None = None,
        ports: list[int] | None = None,
        framework: str = "sdk",
    ) -> None:
        """`framework`: what the demo server is written with, "sdk" (MCPServer) or "fastmcp"."""
        if count < 1:
            raise ValueError("at least one replica")
        if ports is not None and len(ports) != count:
            raise ValueError(f"{count} replicas need {count} ports")
        self.data_dir = Path(data_dir)
        log_folder = Path(log_dir) if log_dir is not None else self.data_dir
        log_folder.mkdir(parents=True, exist_ok=True)
        ports = ports or [free_port() for _ in range(count)]
        self.replicas = [
            Replica(
                name,
                port,
                public_url=public_url.rstrip("/"),
                database_url=database_url,
                data_dir=self.data_dir,
                log_dir=log_folder,
                framework=framework,
            )
            for name, port in zip(replica_names(count), ports, strict=True)
        ]
        atexit.register(self._at_exit)

    def __enter__(self) -> Replicas:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __iter__(self) -> Iterator[Replica]:
        return iter(self.replicas)

    def __len__(self) -> int:
        return len(self.replicas)

    def __getitem__(self, key: int | str) -> Replica:
        """By position (0-based) or by name ("replica2")."""
        if isinstance(key, int):
            return self.replicas[key]
        for replica in self.replicas:
            if replica.name == key:
                return replica
        raise KeyError(key)

    @property
    def backends(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", r.port) for r in self.replicas]

    def start(self, timeout: float = 30) -> Replicas:
        """Start every replica at once and wait until each serves. The dev keys are made first, so
        that every process reads the same ones."""
        dev_key(self.data_dir / "pages.key")
        dev_key(self.data_dir / "vault.key")
        try:
            for replica in self.replicas:
                replica.launch()
            for replica in self.replicas:
                replica.wait_serving(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10) -> None:
        """Stop every replica (all asked at once, then each waited for)."""
        for replica in self.replicas:
            replica.terminate()
        for replica in self.replicas:
            replica.wait(timeout)

    def kill(self, name: str) -> None:
        self[name].kill()

    def _at_exit(self) -> None:
        for replica in self.replicas:
            replica.kill()
