"""handoff: identity-bound URL mode elicitation for MCP servers and clients.

A server author creates a `Handoff`, declares what tools need
(`requires_secret`, `requires_connection`, `requires_approval`), reads values
inside the tool (`secret(name)`, `token(provider)`), and serves `app(mcp)`: the
MCP endpoint and the out-of-band pages where people enter, connect or approve
what must never pass through the MCP client. Client authors start at
`handoff.client`.
"""

__version__ = "0.1.0"  # the one place the version is written; the package metadata reads it from here

from ._appearance import Appearance
from ._entries import Entries, MemoryEntries, SqlEntries
from ._errors import (
    Busy,
    ConfigError,
    HandoffError,
    RateLimited,
    RecordNotFound,
    StorageUnavailable,
    TransitionRefused,
    VaultError,
)
from ._handoff import Handoff, check_public_url
from ._need import ApprovalNeed, ConnectionNeed, Delivery, Describer, Need, SecretNeed, Validator
from .audit import AuditLog, Entry, Event, MemoryAudit, SqlAudit
from .bus import Bus, LocalBus
from .identity import (
    AuthServer,
    BrowserIdentity,
    CustomIdentity,
    JwtVerifier,
    LocalIdentity,
    LocalUser,
    McpIdentity,
    OidcLogin,
    PasswordLogin,
    TokenSubject,
    hash_password,
)
from .ledger import Ledger, Limits, MemoryLedger, Record, SqlLedger, Status
from .oauth import Provider, discover, provider
from .store import DATABASE_URL, Store
from .vault import Keyring, MemoryVault, SqlVault, Vault, dev_key, generate_key

__all__ = [
    "DATABASE_URL",
    "Appearance",
    "ApprovalNeed",
    "AuditLog",
    "AuthServer",
    "BrowserIdentity",
    "Bus",
    "Busy",
    "ConfigError",
    "ConnectionNeed",
    "CustomIdentity",
    "Delivery",
    "Describer",
    "Entries",
    "Entry",
    "Event",
    "Handoff",
    "HandoffError",
    "JwtVerifier",
    "Keyring",
    "Ledger",
    "Limits",
    "LocalBus",
    "LocalIdentity",
    "LocalUser",
    "McpIdentity",
    "MemoryAudit",
    "MemoryEntries",
    "MemoryLedger",
    "MemoryVault",
    "Need",
    "OidcLogin",
    "PasswordLogin",
    "Provider",
    "RateLimited",
    "Record",
    "RecordNotFound",
    "SecretNeed",
    "SqlAudit",
    "SqlEntries",
    "SqlLedger",
    "SqlVault",
    "Status",
    "StorageUnavailable",
    "Store",
    "TokenSubject",
    "TransitionRefused",
    "Validator",
    "Vault",
    "VaultError",
    "check_public_url",
    "dev_key",
    "discover",
    "generate_key",
    "hash_password",
    "provider",
]
