"""Passwords as handoff keeps them: scrypt hashes, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """scrypt, stored as `scrypt$<salt hex>$<hash hex>`."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def is_password_hash(stored: str) -> bool:
    """True for what `hash_password` returns: `scrypt$<32 hex digits>$<128 hex digits>`."""
    return re.fullmatch(r"scrypt\$[0-9a-f]{32}\$[0-9a-f]{128}", stored) is not None


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, want = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hash_password(password, salt=bytes.fromhex(salt)).split("$")[2]
    return hmac.compare_digest(got, want)


DUMMY_HASH = hash_password("not a password")
HASHES_AT_ONCE = max(1, (os.cpu_count() or 2) // 2)
"""Password checks that may run at the same time (each holds a core and 16 MiB): half the cores, so
the event loop keeps one for everything else."""
