"""What a URL handed to the client may carry: no credentials, no personal data, only an id."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

_CREDENTIAL_NAME = re.compile(
    r"(^|[_\-.])(access|refresh|id)?[_\-]?(token|jwt|bearer|secret|password|passwd|pwd|pass|"
    r"api[_\-]?key|apikey|key|code|auth|authorization|credentials?|session|sid|sig|signature|otp|pin)"
    r"([_\-.]|$)",
    re.I,
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def valid_absolute(url: str) -> str | None:
    """None when `url` is a valid absolute http(s) URL with a host; else what is wrong with it."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        return f"it does not parse ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"its scheme is {parts.scheme or 'missing'}, not https"
    if not parts.hostname:
        return "it has no host"
    if any(c.isspace() for c in url):
        return "it contains white space"
    return None


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """The origin of `url` as a browser compares it: scheme, host and port (the default one left
    out); "" for a URL without a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    shown_port = f":{port}" if port is not None and port != _DEFAULT_PORTS.get(scheme) else ""
    return f"{scheme}://{host}{shown_port}"


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def credentials_in(url: str, known: Iterable[str] = (), people: Iterable[str] = ()) -> list[str]:
    """What in `url` is a credential or personal data, described without repeating it: userinfo,
    JWTs, and the `known` secrets (the user's access token or password) or `people` (user names)
    anywhere in it."""
    parts = urlsplit(url)
    found: list[str] = []
    if parts.username is not None or parts.password is not None:
        found.append("user information before the host")
    decoded = unquote(url)
    if _JWT.search(decoded):
        found.append("a JSON Web Token")
    for secret in known:
        if secret and len(secret) >= 6 and secret in decoded:
            found.append("the user's own credential")
    segments = set(re.split(r"[/?&=#;.]", unquote(parts.path + "?" + parts.query)))
    for person in people:
        if person and len(person) >= 3 and person in segments:
            found.append("the user's name")
    return found


def credential_like_parameters(url: str) -> list[str]:
    """The query (and fragment) parameters of `url` named like a credential: token, key, session,
    code..."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True) + parse_qsl(parts.fragment)
    return list(dict.fromkeys(name for name, _ in pairs if _CREDENTIAL_NAME.search(name)))


def without_userinfo(url: str) -> str:
    """`url` as a report may show it: any user name and password before the host left out."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
