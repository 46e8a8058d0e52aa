"""A real haproxy in front of replicas: round-robin, sticky on Mcp-Session-Id, streaming responses."""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from _server import free_port


def haproxy_binary() -> str:
    """The haproxy program (Debian puts it in /usr/sbin, which a user's PATH may lack)."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError("haproxy was not found: install Debian's haproxy (apt-get install haproxy)")
    return found


def haproxy_config(backends: list[tuple[str, int]], port: int, *, health_check: str | None = None) -> str:
    """The configuration: servers `replica1`, `replica2`, ... in the order of `backends`."""
    if not backends:
        raise ValueError("haproxy needs at least one backend")
    check = " check inter 200ms fall 1 rise 1" if health_check else ""
    servers = "\n".join(
        f"    server replica{n} {host}:{backend_port}{check}"
        for n, (host, backend_port) in enumerate(backends, start=1)
    )
    health = f"    option httpchk GET {health_check}\n" if health_check else ""
    return f"""\
global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout tunnel 1h
    timeout http-request 10s
    no option http-buffer-request
    retries 3
    option redispatch 1

frontend handoff
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    # MCP 2025 sessions: the response that creates a session names it; later requests carry it.
    # Requests without the header (the 2026 era) are balanced round-robin.
    stick-table type string len 128 size 100k expire 1h
    stick on req.hdr(mcp-session-id)
    stick store-response res.hdr(mcp-session-id)
    http-response set-header X-Handoff-Replica %s
{health}{servers}
"""


class Haproxy:
    """haproxy in the foreground (`-db`) on 127.0.0.1:port, balancing over `backends`."""

    def __init__(
        self, backends: list[tuple[str, int]], *, port: int | None = None, health_check: str | None = None
    ) -> None:
        self.binary = haproxy_binary()
        self.backends = list(backends)
        self.port = port or free_port()
        self.health_check = health_check
        self.root = Path(tempfile.mkdtemp(prefix="handoff-haproxy-"))
        self.config_path = self.root / "haproxy.cfg"
        self.log_path = self.root / "haproxy.log"
        self.process: subprocess.Popen[bytes] | None = None
        atexit.register(self._at_exit)

    def __repr__(self) -> str:
        return f"Haproxy(port={self.port}, backends={self.backends})"

    def __enter__(self) -> Haproxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Haproxy:
        """Write and check the configuration, start haproxy, and wait until it accepts connections."""
        if self.process is not None:
            return self
        self.config_path.write_text(haproxy_config(self.backends, self.port, health_check=self.health_check))
        checked = subprocess.run(
            [self.binary, "-c", "-q", "-f", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if checked.returncode != 0:
            raise RuntimeError(f"haproxy rejects its configuration:\n{checked.stdout}{checked.stderr}")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-f", str(self.config_path), "-db"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"haproxy did not start:\n{self.log()}") from None
                time.sleep(0.01)

    def stop(self) -> None:
        """Stop haproxy at once (open connections are cut)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def reload(self, backends: list[tuple[str, int]]) -> None:
        """Serve `backends` instead: a stop and start on the same port (sticky sessions are forgotten)."""
        self.stop()
        self.backends = list(backends)
        self.start()

    def close(self) -> None:
        """Stop haproxy and remove its files."""
        try:
            self.stop()
        finally:
            atexit.unregister(self._at_exit)
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _at_exit(self) -> None:
        if self.process is not None:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)
