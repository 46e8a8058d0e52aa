"""kill -9 of the replica that holds a call, behind haproxy, while handoff's own client waits: the call
goes on through the other replica and ends with the real result, and the client says so in one line.
2026-07-28 sends its held retry again as it was; 2025-11-25 makes a new session and calls again."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from _cluster import Cluster
from _mcp import text_of
from _postgres import Postgres
from test_signin import Person

from handoff.client import Elicitations, HandoffClient, MemoryTokens, PolicyConsent, SignIn
from handoff.demo import DEMO_USERS, ScriptedBrowser

pytestmark = pytest.mark.anyio
KEY = "wk_ReplicaDeathSecret77"


@pytest.fixture(scope="module")
def pair(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster = Cluster(postgres.fresh_database("death"), tmp_path_factory.mktemp("death"), replicas=2)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(autouse=True)
def both_up(pair: Cluster, postgres: Postgres) -> None:
    """Both replicas serving, and no key saved yet (each test's call needs the browser)."""
    for replica in pair.replicas:
        if replica.process is None:
            pair.revive(replica.name)
    with postgres.admin_connection("death") as conn:
        conn.execute(
            "TRUNCATE handoff.records, handoff.secrets, handoff.claimed, handoff.outbox, handoff.audit"
        )


class Links:
    """The client's browser opener: keeps each link it was asked to open."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.changed = anyio.Event()

    async def open(self, url: str) -> None:
        self.opened.append(url)
        self.changed.set()

    async def first(self) -> str:
        while not self.opened:
            await self.changed.wait()
        return self.opened[0]


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        (
            "2026-07-28",
            "lost the connection to {url} while forecast was waiting; sent its retry again "
            "(the same request state)",
        ),
        (
            "legacy",
            "the session with {url} ended (its server is gone); made a new session and called forecast again",
        ),
    ],
    ids=["2026", "2025"],
)
@pytest.mark.parametrize("finished", ["before", "after"], ids=["finished-before", "finished-after"])
async def test_the_call_outlives_the_replica_that_held_it(pair, mode, said, finished):
    """The person finishes in the browser before the client noticed the death, or after it went on."""
    pair.kill("replica2")  # the call starts on replica1, the only one serving
    links, lines, went_on = Links(), [], anyio.Event()

    def note(line: str) -> None:
        lines.append(line)
        went_on.set()

    client = HandoffClient(
        pair.mcp_url,
        mode=mode,
        auth=SignIn(MemoryTokens(), opener=Person(pair.origin).open, notify=lambda _line: None),
        elicitations=Elicitations(PolicyConsent("ok"), opener=links.open),
        notify=note,
        wait_timeout=60,
    )
    results: list[object] = []
    async with client, ScriptedBrowser(pair.origin, ("alice", DEMO_USERS["alice"])) as browser:
        with anyio.fail_after(90):  # a call that never ends fails here, not the whole run
            await _die_while_waiting(
                pair, client, links, browser, results, went_on if finished == "after" else None
            )
    (result,) = results
    assert "Forecast for Oslo" in text_of(result)
    assert lines == [said.format(url=pair.mcp_url)]
    assert len(links.opened) == 1  # the person was not asked again


async def _die_while_waiting(pair, client, links, browser, results, went_on=None) -> None:
    """Start the call on replica1, kill -9 replica1 while the call waits, finish on replica2 (once
    the client said it went on, given what it says)."""
    async with anyio.create_task_group() as tg:

        async def call() -> None:
            results.append(await client.call_tool("forecast", {"city": "Oslo"}))

        tg.start_soon(call)
        url = await links.first()  # the link is open: the call now waits on replica1
        await anyio.sleep(1)
        pair.revive("replica2")
        pair.kill("replica1")  # kill -9 of the replica holding the retry, or the session
        if went_on is not None:
            await went_on.wait()  # the call went on, through replica2, and waits there
        page = await browser.open(url)  # the person finishes on replica2
        done = await browser.submit(page, {"value": KEY, "action": "save"})
        assert not isinstance(done, str) and done.title == "Saved"
