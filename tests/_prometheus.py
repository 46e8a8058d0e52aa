"""Debian's Prometheus on loopback, scraping one target every second, with its data in a temp folder;
and `promtool`, which ships beside it."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from _server import free_port

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"


def promtool() -> str:
    found = shutil.which("promtool") or (PROMTOOL if Path(PROMTOOL).exists() else None)
    if found is None:
        pytest.fail("Debian's prometheus is not installed (promtool ships in it; .ci/run installs it)")
    return found


class Prometheus:
    """`prometheus` in the foreground on 127.0.0.1:port, scraping `target` (host:port) at /metrics."""

    def __init__(self, target: str, folder: Path) -> None:
        if not Path(PROMETHEUS).exists():
            pytest.fail("Debian's prometheus is not installed (.ci/run installs it)")
        self.target = target
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        return f"""\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: handoff
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ["{self.target}"]
"""

    def start(self, timeout: float = 30) -> Prometheus:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "prometheus.yml").write_text(self.config())
        log = (self.folder / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self.folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx2.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx2.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"prometheus did not start: {self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        return (self.folder / "prometheus.log").read_text(errors="replace")[-2000:]

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector `promql` gives now, through the HTTP API."""
        async with httpx2.AsyncClient(timeout=10) as http:
            answer = await http.get(f"{self.url}/api/v1/query", params={"query": promql})
        body = answer.json()
        assert answer.status_code == 200 and body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
