"""Connections to third-party services over OAuth 2.0 / OpenID Connect."""

from ._providers import PRESETS, Provider, discover, provider
from ._tokens import Connections, TokenSet, vault_name

__all__ = ["PRESETS", "Connections", "Provider", "TokenSet", "discover", "provider", "vault_name"]
