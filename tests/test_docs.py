"""The documentation site builds with `mkdocs build --strict` (warnings are errors: a missing page,
anchor or included file, a docstring the API reference cannot render), every link inside the built
site leads to a page or file it has, and the README stays a short front page that links into it."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest

ROOT = Path(__file__).parent.parent


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        for name in ("href", "src"):
            if (value := found.get(name)) and not urlsplit(value).scheme and not value.startswith("//"):
                self.links.append(value)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    return out


def test_every_internal_link_of_the_site_leads_somewhere(site: Path):
    pages = {page: _Links() for page in site.rglob("*.html")}
    for page, parsed in pages.items():
        parsed.feed(page.read_text())
    broken = []
    for page, parsed in pages.items():
        for link in parsed.links:
            path, fragment = urldefrag(unquote(link))
            if path.startswith("/"):  # the 404 page links from the site's root
                target = (site / path.lstrip("/")).resolve()
            else:
                target = (page.parent / path).resolve() if path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site)} -> {link}")
            elif fragment and target.suffix == ".html" and fragment not in pages[target].ids:
                broken.append(f"{page.relative_to(site)} -> {link} (no such anchor)")
    assert not broken, broken


def test_the_reference_is_generated_from_the_code(site: Path):
    cli = (site / "reference" / "cli" / "index.html").read_text()
    for command in ("connect", "call", "check-url", "demo", "vault"):
        assert f"handoff {command}" in cli, command
    api = (site / "reference" / "api" / "index.html").read_text()
    for name in ("Handoff", "requires_secret", "HandoffClient", "SignIn", "check_url"):
        assert name in api, name
    server = (site / "server" / "index.html").read_text()
    assert "examples/server.py: an MCP server" in server  # the example file itself, included


def test_the_readme_is_a_short_front_page_that_links_into_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 250
    first = readme.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(first) == 2 and first[0].endswith("handoff demo") and first[1].endswith("pytest")
    linked = re.findall(r"\]\((docs/[^)#]+)\)", readme)
    assert len(linked) >= 10
    for path in linked:
        assert (ROOT / path).is_file(), path
