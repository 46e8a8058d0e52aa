"""The load balancer handoff runs its replicas behind: haproxy, with one configuration for the demo and
the tests.

Plain requests go round robin, which is right for 2026-07-28 (any replica can answer any request). A
2025-11-25 connection keeps its `Mcp-Session-Id` on the replica that created it: the response that
starts a session names it, and later requests carrying it go back there. Every response says which
replica served it (`X-Handoff-Replica`), so a walkthrough or a test can tell.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .._errors import ConfigError, HandoffError
from .._health import READY_PATH

ROUTE_HEADER = "X-Handoff-Route"
"""With `route_header=True`, a request carrying `X-Handoff-Route: replicaN` goes to that replica."""
REPLICA_HEADER = "X-Handoff-Replica"
"""Set by the balancer on every response: the name of the replica that served it."""
STANDBY = "-standby"
"""The suffix of a replica's name as its own backup, when no replica is ready."""


class NotServing(HandoffError):
    """A process the demo starts (haproxy, a replica) did not start serving; the message says why, in
    one line."""


def haproxy_binary() -> str:
    """The haproxy program (Debian puts it in /usr/sbin, which a user's PATH may lack)."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise ConfigError("haproxy was not found: install haproxy: apt-get install haproxy")
    return found


def replica_names(count: int) -> list[str]:
    """`replica1` … `replicaN`: the balancer's server names, and the replicas' own."""
    return [f"replica{n}" for n in range(1, count + 1)]


def balancer_config(
    backends: list[tuple[str, int]],
    port: int,
    *,
    route_header: bool = False,
    health_check: str | None = None,
) -> str:
    """haproxy's configuration for 127.0.0.1:`port` in front of `backends`, named replica1, replica2, …
    in their order. `route_header` lets a request pick its replica (the walkthrough puts each browser
    step on a chosen one); `health_check` is a path haproxy polls (`/readyz`) to take a replica that
    cannot serve out of the balancing.

    With a health check, a request that names its replica (a 2025 session, a chosen route) still goes
    there while it is unready (`option persist`): only that replica holds the session, and it says in
    its own words that it cannot save anything now. When no replica is ready at all (the database is
    down for every one), each replica stands in as a backup of itself, so people read that page too,
    not haproxy's bare 503."""
    if not backends:
        raise ValueError("haproxy needs at least one backend")
    names = replica_names(len(backends))
    check = " check inter 200ms fall 1 rise 1" if health_check else ""
    servers = "\n".join(
        f"    server {name} {host}:{backend_port}{check}"
        for name, (host, backend_port) in zip(names, backends, strict=True)
    )
    health = served_by = ""
    if health_check:
        servers += "\n" + "\n".join(
            f"    server {name}{STANDBY} {host}:{backend_port} backup"
            for name, (host, backend_port) in zip(names, backends, strict=True)
        )
        health = (
            f"    option httpchk GET {health_check}\n"
            "    timeout check 3s\n"
            "    option persist\n"
            "    option allbackups\n"
        )
        served_by = f"%[srv_name,regsub({STANDBY}$,)]"
    routes = ""
    if route_header:
        header = ROUTE_HEADER.lower()
        routes = "    # A chosen replica first: use-server rules come before stickiness and balancing.\n"
        routes += "".join(f"    use-server {n} if {{ req.hdr({header}) -m str {n} }}\n" for n in names)
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
    # Streamed responses (SSE: completion notices, held retries) go out as they are written, not
    # gathered into fuller packets for up to 200 ms.
    option http-no-delay
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
    http-response set-header {REPLICA_HEADER} {served_by or "%s"}
{routes}{health}{servers}
"""


def alerts(log: str) -> str:
    """What haproxy's log says went wrong, in one line: its first `[ALERT]`, without the prefix."""
    for line in log.splitlines():
        if line.startswith("[ALERT]"):
            return line.partition(" : ")[2].strip() or line
    lines = log.strip().splitlines()
    return lines[-1] if lines else "it printed nothing"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Balancer:
    """haproxy in the foreground (`-db`) on 127.0.0.1:`port`, balancing over `backends`; its
    configuration and log live in a temporary folder that `close()` removes."""

    def __init__(
        self,
        backends: list[tuple[str, int]],
        *,
        port: int | None = None,
        route_header: bool = False,
        health_check: str | None = READY_PATH,
    ) -> None:
        self.binary = haproxy_binary()
        self.backends = list(backends)
        self.port = port or free_port()
        self.route_header = route_header
        self.health_check = health_check
        self.root = Path(tempfile.mkdtemp(prefix="handoff-haproxy-"))
        self.config_path = self.root / "haproxy.cfg"
        self.log_path = self.root / "haproxy.log"
        self.process: subprocess.Popen[bytes] | None = None
        atexit.register(self._at_exit)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(port={self.port}, backends={self.backends})"

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        return balancer_config(
            self.backends, self.port, route_header=self.route_header, health_check=self.health_check
        )

    def check_port(self) -> None:
        """Raise a ConfigError when the port is taken (haproxy would fail on it, and the wait for it
        to accept connections would find whoever holds the port instead)."""
        from ._serving import listening

        listening("127.0.0.1", self.port).close()

    def start(self, timeout: float = 10) -> Balancer:
        """Write and check the configuration, start haproxy, and wait until it accepts connections."""
        if self.process is not None:
            return self
        self.check_port()
        self.config_path.write_text(self.config())
        checked = subprocess.run(  # noqa: S603 - haproxy, with a configuration of our own
            [self.binary, "-c", "-q", "-f", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if checked.returncode != 0:
            raise NotServing(f"haproxy rejects its configuration: {alerts(checked.stdout + checked.stderr)}")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - the same haproxy
                [self.binary, "-f", str(self.config_path), "-db"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    said = alerts(self.log())
                    raise NotServing(f"haproxy did not start on port {self.port}: {said}") from None
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
