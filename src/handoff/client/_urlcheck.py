"""URL safety analysis: read a URL as a browser would, then say ok, warn or block, in plain words.

Parsing is WHATWG (ada-url), like the browser that will open the link; the
checks then compare what the person sees (the raw text) with where the browser
goes (the parsed host): an '@' after the site name, slashes a browser forgives
and characters it reads as dots all make the text name another site. The
registrable domain is marked from the Public Suffix List so a display can show
who the person is really dealing with. A host with Unicode labels is judged as
a browser's address bar judges it before showing it (`_idn`): IDNA as browsers
apply it, ICU's spoof checker with the browser's rules, and look-alikes of
well-known domains.
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Literal

import ada_url
import idna
from publicsuffixlist import PublicSuffixList

from .._exact import printable
from ._idn import read_host
from ._reason import Reason as Reason  # re-exported: handoff.client takes it from here

Verdict = Literal["ok", "warn", "block"]

_BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}
_INVISIBLE = {
    "\u00ad",
    "\u034f",
    "\u180e",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\u2061",
    "\u2062",
    "\u2063",
    "\u2064",
    "\ufeff",
    "\u3164",
    "\uffa0",
}
_DEFAULT_PORTS = {"https:": "443", "http:": "80"}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_AUTHORITY_ENDS = "/\\?#"


@dataclass(frozen=True)
class UrlReport:
    """What a URL is, as a browser would open it, and whether to trust it."""

    url: str
    verdict: Verdict
    reasons: list[Reason] = field(default_factory=list)
    href: str | None = None
    scheme: str | None = None
    host: str | None = None
    """The host as the browser resolves it (ASCII, punycode)."""
    host_unicode: str | None = None
    """The same host as a person would read it."""
    port: str | None = None
    registrable_domain: str | None = None
    """The part of the host an owner registers (`evil.com` in `login.bank.com.evil.com`)."""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def as_json(self) -> str:
        return json.dumps(self.as_dict())  # \u escapes: no control or bidi character reaches a terminal

    def as_text(self) -> str:
        """For a person reading plain text: the verdict, the full URL, the site with its registered
        domain marked (who the person really deals with), and every finding."""
        marks = {"ok": "OK", "warn": "WARNING", "block": "BLOCKED"}
        lines = [f"{marks[self.verdict]}: {self.href or self.url}"]
        if self.host:
            shown = self.host_unicode or self.host
            also = f"  ({self.host})" if shown != self.host else ""
            lines.append(f"  site:               {shown}{also}")
        if self.registrable_domain:
            domain = self.registrable_domain
            lines.append(f"  registered domain:  {domain}  <- who you are really dealing with")
        lines += [f"  {'note: ' if r.severity == 'note' else '- '}{r.text}" for r in self.reasons]
        if self.verdict == "ok":
            lines.append(
                "  Nothing suspicious found."
                + (
                    " Still check that the registered domain is the one you expect."
                    if self.registrable_domain
                    else ""
                )
            )
        return printable("\n".join(lines))  # a link that does not parse is shown as it came


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the bundled list: no network


def check_url(url: object, *, allow_http_loopback: bool = True) -> UrlReport:
    """Analyze `url`; never raises. Anything not http(s) is blocked; plain http only for loopback."""
    if not isinstance(url, str):
        return UrlReport(str(url), "block", [Reason("unparseable", "block", "This is not a URL.")])
    reasons = _text_findings(url)
    try:
        parts = ada_url.parse_url(url)
    except (ValueError, TypeError):
        reasons.append(Reason("unparseable", "block", "This is not a URL a browser could open."))
        return UrlReport(url, "block", reasons)
    scheme, host = parts["protocol"], parts["hostname"]
    if scheme not in ("https:", "http:") or not host:
        shown = scheme.rstrip(":") or "no scheme"
        reasons.append(Reason("scheme", "block", f"Only https links can be opened, not {shown}:"))
        return UrlReport(url, "block", reasons, href=parts["href"], scheme=scheme.rstrip(":"))
    ip = _ip(host)
    if scheme == "http:" and not (allow_http_loopback and _is_loopback(host, ip)):
        reasons.append(
            Reason(
                "insecure",
                "block",
                "This link is plain http: anyone on the network could read "
                "or change the page. Only https is allowed.",
            )
        )
    if parts["username"] or parts["password"]:
        reasons.append(
            Reason("userinfo", "warn", f"The text before '@' is not the site. This link goes to {host}.")
        )
    port = parts["port"]
    if port and port != _DEFAULT_PORTS.get(scheme):
        reasons.append(Reason("port", "warn", f"The link uses the unusual port {port}."))
    written = _Written.of(url)
    reasons += written.findings(host)
    raw_host = written.host
    host_unicode = host
    if ip is not None:
        reasons += _ip_findings(ip, raw_host)
    else:
        reading = read_host(host)
        reasons += _host_findings(host, raw_host) + reading.findings
        host_unicode = reading.shown
    registrable = None if ip is not None else _psl().privatesuffix(host.rstrip(".").lower())
    return UrlReport(
        url,
        _verdict(reasons),
        reasons,
        href=parts["href"],
        scheme=scheme.rstrip(":"),
        host=host,
        host_unicode=host_unicode,
        port=port or None,
        registrable_domain=registrable,
    )


def on_loopback_server(report: UrlReport, server_url: str) -> UrlReport:
    """`report` as it stands for a client connected to the MCP endpoint `server_url`.

    When that endpoint is on loopback and the link has its exact origin (scheme, host and port),
    the link is the server's own page on this computer: its port and IP address say nothing
    suspicious there, so those two findings give way to a note. Every other finding stands, and any
    other link (another port, another host, a server elsewhere) keeps its report unchanged.
    """
    try:
        server = ada_url.parse_url(server_url)
    except (ValueError, TypeError):
        return report
    host, scheme, port = server["hostname"], server["protocol"].rstrip(":"), server["port"] or None
    if not host or not _is_loopback(host, _ip(host)):
        return report
    if (report.scheme, report.host, report.port) != (scheme, host, port):
        return report
    origin = f"{scheme}://{host}" + (f":{port}" if port else "")
    reasons = [r for r in report.reasons if r.code not in ("port", "ip-host")]
    here = f"This is a page of the server you connected to, on this computer ({origin})."
    reasons.append(Reason("own-server", "note", here))
    return replace(report, verdict=_verdict(reasons), reasons=reasons)


def _verdict(reasons: list[Reason]) -> Verdict:
    severities = {r.severity for r in reasons}
    return "block" if "block" in severities else "warn" if "warn" in severities else "ok"


def _text_findings(url: str) -> list[Reason]:
    found: list[Reason] = []
    if any(c in _BIDI for c in url):
        found.append(
            Reason(
                "bidi",
                "warn",
                "The link contains invisible right-to-left controls that can make "
                "it read differently from where it goes.",
            )
        )
    if any(c in _INVISIBLE for c in url) or any(
        unicodedata.category(c) == "Cf" and c not in _BIDI for c in url
    ):
        found.append(Reason("invisible", "warn", "The link contains invisible characters."))
    if any(c in url for c in "\t\r\n") or url != url.strip():
        found.append(
            Reason("whitespace", "warn", "The link contains spaces or line breaks that a browser drops.")
        )
    dots = _Written.of(url).dots()
    if any(0xFF00 <= ord(c) <= 0xFFEF and c not in dots for c in url):
        found.append(
            Reason("fullwidth", "warn", "The link uses full-width characters that look like ordinary ones.")
        )
    return found


@dataclass(frozen=True)
class _Written:
    """The authority of a link as its text spells it, located the way a WHATWG parser locates it:
    after the scheme and any run of slashes or backslashes, up to the first '/', '\\', '?' or '#'.
    What a person reads and what a browser opens part here."""

    scheme: str
    slashes: str
    authority: str
    rest: str

    @classmethod
    def of(cls, url: str) -> _Written:
        text = re.sub("[\t\n\r]", "", url).strip("".join(map(chr, range(0x21))))
        scheme = _SCHEME.match(text)
        after = text[scheme.end() :] if scheme else text
        slashes = re.match(r"[/\\]*", after)
        assert slashes is not None  # the pattern matches the empty string
        rest = after[slashes.end() :]
        end = next((i for i, c in enumerate(rest) if c in _AUTHORITY_ENDS), len(rest))
        return cls(scheme.group() if scheme else "", slashes.group(), rest[:end], rest[end:])

    @property
    def host(self) -> str:
        """The host as written, before a browser normalizes it (best effort, for comparison only)."""
        host = self.authority.rpartition("@")[2]
        if host.startswith("["):
            return host.split("]")[0] + "]"
        return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

    def dots(self) -> set[str]:
        """The characters of the written host that are not '.' but that browsers read as one."""
        return {c for c in self.host if not c.isascii() and _is_dot(c)}

    def findings(self, host: str) -> list[Reason]:
        """Where the text reads as another address than `host`, the one a browser opens."""
        found: list[Reason] = []
        if self.slashes != "//":
            written = f"{self.scheme}{self.slashes}"
            found.append(
                Reason(
                    "odd-slashes",
                    "warn",
                    f"The link is written '{written}' instead of '{self.scheme}//'. A browser still opens "
                    f"{host}, but the text can read as another address.",
                )
            )
        elif self.rest.startswith("\\"):
            found.append(
                Reason(
                    "odd-slashes",
                    "warn",
                    f"A backslash follows the site name; a browser reads it as '/' and opens {host}, "
                    "but the text can read as another address.",
                )
            )
        _, at, after = self.rest.split("/", 1)[0].rpartition("@")
        seen = re.split(r"[\\?#]", after, maxsplit=1)[0] if at else ""
        if seen:
            found.append(
                Reason(
                    "misleading-at",
                    "warn",
                    f"The '@' comes after the site name, so '{_quoted(seen)}' only looks like the site: "
                    f"this link goes to {host}.",
                )
            )
        for dot in sorted(self.dots()):
            name = unicodedata.name(dot, "a full stop").lower()
            found.append(
                Reason(
                    "dot-lookalike",
                    "warn",
                    f"The site name uses '{dot}' ({name}, U+{ord(dot):04X}) as a dot; a browser reads it "
                    f"as '.', so this link goes to {host}.",
                )
            )
        return found


def _quoted(text: str, most: int = 60) -> str:
    """A piece of the link's own text, safe to put in a sentence: every invisible or control character
    written as its code, and a long piece cut short."""
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return shown if len(shown) <= most else shown[: most - 1] + "\u2026"


def _is_dot(c: str) -> bool:
    try:
        return "." in idna.uts46_remap(c, std3_rules=False, transitional=False)
    except idna.IDNAError:
        return False


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_loopback(host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
    if ip is not None:
        mapped = getattr(ip, "ipv4_mapped", None)
        return ip.is_loopback or bool(mapped and mapped.is_loopback)
    return host.rstrip(".").lower() == "localhost"


def _ip_findings(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, raw_host: str) -> list[Reason]:
    found = [Reason("ip-host", "warn", f"The link goes to a bare IP address ({ip}), not a named site.")]
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        found.append(Reason("ipv4-mapped", "warn", f"The address is IPv4 {mapped} disguised as IPv6."))
    if isinstance(ip, ipaddress.IPv4Address) and raw_host.lower().rstrip(".") != str(ip):
        found.append(
            Reason(
                "ip-spelling",
                "warn",
                f"The address is written in an unusual form ({raw_host}) that browsers read as {ip}.",
            )
        )
    return found


def _host_findings(host: str, raw_host: str) -> list[Reason]:
    found: list[Reason] = []
    if "%" in raw_host:
        found.append(
            Reason("encoded-host", "warn", f"The site name is percent-encoded; it really is {host}.")
        )
    if host.endswith("."):
        found.append(
            Reason("trailing-dot", "warn", "The site name ends with a dot, which can slip past checks.")
        )
    return found
