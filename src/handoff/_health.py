"""Probes for a load balancer or an orchestrator: `/healthz` says the process answers; `/readyz` says
it can serve, that is the store answers within a bound, its schema is the one this handoff knows, and
the bus hears the other replicas (on PostgreSQL, its LISTEN connection is up).

The bodies are JSON naming each part and what is wrong with it, in a few fixed words: never a driver's
message, which may carry a host, a user name or worse (those go to the log)."""

from __future__ import annotations

import logging

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ._errors import StorageUnavailable
from ._sql import MIGRATIONS, schema_version
from .store import Store

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
STORE_BOUND = 2.0
"""Seconds the store has to answer `/readyz` before the replica counts as unready."""
OK = "ok"
_HEADERS = {"cache-control": "no-store"}
logger = logging.getLogger("handoff.health")


async def readiness(store: Store, bound: float = STORE_BOUND) -> dict[str, str]:
    """Each part a replica needs to serve, and `ok` or what is wrong with it."""
    checks = {"store": OK, "schema": OK, "bus": OK if store.bus.listening else "not listening"}
    db = store.database
    if db is None:
        return checks
    try:
        with anyio.fail_after(bound):
            version = await db.run(lambda tx: schema_version(tx, db.dialect))
    except TimeoutError:
        checks["store"], checks["schema"] = f"no answer within {bound:g} s", "unknown"
    except StorageUnavailable:
        checks["store"], checks["schema"] = "unavailable", "unknown"
    except Exception as exc:
        logger.warning("readiness: the store failed a probe (%s)", type(exc).__name__)
        checks["store"], checks["schema"] = "failed", "unknown"
    else:
        wanted = len(MIGRATIONS[db.dialect])
        if version != wanted:
            checks["schema"] = f"version {version}, this handoff needs {wanted}"
    return checks


def health_routes(store: Store) -> list[Route]:
    """`/healthz` and `/readyz`, answering GET and HEAD (no authentication: they say nothing private)."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": OK}, headers=_HEADERS)

    async def readyz(request: Request) -> JSONResponse:
        checks = await readiness(store)
        ready = all(state == OK for state in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unready", "checks": checks},
            status_code=200 if ready else 503,
            headers=_HEADERS,
        )

    return [
        Route(HEALTH_PATH, healthz, methods=["GET", "HEAD"]),
        Route(READY_PATH, readyz, methods=["GET", "HEAD"]),
    ]
