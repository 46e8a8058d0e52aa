"""The calendar provider the connection tests use: the tests' OpenID provider (oidc-provider)."""

from __future__ import annotations

from handoff.oauth import Provider, provider

CLIENT_ID, CLIENT_SECRET = "handoff-test", "handoff-test-secret-value"


def calendar_at(oidc: str) -> Provider:
    """The provider at the OpenID provider `oidc` (its base URL), as the demo's calendar."""
    return provider(
        "calendar",
        label="Calendar",
        authorize_url=f"{oidc}/auth",
        token_url=f"{oidc}/token",
        revocation_url=f"{oidc}/token/revocation",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        default_scopes=["openid", "offline_access"],
        authorize_params={"prompt": "consent"},
    )
