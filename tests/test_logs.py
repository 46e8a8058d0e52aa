"""The log: the demo server, run as a process with HANDOFF_LOG_FORMAT=json, writes one JSON line per
lifecycle step with the fields of its audit line, and never the value a person typed or a token."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from _mcp import Notices, refuse_elicitation
from _server import free_port, python_path, wait_until_serving
from prometheus_client.parser import text_string_to_metric_families as parse
from test_elicitation_e2e import _ask, _enter, _finish

from handoff import ConfigError
from handoff._logs import JsonLines, configure
from handoff.demo import DEMO_USERS, ScriptedBrowser
from handoff.demo._client import demo_client, signed_in_http

pytestmark = pytest.mark.anyio
MODERN = "2026-07-28"
KEY = "wk_L0gsNeverSeeThisTypedVa1ue"
AUDIT_FIELDS = {"at", "event", "principal", "client_id", "record_id", "remote", "detail"}


class Demo:
    def __init__(self, origin: str, process: subprocess.Popen[str], log: Path, metrics: str) -> None:
        self.origin = origin
        self.metrics = metrics
        self.mcp_url = f"{origin}/mcp"
        self.process = process
        self.log = log


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """`handoff demo` in a process of its own, its stderr (the log) in a file."""
    port, metrics = free_port(), free_port()
    log = tmp_path / "stderr.log"
    env = {**os.environ, "HANDOFF_LOG_FORMAT": "json", "PYTHONPATH": python_path(Path(__file__).parent)}
    command = [sys.executable, "-m", "handoff.cli", "demo", "--port", str(port)]
    command += ["--data-dir", str(tmp_path / "data"), "--metrics-port", str(metrics)]
    with log.open("w") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    origin = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{origin}/healthz", process, "the demo")
        yield Demo(origin, process, log, f"http://127.0.0.1:{metrics}/metrics")
    finally:
        process.terminate()
        process.wait(timeout=30)


async def held(demo: Demo) -> float:
    """Requests the demo holds open, as its metrics say, once there is one (or after 30 s)."""
    now = 0.0
    async with httpx2.AsyncClient(timeout=10) as http:
        for _ in range(1500):
            found = [s for f in parse((await http.get(demo.metrics)).text) for s in f.samples]
            now = next(s.value for s in found if s.name == "handoff_held_requests_now")
            if now:
                break
            await anyio.sleep(0.02)
    return now


async def test_every_line_of_the_log_is_json_with_the_audit_fields_and_no_value(demo: Demo):
    bearer: set[str] = set()

    async def keep_token(response: httpx2.Response) -> None:
        bearer.add(response.request.headers.get("authorization", ""))

    alice, bob = ScriptedBrowser(demo.origin), ScriptedBrowser(demo.origin)
    http = signed_in_http(demo.mcp_url, alice, "alice", DEMO_USERS["alice"], hooks=[keep_token])
    notices = Notices()
    options = {"elicitation_callback": refuse_elicitation}  # declares URL mode; -32042 is expected
    async with demo_client(demo.mcp_url, http, message_handler=notices.handler, **options) as client:
        legacy = await _ask(client, "legacy")
        refused = await bob.sign_in(await bob.open(legacy["url"]), "bob", DEMO_USERS["bob"])
        assert refused.status == 403  # bob opened alice's link
        assert (await _enter(alice, legacy["url"], KEY)).title == "Saved"
        assert not (await _finish(client, "legacy", legacy, notices)).is_error

    results: list[Any] = []
    bobs = signed_in_http(demo.mcp_url, bob, "bob", DEMO_USERS["bob"], hooks=[keep_token])
    async with demo_client(demo.mcp_url, bobs, mode=MODERN, **options) as client:
        modern = await _ask(client, MODERN)

        async def retry() -> None:
            results.append(await _finish(client, MODERN, modern, None))

        async with anyio.create_task_group() as tg:
            tg.start_soon(retry)
            assert await held(demo) == 1  # the retry reaches the server and is held
            assert (await _enter(bob, modern["url"], KEY + "2")).title == "Saved"
    (result,) = results
    assert not result.is_error
    ids = {"legacy": legacy["elicitationId"], MODERN: modern["elicitationId"]}
    cookies = [c.value for b in (alice, bob) for c in b.http.cookies.jar]
    for b in (alice, bob):
        await b.http.aclose()
    await http.aclose()
    await bobs.aclose()
    demo.process.terminate()
    demo.process.wait(timeout=30)

    text = demo.log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]  # every line parses, or this fails
    steps = [line for line in lines if line["logger"] == "handoff.lifecycle"]
    assert steps and all(AUDIT_FIELDS <= set(step) for step in steps)
    assert all(set(step) == AUDIT_FIELDS | {"level", "logger"} for step in steps)
    legacy = [s["event"] for s in steps if s["record_id"] == ids["legacy"]]
    assert legacy == ["created", "identity_mismatch", "opened", "completed", "notified"]
    modern = [s["event"] for s in steps if s["record_id"] == ids[MODERN]]
    assert modern == ["created", "opened", "completed", "woken"]
    (mismatch,) = [s for s in steps if s["event"] == "identity_mismatch"]
    assert mismatch["principal"] == "bob" and mismatch["remote"] == "127.0.0.1"
    assert {s["principal"] for s in steps if s["record_id"] == ids["legacy"]} == {"alice", "bob"}
    assert {s["principal"] for s in steps if s["record_id"] == ids[MODERN]} == {"bob"}
    for secret in (KEY, "wk_", *[b.removeprefix("Bearer ") for b in bearer if b], *cookies):
        assert secret not in text


def test_a_log_format_nobody_knows_is_refused_in_one_sentence():
    with pytest.raises(ConfigError, match=r"HANDOFF_LOG_FORMAT='xml' is not a log format: say json or human"):
        configure("xml")


def test_an_exception_is_logged_as_its_type_only():
    try:
        raise ValueError("wk_the person typed this")
    except ValueError:
        record = logging.LogRecord("handoff", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(JsonLines().format(record))
    assert line["error"] == "ValueError" and line["message"] == "failed"
    assert "wk_" not in json.dumps(line)
