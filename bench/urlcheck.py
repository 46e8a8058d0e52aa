"""How long check_url takes per link, since a client checks every link a server sends.

    python bench/urlcheck.py            # a few seconds

Figures (target: median under 1 ms per URL):
- the first check with a Unicode host, which builds the spoof checker and the skeletons of the
  well-known domains once per process;
- then median and p99 per URL for plain ASCII links, legitimate IDN hosts, look-alikes the browser
  refuses, and invalid punycode, from the browser's test list (tests/data/browser_idn_cases.tsv);
- in the same run, WHATWG parsing alone (ada-url) of the same URLs, as the floor: the ratio says what
  the checks cost on top of reading the URL.
"""

from __future__ import annotations

import csv
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import ada_url

sys.path.insert(0, str(Path(__file__).parent.parent / "src"))

from handoff.client import check_url

TABLE = Path(__file__).parent.parent / "tests" / "data" / "browser_idn_cases.tsv"
ROUNDS = 30
ASCII = [
    "https://accounts.google.com/o/oauth2/v2/auth?client_id=abc&redirect_uri=https%3A%2F%2Fx.example",
    "https://github.com/login/oauth/authorize?client_id=Iv1.0123&state=s3cr3t",
    "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?response_type=code",
    "https://mcp.example.com/handoff/e/3q2u7k0Zp1aB9cD4eF6gH8iJ",
    "https://login.example.co.uk.evil.com/signin",
    "https://user:pw@192.168.0.1/",
    "https://example.com:8443/path?q=1#frag",
    "http://127.0.0.1:8377/handoff/e/abc",
    "javascript:alert(1)",
    "https://0x7f.1/",
]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def table() -> dict[str, list[str]]:
    lines = [line for line in TABLE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    groups: dict[str, list[str]] = {"legitimate IDN": [], "look-alikes": [], "invalid punycode": []}
    name = {"ok": "legitimate IDN", "refused": "look-alikes", "invalid": "invalid punycode"}
    for host, expected, _needs, _note in list(csv.reader(lines, delimiter="\t"))[1:]:
        if "xn--" in host:
            groups[name[expected]].append(f"https://{host}/signin?next=%2F")
    return groups


def per_url(urls: list[str], check: object) -> list[float]:
    timed = []
    for _ in range(ROUNDS):
        for url in urls:
            start = time.perf_counter()
            check(url)  # type: ignore[operator]
            timed.append(time.perf_counter() - start)
    return timed


def figures(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def main() -> None:
    print(f"check_url per URL ({machine()}; ICU from the system)")
    start = time.perf_counter()
    check_url(ASCII[0])
    print(f"  first check, ASCII host:             {(time.perf_counter() - start) * 1000:8.2f} ms")
    start = time.perf_counter()
    check_url("https://xn--bcher-kva.de/")
    took = (time.perf_counter() - start) * 1000
    print(f"  first check with a Unicode host:     {took:8.2f} ms  (builds the checker, once per process)")
    groups = {"plain ASCII links": ASCII, **table()}
    every = [url for urls in groups.values() for url in urls]
    for name, urls in [*groups.items(), ("all of them", every)]:
        median, p99 = figures(per_url(urls, check_url))
        parse_median, _ = figures(per_url(urls, ada_url.parse_url))
        print(
            f"  {name:<24} n={len(urls) * ROUNDS:<6} median {median:6.3f} ms   p99 {p99:6.3f} ms"
            f"   (parsing alone {parse_median:6.3f} ms, x{median / parse_median:5.1f})"
        )
    print("  target: median under 1 ms per URL")


if __name__ == "__main__":
    main()
