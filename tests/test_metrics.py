"""The metrics: scraped from their own listener after real round trips through the SDK's client, in
both eras; they count what happened and name no one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from _mcp import user_client
from _server import free_port
from conftest import Running
from prometheus_client.parser import text_string_to_metric_families
from test_elicitation_e2e import _ask, _enter, _finish

from handoff import ConfigError, Handoff
from handoff.demo import DEMO_USERS
from handoff.identity import LocalIdentity, hash_password
from handoff.vault import Keyring

pytestmark = pytest.mark.anyio
MODERN = "2026-07-28"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """The demo server (the `browsers` open its pages), with its metrics on a loopback port."""
    server = Running(tmp_path / "data", metrics_address=f"127.0.0.1:{free_port()}").start()
    try:
        yield server
    finally:
        server.stop()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def secret(outcome: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return "handoff_elicitations_total", frozenset({("kind", "secret"), ("outcome", outcome)})


def plain(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


async def test_a_round_trip_in_each_era_is_counted_on_its_own_listener_and_names_no_one(running, browsers):
    metrics = f"http://{running.options['metrics_address']}/metrics"
    alice_browser, bob_browser = browsers(), browsers()
    async with user_client(running.mcp_url, alice_browser, "alice") as (client, notices):
        legacy = await _ask(client, "legacy")
        refused = await bob_browser.sign_in(await bob_browser.open(legacy["url"]), "bob", DEMO_USERS["bob"])
        assert refused.status == 403  # bob opened alice's link
        assert (await _enter(alice_browser, legacy["url"])).title == "Saved"
        assert await notices.wait_for(legacy["elicitationId"])

    async with user_client(running.mcp_url, bob_browser, "bob", mode=MODERN) as (client, _):
        modern = await _ask(client, MODERN)
        results: list[object] = []

        async def retry() -> None:
            results.append(await _finish(client, MODERN, modern, None))

        async with anyio.create_task_group() as tg:
            tg.start_soon(retry)
            for _ in range(1500):  # the retry reaches the server and is held, waiting for bob
                if running.demo.handoff.holds.held == 1:
                    break
                await anyio.sleep(0.02)
            assert running.demo.handoff.holds.held == 1
            assert (await _enter(bob_browser, modern["url"], "wk_bobs_own_key_123")).title == "Saved"
        (result,) = results
        assert not result.is_error  # type: ignore[attr-defined]

    async with httpx2.AsyncClient(timeout=10) as http:
        scraped = await http.get(metrics)
        public = await http.get(f"{running.origin}/metrics")
    assert scraped.status_code == 200 and public.status_code == 404  # never on the public pages
    text = scraped.text
    found = samples(text)
    assert found[secret("created")] == 2
    assert found[secret("opened")] == 2
    assert found[secret("refused_identity")] == 1
    assert found[secret("completed")] == 2
    assert found[plain("handoff_link_to_completion_seconds_count", kind="secret")] == 2
    assert found[plain("handoff_completion_to_notice_seconds_count")] == 1  # the 2025 notice
    assert found[plain("handoff_completion_to_retry_wake_seconds_count")] == 1  # the held 2026 retry
    assert found[plain("handoff_held_requests_total")] == 1
    assert found[plain("handoff_held_requests_now")] == 0
    assert found[plain("handoff_busy_answers_total")] == 0
    assert found[plain("handoff_store_errors_total")] == 0
    assert found[plain("handoff_signin_tries_total", result="succeeded")] >= 3  # two apps, one page
    for private in ("alice", "bob", legacy["elicitationId"], modern["elicitationId"], "/handoff/e/"):
        assert private not in text
    assert running.origin not in text and "wk_" not in text


async def test_a_sweep_counts_what_it_expired_and_audits_each(running):
    from handoff.ledger import Draft

    handoff = running.demo.handoff
    for i in range(5):
        draft = Draft(principal="alice", kind="secret", params={"name": f"k{i}"}, key=f"secret:k{i}")
        await handoff.ledger.create(draft, ttl=-1.0)  # already overdue
    assert await handoff.sweep() == 5
    async with httpx2.AsyncClient(timeout=10) as http:
        found = samples((await http.get(f"http://{running.options['metrics_address']}/metrics")).text)
    assert found[secret("expired")] == 5
    assert [e.event for e in await handoff.audit.read(principal="alice")].count("expired") == 5


async def test_the_metrics_listener_stays_on_loopback_unless_a_token_guards_it(tmp_path):
    options = {
        "public_url": "http://127.0.0.1:8377",
        "browser": LocalIdentity(hash_password("a passphrase")),
        "secret_key": b"k" * 32,
        "keyring": Keyring.dev(tmp_path / "vault.key"),
    }
    with pytest.raises(ConfigError, match="give metrics_token= too"):
        Handoff.in_memory(**options, metrics_address="0.0.0.0:9464")
    port = free_port()
    handoff = Handoff.in_memory(**options, metrics_address=f"127.0.0.1:{port}", metrics_token="t0ken")
    async with handoff.running(), httpx2.AsyncClient(timeout=10) as http:
        url = f"http://127.0.0.1:{port}/metrics"
        assert (await http.get(url)).status_code == 401
        assert (await http.get(url, headers={"authorization": "Bearer wrong"})).status_code == 401
        allowed = await http.get(url, headers={"authorization": "Bearer t0ken"})
    assert allowed.status_code == 200 and "handoff_elicitations_total" in allowed.text
