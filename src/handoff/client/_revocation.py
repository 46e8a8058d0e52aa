"""Signing out at the server: RFC 7009 token revocation at the endpoint its OAuth metadata advertises."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx2
from mcp.client.auth.exceptions import OAuthFlowError
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    create_oauth_metadata_request,
    handle_auth_metadata_response,
    handle_protected_resource_response,
    issuers_match,
    validate_metadata_issuer,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata

from ._tokens import SavedSignIn

_BASIC = "client_secret_basic"


@dataclass(frozen=True)
class SignedOut:
    """What signing out of one server did, for a one-line report."""

    server: str
    revoked: tuple[str, ...] = ()
    """Which tokens the server revoked: "refresh token", "access token"."""
    endpoint: str | None = None
    problem: str | None = None
    """Why the tokens were not (all) revoked; they are forgotten here all the same."""
    failed: bool = False
    """Revoking was possible but did not work (unlike a server that offers no revocation)."""

    def describe(self) -> str:
        done = f"{' and '.join(self.revoked)} revoked at {self.endpoint}" if self.revoked else ""
        if self.problem and done:
            return f"signed out of {self.server}: {done}, but {self.problem}"
        if self.problem:
            return f"signed out of {self.server} here only: {self.problem}"
        if done:
            return f"signed out of {self.server}: {done}"
        return f"signed out of {self.server} (no tokens were stored)"


async def revoke(server: str, saved: SavedSignIn, http: httpx2.AsyncClient) -> SignedOut:
    """Revoke the refresh token, then the access token, at the server's revocation endpoint.

    The endpoint comes from the authorization server metadata the MCP server points to (RFC 9728,
    then RFC 8414), checked for the expected issuer before any token is sent there.
    """
    tokens, client = saved.tokens, saved.client
    if tokens is None:
        return SignedOut(server)
    if client is None:
        return SignedOut(server, problem="no client registration is stored to revoke the tokens with")
    try:
        metadata = await _metadata(server, http)
    except (httpx2.HTTPError, OAuthFlowError) as exc:
        return SignedOut(server, problem=f"could not read its OAuth metadata ({exc})", failed=True)
    if metadata is None:
        return SignedOut(server, problem="it publishes no OAuth authorization server metadata")
    if metadata.revocation_endpoint is None:
        return SignedOut(
            server, problem="it advertises no revocation endpoint, so the tokens stay valid there"
        )
    endpoint = str(metadata.revocation_endpoint)
    revoked: list[str] = []
    for kind, token in (("refresh token", tokens.refresh_token), ("access token", tokens.access_token)):
        if not token:
            continue
        hint = kind.replace(" ", "_")
        try:
            response = await _post(http, endpoint, client, {"token": token, "token_type_hint": hint})
        except httpx2.HTTPError as exc:
            problem = f"the request to revoke the {kind} failed ({exc})"
            return SignedOut(server, tuple(revoked), endpoint, problem, failed=True)
        if response.status_code != 200:
            error = _error_of(response)
            problem = f"{endpoint} refused to revoke the {kind} (HTTP {response.status_code}"
            problem += f": {error})" if error else ")"
            return SignedOut(server, tuple(revoked), endpoint, problem, failed=True)
        revoked.append(kind)
    return SignedOut(server, tuple(revoked), endpoint)


async def _metadata(server: str, http: httpx2.AsyncClient) -> OAuthMetadata | None:
    auth_server: str | None = None
    for url in build_protected_resource_metadata_discovery_urls(None, server):
        prm = await handle_protected_resource_response(await http.send(create_oauth_metadata_request(url)))
        if prm is not None and prm.authorization_servers:
            auth_server = str(prm.authorization_servers[0])
            break
    parts = urlsplit(server)
    expected = auth_server or f"{parts.scheme}://{parts.netloc}"
    for url in build_oauth_authorization_server_metadata_discovery_urls(auth_server, server):
        ok, metadata = await handle_auth_metadata_response(
            await http.send(create_oauth_metadata_request(url))
        )
        if not ok:
            break
        if metadata is not None:
            if auth_server is None and issuers_match(str(metadata.issuer), expected):
                expected = str(metadata.issuer)  # a root issuer, spelled with its trailing slash
            validate_metadata_issuer(metadata, expected)
            return metadata
    return None


async def _post(
    http: httpx2.AsyncClient, endpoint: str, client: OAuthClientInformationFull, form: dict[str, str]
) -> httpx2.Response:
    """One revocation request, the client authenticated the way it authenticates at the token endpoint."""
    data = {**form, "client_id": client.client_id or ""}
    headers: dict[str, str] = {}
    if client.client_secret and client.token_endpoint_auth_method == _BASIC:
        pair = f"{quote(client.client_id or '', safe='')}:{quote(client.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif client.client_secret:
        data["client_secret"] = client.client_secret
    return await http.post(endpoint, data=data, headers=headers)


def _error_of(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
