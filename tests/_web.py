"""A browser for flows that cross origins (the server, then an OAuth provider, then back)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx2


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif tag == "input" and self.forms and a.get("name") and a.get("type") == "hidden":
            self.forms[-1].fields[a["name"]] = a.get("value", "")


@dataclass
class Visit:
    url: str
    status: int
    text: str
    hops: list[str]

    def forms(self) -> list[Form]:
        parser = _Forms()
        parser.feed(self.text)
        return parser.forms


async def travel(http: httpx2.AsyncClient, response: httpx2.Response, limit: int = 15) -> Visit:
    """Follow every redirect, across origins, like a browser does."""
    hops = [str(response.url)]
    for _ in range(limit):
        if response.status_code not in (301, 302, 303, 307, 308):
            return Visit(str(response.url), response.status_code, response.text, hops)
        target = urljoin(str(response.url), response.headers["location"])
        hops.append(target)
        response = await http.get(target)
    raise AssertionError(f"too many redirects: {hops}")


async def go(http: httpx2.AsyncClient, url: str) -> Visit:
    return await travel(http, await http.get(url))


async def submit(http: httpx2.AsyncClient, visit: Visit, fields: dict[str, str], index: int = 0) -> Visit:
    form = visit.forms()[index]
    target = urljoin(visit.url, form.action)
    response = await http.post(target, data={**form.fields, **fields})
    return await travel(http, response)
