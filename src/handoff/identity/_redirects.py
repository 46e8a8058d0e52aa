"""Which redirect URIs an MCP client may register, and how the consent page names where a code goes.

Native and web clients of an MCP server need three kinds (RFC 8252, OAuth 2.1):
https on any host, plain http on a loopback address (any port), and a
private-use scheme such as `com.example.app:/callback`. Everything else can
deliver a code somewhere nobody meant it to go, or run script: refused.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .._i18n import gettext as _
from ._browser import is_loopback

MAX_URI_LENGTH = 2000

# Schemes that are never an app's own: they load documents, run script or reach the network in other ways.
_REFUSED_SCHEMES = frozenset(
    {
        "javascript",
        "vbscript",
        "data",
        "file",
        "blob",
        "about",
        "filesystem",
        "ftp",
        "ws",
        "wss",
        "mailto",
        "tel",
        "sms",
        "intent",
        "chrome",
        "chrome-extension",
        "view-source",
        "jar",
    }
)
_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*")


def redirect_problem(uri: str) -> str | None:
    """Why `uri` cannot be a redirect URI, in words for the client's developer; None when it can."""
    if len(uri) > MAX_URI_LENGTH:
        return f"a redirect URI is longer than {MAX_URI_LENGTH} characters"
    if any(c.isspace() or ord(c) < 0x20 or c == "\\" for c in uri):
        return f"redirect URI {uri[:80]!r} contains spaces, control characters or backslashes"
    try:
        parts = urlsplit(uri)
    except ValueError:
        return f"redirect URI {uri[:80]!r} is not a URI"
    scheme = parts.scheme.lower()
    if not scheme or not _SCHEME.fullmatch(scheme):
        return f"redirect URI {uri[:80]!r} has no scheme"
    if parts.fragment or "#" in uri:
        return f"redirect URI {uri[:80]!r} has a fragment; OAuth forbids one"
    if scheme == "https":
        if not parts.hostname:
            return f"redirect URI {uri[:80]!r} has no host"
        if parts.username is not None or parts.password is not None:
            return f"redirect URI {uri[:80]!r} carries a user name or password"
        return None
    if scheme == "http":
        if not parts.hostname or not is_loopback(parts.hostname):
            return (
                f"redirect URI {uri[:80]!r} uses plain http on a host other than this computer; "
                "use https, http://127.0.0.1:PORT/... for an app on the user's computer, "
                "or a private-use scheme such as com.example.app:/callback"
            )
        if parts.username is not None or parts.password is not None:
            return f"redirect URI {uri[:80]!r} carries a user name or password"
        return None
    if scheme in _REFUSED_SCHEMES:
        return (
            f"redirect URI scheme {scheme!r} is not allowed; use https, loopback http or an app's own scheme"
        )
    return None


def form_target(uri: str) -> str:
    """The CSP source that lets a consent form's redirect reach `uri`: its origin, or its scheme."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return f"{scheme}://{parts.netloc.lower()}"
    return f"{scheme}:"


def destination(uri: str) -> str:
    """Where the browser goes after consent, as the person should read it (in their language)."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "http":
        return _("an app on this computer (local port %(port)s)", port=parts.port or 80)
    if scheme == "https":
        host = parts.hostname or ""
        return host if parts.port in (None, 443) else f"{host}:{parts.port}"
    return _("the app on this device that opens %(scheme)s: links", scheme=scheme)


def same_redirect(registered: str, given: str) -> bool:
    """Exact match, except that a loopback http URI may differ in its port (RFC 8252 §7.3)."""
    if registered == given:
        return True
    a, b = urlsplit(registered), urlsplit(given)
    if a.scheme != "http" or b.scheme != "http" or not a.hostname or not is_loopback(a.hostname):
        return False
    return (a.hostname, a.path, a.query, a.username) == (b.hostname, b.path, b.query, b.username) and (
        b.port is not None
    )
