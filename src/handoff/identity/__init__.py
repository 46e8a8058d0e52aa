"""Identity: who calls on the MCP side, and who is in the browser."""

from ._authserver import AuthServer
from ._browser import BrowserIdentity, CustomIdentity, is_loopback
from ._local import LocalIdentity, write_passphrase
from ._login import PasswordLogin
from ._oidc import Discovery, JwtVerifier, OidcLogin
from ._passwords import check_password, hash_password
from ._principal import LocalUser, McpIdentity, TokenSubject, access_token
from ._throttle import Throttle

__all__ = [
    "AuthServer",
    "BrowserIdentity",
    "CustomIdentity",
    "Discovery",
    "JwtVerifier",
    "LocalIdentity",
    "LocalUser",
    "McpIdentity",
    "OidcLogin",
    "PasswordLogin",
    "Throttle",
    "TokenSubject",
    "access_token",
    "check_password",
    "hash_password",
    "is_loopback",
    "write_passphrase",
]
