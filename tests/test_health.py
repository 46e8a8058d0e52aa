"""The probes: `/healthz` answers while the process does; `/readyz` says whether the replica can serve,
and haproxy (the demo's configuration) takes a replica that cannot out of its round robin."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from _cluster import Cluster
from _haproxy import Forwarder
from _postgres import Postgres


def test_healthz_and_readyz_answer_beside_the_pages(running):
    with httpx2.Client(base_url=running.origin, timeout=10) as http:
        alive = http.get("/healthz")
        assert alive.status_code == 200 and alive.json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"store": "ok", "schema": "ok", "bus": "ok"}}
        assert ready.headers["cache-control"] == "no-store"
        assert http.head("/readyz").status_code == 200


def test_readyz_names_a_schema_this_handoff_does_not_know(running):
    db = running.demo.handoff.store.database
    (version,) = db.call(lambda conn: conn.execute("PRAGMA user_version").fetchone())
    db.call(lambda conn: conn.execute(f"PRAGMA user_version = {version + 1}"))
    try:
        unready = httpx2.get(f"{running.origin}/readyz", timeout=10)
    finally:
        db.call(lambda conn: conn.execute(f"PRAGMA user_version = {version}"))
    assert unready.status_code == 503
    schema = f"version {version + 1}, this handoff needs {version}"
    assert unready.json() == {"status": "unready", "checks": {"store": "ok", "schema": schema, "bus": "ok"}}


# Two replicas on PostgreSQL behind the demo's haproxy; the second reaches the database through a
# forwarder that the test cuts and mends.


@pytest.fixture
def pair(postgres: Postgres, tmp_path: Path) -> Iterator[tuple[Cluster, Forwarder]]:
    url = postgres.fresh_database("health")
    forwarder = Forwarder(("127.0.0.1", postgres.port)).start()
    cluster = Cluster(url, tmp_path, replicas=2)
    cluster.database_urls["replica2"] = url.replace(f":{postgres.port}/", f":{forwarder.port}/")
    try:
        yield cluster.start(), forwarder
    finally:
        cluster.stop()
        forwarder.close()


def readyz(cluster: Cluster, name: str) -> httpx2.Response:
    return httpx2.get(f"http://127.0.0.1:{cluster.replica(name).port}/readyz", timeout=10)


def until(condition, what: str, limit: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Wait for `condition()` (a state the replicas or haproxy reach by themselves), at most `limit` s."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {limit:g} s")
        time.sleep(0.1)


def served_by(http: httpx2.Client, count: int = 10) -> list[str]:
    """Which replica answered each of `count` requests through haproxy."""
    return [http.get("/healthz").headers["x-handoff-replica"] for _ in range(count)]


def downs(cluster: Cluster, name: str) -> int:
    """How often haproxy said it took replica `name` out."""
    return cluster.balancer.log().count(f"Server replicas/{name} is DOWN")


def test_a_replica_whose_database_is_gone_leaves_the_pool_and_comes_back(pair, postgres):
    cluster, forwarder = pair
    with httpx2.Client(base_url=cluster.origin, timeout=10) as http:
        until(lambda: set(served_by(http)) == {"replica1", "replica2"}, "haproxy sending to both")
        assert readyz(cluster, "replica2").status_code == 200

        forwarder.stop()  # replica2's connections to PostgreSQL are cut, and new ones refused
        until(lambda: readyz(cluster, "replica2").status_code == 503, "replica2 turning unready")
        body = readyz(cluster, "replica2").json()
        assert body["status"] == "unready" and body["checks"]["bus"] == "not listening"
        assert body["checks"]["store"] in ("unavailable", "no answer within 2 s")
        said = readyz(cluster, "replica2").text
        assert postgres.password not in said and str(forwarder.port) not in said and "handoff" not in said
        assert readyz(cluster, "replica1").status_code == 200
        until(lambda: downs(cluster, "replica2") == 1, "haproxy taking replica2 out")
        assert set(served_by(http, 30)) == {"replica1"}  # and it stays out while it is unready

        forwarder.start()
        until(lambda: readyz(cluster, "replica2").status_code == 200, "replica2 ready again")
        until(lambda: "replica2" in served_by(http), "haproxy sending to replica2 again")

        postgres.stop()  # now no replica can serve: each still answers, saying so itself
        try:
            until(lambda: readyz(cluster, "replica1").status_code == 503, "replica1 turning unready")
            until(lambda: readyz(cluster, "replica2").status_code == 503, "replica2 turning unready")
            until(lambda: downs(cluster, "replica1") == 1 and downs(cluster, "replica2") == 2, "both out")
            answers = [http.get("/readyz") for _ in range(6)]
            assert {a.status_code for a in answers} == {503}
            assert {a.json()["status"] for a in answers} == {"unready"}  # the replicas', not haproxy's
            assert {a.headers["x-handoff-replica"] for a in answers} <= {"replica1", "replica2"}
        finally:
            postgres.start()
        until(lambda: readyz(cluster, "replica1").status_code == 200, "replica1 ready again")
        until(lambda: readyz(cluster, "replica2").status_code == 200, "replica2 ready again")
        until(lambda: set(served_by(http)) == {"replica1", "replica2"}, "haproxy sending to both again")
