"""handoff: identity-bound URL mode elicitation for MCP servers and clients.

A server author creates a `Handoff`, declares what tools need with
`requires_secret`, reads values with `secret(name)`, and serves `app(mcp)`:
the MCP endpoint and the out-of-band pages where users enter what must never
pass through the MCP client.
"""

from ._errors import ConfigError, HandoffError, RateLimited, RecordNotFound, TransitionRefused, VaultError
from ._handoff import Handoff, check_public_url
from ._need import Delivery, SecretNeed, Validator
from .audit import AuditLog, Entry, Event, MemoryAudit, SQLiteAudit
from .bus import Bus, LocalBus
from .identity import (
    AuthServer,
    BrowserIdentity,
    CustomIdentity,
    LocalIdentity,
    LocalUser,
    McpIdentity,
    PasswordLogin,
    TokenSubject,
)
from .ledger import Ledger, Limits, MemoryLedger, Record, SQLiteLedger, Status
from .vault import Keyring, MemoryVault, SQLiteVault, Vault, generate_key

__all__ = [
    "AuditLog",
    "AuthServer",
    "BrowserIdentity",
    "Bus",
    "ConfigError",
    "CustomIdentity",
    "Delivery",
    "Entry",
    "Event",
    "Handoff",
    "HandoffError",
    "Keyring",
    "Ledger",
    "Limits",
    "LocalBus",
    "LocalIdentity",
    "LocalUser",
    "McpIdentity",
    "MemoryAudit",
    "MemoryLedger",
    "MemoryVault",
    "PasswordLogin",
    "RateLimited",
    "Record",
    "RecordNotFound",
    "SQLiteAudit",
    "SQLiteLedger",
    "SQLiteVault",
    "SecretNeed",
    "Status",
    "TokenSubject",
    "TransitionRefused",
    "Validator",
    "Vault",
    "VaultError",
    "check_public_url",
    "generate_key",
]
