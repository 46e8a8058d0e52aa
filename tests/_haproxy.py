"""A real haproxy in front of replicas: round-robin, sticky on Mcp-Session-Id, streaming responses.

The configuration is handoff's own (`handoff.demo._balancer`), so the tests run what the demo runs.
"""

from __future__ import annotations

from _server import free_port

from handoff.demo._balancer import Balancer, balancer_config, haproxy_binary

__all__ = ["Haproxy", "haproxy_binary", "haproxy_config"]


def haproxy_config(
    backends: list[tuple[str, int]], port: int, *, health_check: str | None = None, route_header: bool = False
) -> str:
    """The configuration: servers `replica1`, `replica2`, ... in the order of `backends`."""
    return balancer_config(backends, port, route_header=route_header, health_check=health_check)


class Haproxy(Balancer):
    """haproxy in the foreground (`-db`) on 127.0.0.1:port, balancing over `backends`."""

    def __init__(
        self,
        backends: list[tuple[str, int]],
        *,
        port: int | None = None,
        health_check: str | None = None,
        route_header: bool = False,
    ) -> None:
        super().__init__(
            backends, port=port or free_port(), route_header=route_header, health_check=health_check
        )

    def __enter__(self) -> Haproxy:
        self.start()
        return self

    def start(self, timeout: float = 10) -> Haproxy:
        super().start(timeout)
        return self


class Forwarder(Balancer):
    """haproxy in TCP mode on 127.0.0.1:port, passing connections to `target` (a database): stopping it
    cuts every connection through it and refuses new ones, as a network between a replica and its
    database that fails; starting it again mends it."""

    def __init__(self, target: tuple[str, int]) -> None:
        super().__init__([target], port=free_port(), health_check=None)

    def config(self) -> str:
        host, port = self.backends[0]
        return f"""\
defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h

frontend forward
    bind 127.0.0.1:{self.port}
    default_backend target

backend target
    server target {host}:{port}
"""
