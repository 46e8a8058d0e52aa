"""Third-party OAuth 2.0 / OpenID Connect providers, from configuration, with presets as data."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._errors import ConfigError

PRESETS: dict[str, dict[str, Any]] = {
    "github": {
        "label": "GitHub",
        "authorize_url": "https://github.com/login/oauth/authorize",
        "token_url": "https://github.com/login/oauth/access_token",
        "token_auth_method": "client_secret_post",
    },
    "google": {
        "label": "Google",
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_url": "https://oauth2.googleapis.com/token",
        "revocation_url": "https://oauth2.googleapis.com/revoke",
        "authorize_params": {"access_type": "offline", "prompt": "consent"},
        "default_scopes": ["openid", "email"],
    },
    "microsoft": {
        "label": "Microsoft",
        "authorize_url": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
        "token_url": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        "default_scopes": ["offline_access", "User.Read"],
        "tenant": "common",
    },
    "slack": {
        "label": "Slack",
        "authorize_url": "https://slack.com/oauth/v2/authorize",
        "token_url": "https://slack.com/api/oauth.v2.access",
        "revocation_url": "https://slack.com/api/auth.revoke",
        "scope_separator": ",",
        "token_auth_method": "client_secret_post",
    },
}
"""Endpoints of well-known providers. Client ids and secrets always come from configuration."""

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


@dataclass(frozen=True)
class Provider:
    """Where to send the person, where to exchange the code, and this server's client credentials."""

    name: str
    label: str
    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    revocation_url: str | None = None
    default_scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    token_auth_method: str = "client_secret_basic"  # noqa: S105 - a method name, not a secret
    authorize_params: Mapping[str, str] = field(default_factory=dict)

    def scope(self, scopes: tuple[str, ...]) -> str:
        return self.scope_separator.join(dict.fromkeys((*self.default_scopes, *scopes)))


def _credentials(name: str, settings: Mapping[str, Any]) -> tuple[str, str | None]:
    prefix = f"HANDOFF_OAUTH_{name.upper().replace('-', '_')}"
    client_id = settings.get("client_id") or os.environ.get(f"{prefix}_CLIENT_ID")
    secret = settings.get("client_secret") or os.environ.get(f"{prefix}_CLIENT_SECRET")
    if not client_id:
        raise ConfigError(
            f"OAuth provider {name!r} has no client id: set client_id in its configuration "
            f"or {prefix}_CLIENT_ID"
        )
    return str(client_id), None if secret is None else str(secret)


def provider(name: str, **settings: Any) -> Provider:
    """A provider from a preset (`github`, `google`, `microsoft`, `slack`) and/or explicit endpoints."""
    if not _NAME.fullmatch(name):
        raise ConfigError(f"provider name {name!r} must be lowercase letters, digits, '-' or '_'")
    merged: dict[str, Any] = {**PRESETS.get(settings.pop("preset", name), {}), **settings}
    tenant = merged.pop("tenant", None)
    for endpoint in ("authorize_url", "token_url"):
        if not merged.get(endpoint):
            raise ConfigError(
                f"OAuth provider {name!r} needs {endpoint}: use a preset ({', '.join(PRESETS)}), "
                "give the endpoints, or load it with discover()"
            )
        if tenant:
            merged[endpoint] = merged[endpoint].replace("{tenant}", tenant)
    client_id, secret = _credentials(name, merged)
    return Provider(
        name=name,
        label=merged.get("label", name),
        authorize_url=merged["authorize_url"],
        token_url=merged["token_url"],
        client_id=client_id,
        client_secret=secret,
        revocation_url=merged.get("revocation_url"),
        default_scopes=tuple(merged.get("default_scopes", ())),
        scope_separator=merged.get("scope_separator", " "),
        token_auth_method=merged.get("token_auth_method", "client_secret_basic"),
        authorize_params=dict(merged.get("authorize_params", {})),
    )


async def discover(name: str, issuer_or_url: str, **settings: Any) -> Provider:
    """A provider from its OpenID Connect discovery document (or RFC 8414 metadata)."""
    url = issuer_or_url
    if "/.well-known/" not in url:
        url = url.rstrip("/") + "/.well-known/openid-configuration"
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url)
    if response.status_code != 200:
        raise ConfigError(
            f"cannot read the discovery document of {name!r} at {url}: HTTP {response.status_code}"
        )
    meta = response.json()
    return provider(
        name,
        **{
            "authorize_url": meta["authorization_endpoint"],
            "token_url": meta["token_endpoint"],
            "revocation_url": meta.get("revocation_endpoint"),
            **settings,
        },
    )
