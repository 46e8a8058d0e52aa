"""Provider configuration: presets as data, credentials from configuration or environment, discovery."""

from __future__ import annotations

import pytest

from handoff import ConfigError
from handoff.oauth import PRESETS, discover, provider

pytestmark = pytest.mark.anyio


def test_presets_need_only_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"github", "google", "microsoft", "slack"} <= set(PRESETS)
    monkeypatch.setenv("HANDOFF_OAUTH_GITHUB_CLIENT_ID", "gh-id")
    monkeypatch.setenv("HANDOFF_OAUTH_GITHUB_CLIENT_SECRET", "gh-secret")
    github = provider("github")
    assert (github.client_id, github.client_secret) == ("gh-id", "gh-secret")
    assert github.authorize_url == "https://github.com/login/oauth/authorize"
    assert "gh-secret" not in repr(github)
    microsoft = provider("microsoft", client_id="m", client_secret="s", tenant="contoso")
    assert microsoft.authorize_url.startswith("https://login.microsoftonline.com/contoso/")
    slack = provider("slack", client_id="s")
    assert slack.scope(("channels:read", "chat:write")) == "channels:read,chat:write"
    google = provider("google", client_id="g")
    assert google.scope(("calendar",)) == "openid email calendar" and google.authorize_params["access_type"]


def test_missing_or_bad_configuration_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HANDOFF_OAUTH_GITHUB_CLIENT_ID", raising=False)
    with pytest.raises(ConfigError, match="HANDOFF_OAUTH_GITHUB_CLIENT_ID"):
        provider("github")
    with pytest.raises(ConfigError, match="needs authorize_url"):
        provider("intranet", client_id="x")
    with pytest.raises(ConfigError, match="lowercase"):
        provider("Bad Name", client_id="x")


async def test_discovery_reads_a_real_provider(world) -> None:
    found = await discover("corp", world.oidc, client_id="c", client_secret="s", label="Corp")
    assert found.authorize_url == f"{world.oidc}/auth" and found.token_url == f"{world.oidc}/token"
    assert found.revocation_url == f"{world.oidc}/token/revocation"
    with pytest.raises(ConfigError, match="discovery document"):
        await discover("nobody", f"{world.server.origin}/nothing-here", client_id="c")
