"""The package as people install it: a wheel and an sdist that twine accepts, with the pages' templates,
the catalogs, the link check's data and `py.typed` inside, installed with wheels only (no compiler)
into a fresh environment where `handoff demo` serves and `handoff check-url` still blocks."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from _server import free_port, wait_until_serving

import handoff
from handoff._command import DISTRIBUTION

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment with the wheel and both extras, every dependency a wheel."""
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    venv.create(env_dir, with_pip=True)
    wheel = next(dist.glob("*.whl"))
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "--only-binary=:all:"]
    done = subprocess.run(
        [*pip, f"{DISTRIBUTION}[postgresql,fastmcp] @ {wheel.as_uri()}"],
        capture_output=True,
        text=True,
        timeout=900,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert done.returncode == 0, done.stderr
    yield env_dir / "bin"


def test_the_wheel_holds_what_handoff_reads_at_run_time_and_nothing_of_the_tests(dist: Path):
    wheel = next(dist.glob("*.whl"))
    assert wheel.name.startswith(f"{DISTRIBUTION.replace('-', '_')}-{handoff.__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "handoff/py.typed",
        "handoff/templates/secret.html",
        "handoff/templates/approval.html",
        "handoff/static/style.css",
        "handoff/locale/de/LC_MESSAGES/handoff.po",
        "handoff/client/data/top_domains.list",
        "handoff/client/data/CHROMIUM-LICENSE",
    ):
        assert needed in names, needed
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n or "conftest" in n]
    assert any(n.endswith("licenses/LICENSE") for n in names)
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_wheels_only_install_serves_the_demo_and_blocks_a_lookalike(installed: Path, tmp_path: Path):
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    version = subprocess.run(
        [str(installed / "handoff"), "--version"], capture_output=True, text=True, env=clean, timeout=60
    )
    assert handoff.__version__ in version.stdout, version.stdout + version.stderr
    lookalike = subprocess.run(
        [str(installed / "handoff"), "check-url", "https://\u0430pple.com/login"],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )
    assert lookalike.returncode == 1 and "looks like apple.com" in lookalike.stdout, lookalike.stdout
    undecodable = subprocess.run(
        [str(installed / "handoff"), "check-url", "https://xn--a.com/"],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )
    assert undecodable.returncode == 2 and undecodable.stdout.startswith("BLOCKED"), undecodable.stdout
    port = free_port()
    demo = subprocess.Popen(
        [str(installed / "handoff"), "demo", "--port", str(port)],
        cwd=tmp_path,
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        origin = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{origin}/.well-known/oauth-authorization-server", demo, "the demo")
        page = httpx2.get(f"{origin}/handoff/", follow_redirects=True, timeout=10)
        assert page.status_code in (200, 401, 403) and "<html" in page.text.lower()
    finally:
        demo.terminate()
        demo.wait(timeout=20)
