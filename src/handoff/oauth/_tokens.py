"""Token sets in the vault: stored per (principal, provider), refreshed once before they expire."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from .._locks import NamedLocks
from ._providers import Provider

if TYPE_CHECKING:
    from ..vault import Vault

REFRESH_MARGIN = 60.0
"""Refresh this many seconds before expiry, so a token never expires in a tool's hands."""


def vault_name(provider: str) -> str:
    return f"connection:{provider}"


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret
    refresh_token: str | None = None
    expires_at: float | None = None
    scope: str = ""

    @classmethod
    def from_response(cls, token: Mapping[str, Any], previous: TokenSet | None = None) -> TokenSet:
        expires_at = token.get("expires_at")
        if expires_at is None and token.get("expires_in") is not None:
            expires_at = time.time() + float(token["expires_in"])
        return cls(
            access_token=str(token["access_token"]),
            token_type=str(token.get("token_type") or "Bearer"),
            refresh_token=token.get("refresh_token") or (previous.refresh_token if previous else None),
            expires_at=None if expires_at is None else float(expires_at),
            scope=str(token.get("scope") or (previous.scope if previous else "")),
        )

    def scopes(self) -> set[str]:
        return set(self.scope.replace(",", " ").split())

    def fresh(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at - REFRESH_MARGIN > now


def client(provider: Provider, redirect_uri: str | None = None) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        token_endpoint_auth_method=provider.token_auth_method,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=20,
    )


Lock = Callable[[str], AbstractAsyncContextManager[None]]


class Connections:
    """Reads token sets, refreshing an expiring one once even when many calls need it at the same time.

    `lock(name)` is held by one caller in every process on the store (a PostgreSQL advisory lock
    across replicas): of 20 calls on three replicas that find a token expiring, one refreshes it and
    the others, once they get the lock, read the refreshed token.
    """

    def __init__(self, vault: Vault, lock: Lock | None = None) -> None:
        self.vault = vault
        self._lock: Lock = lock or NamedLocks()

    async def load(self, principal: str, provider: str) -> TokenSet | None:
        raw = await self.vault.get(principal, vault_name(provider))
        return None if raw is None else TokenSet(**json.loads(raw))

    async def store(self, principal: str, provider: str, tokens: TokenSet) -> None:
        await self.vault.put(principal, *self.entry(provider, tokens))

    @staticmethod
    def entry(provider: str, tokens: TokenSet) -> tuple[str, str]:
        """The vault name and value a connection's token set is kept under."""
        return vault_name(provider), json.dumps(asdict(tokens))

    async def forget(self, principal: str, provider: str) -> bool:
        return await self.vault.delete(principal, vault_name(provider))

    async def usable(self, principal: str, provider: Provider, scopes: tuple[str, ...]) -> TokenSet | None:
        """A token set with `scopes` that is good for a while, refreshed if needed; None → connect again."""
        tokens = await self.load(principal, provider.name)
        if tokens is None or not set(scopes) <= tokens.scopes():
            return None
        if tokens.fresh(time.time()):
            return tokens
        async with self._lock(f"refresh:{json.dumps([principal, provider.name])}"):
            tokens = await self.load(principal, provider.name)  # another call may have refreshed it
            if tokens is None:
                return None
            if tokens.fresh(time.time()):
                return tokens
            if not tokens.refresh_token:
                return None
            try:
                async with client(provider) as oauth:
                    answer = await oauth.refresh_token(provider.token_url, refresh_token=tokens.refresh_token)
            except (OAuthError, OSError, ValueError):
                return None
            refreshed = TokenSet.from_response(answer, tokens)
            if not set(scopes) <= refreshed.scopes():
                return None
            await self.store(principal, provider.name, refreshed)
            return refreshed

    async def revoke(self, principal: str, provider: Provider) -> bool:
        """Forget the token set, and tell the provider when it has a revocation endpoint."""
        tokens = await self.load(principal, provider.name)
        if tokens is None:
            return False
        if provider.revocation_url:
            try:
                async with client(provider) as oauth:
                    await oauth.revoke_token(
                        provider.revocation_url, token=tokens.refresh_token or tokens.access_token
                    )
            except (OAuthError, OSError, ValueError):
                pass  # forgetting it here matters most; the provider may already have dropped it
        return await self.forget(principal, provider.name)
