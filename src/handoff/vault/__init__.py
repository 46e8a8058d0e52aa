"""The vault: secrets encrypted with AES-256-GCM, bound to their owner and name."""

from ._keyring import KEYS_ENV, Keyring, associated_data, dev_key, generate_key
from ._store import MemoryVault, Rotation, SqlVault, Unreadable, Vault

__all__ = [
    "KEYS_ENV",
    "Keyring",
    "MemoryVault",
    "Rotation",
    "SqlVault",
    "Unreadable",
    "Vault",
    "associated_data",
    "dev_key",
    "generate_key",
]
