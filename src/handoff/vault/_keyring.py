"""Master keys for the vault: AES-256-GCM, several at once for rotation."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .._command import command
from .._errors import ConfigError, VaultError

KEYS_ENV = "HANDOFF_VAULT_KEYS"
_AD_PREFIX = b"handoff/vault/v1"


def generate_key() -> str:
    """A new random 256-bit key, base64url, ready for `HANDOFF_VAULT_KEYS`."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def _decode(text: str, position: int) -> bytes:
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError(
            f"vault key #{position + 1} is not 32 bytes of base64url; "
            f"create one with {command('keygen')} and put it in HANDOFF_VAULT_KEYS"
        )
    return raw


def dev_key(path: str | Path) -> bytes:
    """A 32-byte key read from `path`, or created there with mode 0600 (dev mode only).

    A new key is written to a temporary file, flushed to disk, and linked into place only if no key
    is there yet: a crash never leaves an empty key file, and of two processes starting at once one
    key wins and both use it.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(generate_key() + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(temporary, path)  # atomic, and fails if another process got there first
            except FileExistsError:
                pass
            _fsync_folder(path.parent)
        finally:
            temporary.unlink(missing_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"dev key file {path} is readable by others (mode {mode:o}); run chmod 600 on it")
    text = path.read_text()
    try:
        return _decode(text, 0)
    except ConfigError:
        raise ConfigError(
            f"dev key file {path} does not hold a key (it is empty or damaged); delete it to create a "
            "new one, knowing that what was encrypted with the old key cannot be read any more"
        ) from None


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=4096)
def associated_data(principal: str, name: str) -> bytes:
    """Bind a ciphertext to its owner and name: a row copied elsewhere will not decrypt."""
    parts = (principal.encode(), name.encode())
    return _AD_PREFIX + b"".join(len(p).to_bytes(4, "big") + p for p in parts)


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


class Keyring:
    """An ordered set of keys: the first encrypts, every one decrypts."""

    def __init__(self, keys: Sequence[bytes], *, dev_file: Path | None = None) -> None:
        if not keys:
            raise ConfigError(
                "no vault key is configured: set HANDOFF_VAULT_KEYS (create a key with "
                f"{command('keygen')}), or use dev mode, which keeps a generated key in a local file"
            )
        self._keys = {hashlib.sha256(k).hexdigest()[:12]: AESGCM(k) for k in keys}
        self.current = hashlib.sha256(keys[0]).hexdigest()[:12]
        if len(self._keys) != len(keys):
            raise ConfigError("the same vault key is listed twice in HANDOFF_VAULT_KEYS; remove the repeat")
        self.dev_file = dev_file  # where a dev-mode key lives, for hints that name the command to run

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """Read a comma-separated list of base64url keys, newest first."""
        items = [t for t in text.split(",") if t.strip()]
        return cls([_decode(t, i) for i, t in enumerate(items)])

    @classmethod
    def from_env(cls) -> Keyring:
        return cls.parse(os.environ.get(KEYS_ENV, ""))

    @classmethod
    def dev(cls, path: str | Path) -> Keyring:
        """Dev mode: one key kept in a 0600 file, created on first use. Never for production."""
        return cls([dev_key(path)], dev_file=Path(path))

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def seal(self, principal: str, name: str, value: bytes) -> Sealed:
        nonce = os.urandom(12)
        ct = self._keys[self.current].encrypt(nonce, value, associated_data(principal, name))
        return Sealed(self.current, nonce, ct)

    def open(self, principal: str, name: str, sealed: Sealed) -> bytes:
        key = self._keys.get(sealed.key_id)
        if key is None:
            raise VaultError(
                f"secret {name!r} was encrypted with key {sealed.key_id}, which is not configured; "
                "add that key back to HANDOFF_VAULT_KEYS (after the new one) and run "
                f"{command('vault', 'rotate')}"
            )
        try:
            return key.decrypt(sealed.nonce, sealed.ciphertext, associated_data(principal, name))
        except InvalidTag:
            raise VaultError(
                f"secret {name!r} failed its integrity check: it was altered or belongs to another user; "
                "ask the user to enter it again"
            ) from None
