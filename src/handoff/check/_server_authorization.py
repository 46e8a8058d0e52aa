"""Where the server under check signs people in: the origins of its authorization server, found the
way an MCP client finds them (RFC 9728 protected-resource metadata, then RFC 8414 or OpenID
metadata), so that the checker's browser signs in there and nowhere else."""

from __future__ import annotations

from typing import Any

import httpx2
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    handle_auth_metadata_response,
    handle_protected_resource_response,
)

from ._server_url import origin


async def authorization_origins(
    url: str, transport: httpx2.AsyncBaseTransport, initialize: dict[str, Any], headers: dict[str, str]
) -> frozenset[str]:
    """The origins of the authorization server of the MCP endpoint at `url` (its issuers and their
    authorization endpoints); without protected-resource metadata, the endpoint's own origin, where
    an MCP client then looks for it too."""
    async with httpx2.AsyncClient(transport=transport, follow_redirects=False) as http:
        async with http.stream("POST", url, json=initialize, headers=headers) as response:
            refused = response.status_code in (401, 403)
            named = extract_resource_metadata_from_www_auth(response) if refused else None
        issuers: list[str] = []
        for candidate in build_protected_resource_metadata_discovery_urls(named, url):
            metadata = await handle_protected_resource_response(await http.get(candidate))
            if metadata is not None:
                issuers = [str(server) for server in metadata.authorization_servers]
                break
        found = {origin(issuer) for issuer in issuers} if issuers else {origin(url)}
        looked_up: list[str | None] = [*issuers] if issuers else [None]
        for issuer in looked_up:
            for candidate in build_oauth_authorization_server_metadata_discovery_urls(issuer, url):
                served, described = await handle_auth_metadata_response(await http.get(candidate))
                if described is not None:
                    found.add(origin(str(described.authorization_endpoint)))
                    break
                if not served:
                    break
    return frozenset(o for o in found if o)
