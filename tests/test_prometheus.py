"""A real Prometheus (Debian's) scrapes the demo server's metrics listener while a person completes an
elicitation; the counters are read back through Prometheus' query API, and `promtool` accepts the
exposition as it is served."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from _mcp import user_client
from _prometheus import Prometheus, promtool
from _server import free_port
from conftest import Running
from test_elicitation_e2e import _ask, _enter

from handoff.demo import DEMO_USERS

pytestmark = pytest.mark.anyio
DOCS = Path(__file__).parent.parent / "docs"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    server = Running(tmp_path / "data", metrics_address=f"127.0.0.1:{free_port()}").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prometheus(running: Running, tmp_path: Path) -> Iterator[Prometheus]:
    server = Prometheus(running.options["metrics_address"], tmp_path / "prometheus").start()
    try:
        yield server
    finally:
        server.stop()


async def scalar(prometheus: Prometheus, promql: str) -> float | None:
    found = await prometheus.query(promql)
    return float(found[0]["value"][1]) if found else None


async def scraped_once_more(prometheus: Prometheus, promql: str, wanted: float) -> float | None:
    """What `promql` says once Prometheus has scraped the count we expect (or after 30 s, what it says
    then): the scrape runs every second, on its own clock."""
    for _ in range(150):
        if (value := await scalar(prometheus, promql)) == wanted:
            break
        await anyio.sleep(0.2)
    return value


async def test_prometheus_scrapes_a_completed_elicitation_and_promtool_accepts_the_exposition(
    running, prometheus, browsers
):
    alice, bob = browsers(), browsers()
    async with user_client(running.mcp_url, alice, "alice") as (client, notices):
        legacy = await _ask(client, "legacy")
        refused = await bob.sign_in(await bob.open(legacy["url"]), "bob", DEMO_USERS["bob"])
        assert refused.status == 403  # bob opened alice's link: refused for identity
        assert (await _enter(alice, legacy["url"])).title == "Saved"
        assert await notices.wait_for(legacy["elicitationId"])

    def of(outcome: str) -> str:
        return f'handoff_elicitations_total{{job="handoff",kind="secret",outcome="{outcome}"}}'

    assert await scraped_once_more(prometheus, of("completed"), 1) == 1
    assert await scalar(prometheus, 'up{job="handoff"}') == 1
    assert await scalar(prometheus, of("created")) == 1
    assert await scalar(prometheus, of("opened")) == 1
    assert await scalar(prometheus, of("refused_identity")) == 1
    assert await scalar(prometheus, of("declined")) is None  # nothing was declined: no series at all
    assert await scalar(prometheus, "handoff_completion_to_notice_seconds_count") == 1
    assert await scalar(prometheus, "handoff_link_to_completion_seconds_count") == 1
    assert await scalar(prometheus, "handoff_store_errors_total") == 0
    assert await scalar(prometheus, "handoff_outbox_depth") is not None
    by_outcome = await prometheus.query('sum by (outcome) (handoff_elicitations_total{kind="secret"})')
    assert {s["metric"]["outcome"]: float(s["value"][1]) for s in by_outcome} == {
        "created": 1,
        "opened": 1,
        "refused_identity": 1,
        "completed": 1,
    }
    # Labels of every series Prometheus keeps name no one and no record.
    series = await prometheus.query('{job="handoff"}')
    labels = " ".join(str(s["metric"]) for s in series)
    assert "handoff_elicitations_total" in labels
    for private in ("alice", "bob", legacy["elicitationId"], "/handoff/e/"):
        assert private not in labels

    # Every query "Running it" offers for alerts and dashboards is one Prometheus runs on these series.
    queries = re.findall(r"```promql\n(.+?)\n```", (DOCS / "running.md").read_text(), re.S)
    assert len(queries) >= 15
    for query in queries:
        await prometheus.query(query)  # fails on a query Prometheus cannot parse or run
    assert await scalar(prometheus, "sum(increase(handoff_store_errors_total[5m])) > 0") is None  # no alert

    async with httpx2.AsyncClient(timeout=10) as http:
        exposition = (await http.get(f"http://{running.options['metrics_address']}/metrics")).text
    checked = await anyio.run_process(
        [promtool(), "check", "metrics"], input=exposition.encode(), check=False
    )
    assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()
    assert "handoff_elicitations_total" in exposition
