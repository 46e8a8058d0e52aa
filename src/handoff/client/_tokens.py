"""Where sign-ins are kept: per server URL, the OAuth client registered there and the tokens it holds.

`MemoryTokens` forgets everything when the process ends; `FileTokens` keeps sign-ins between runs in
one JSON file only its owner can read (0600 in a 0700 folder), replaced atomically on every change.
Any other `TokenStore` (an OS keyring, a secrets manager) plugs into `SignIn` the same way.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import ValidationError

from .._command import command
from .._errors import HandoffError

_FORMAT = 1


class TokenFileError(HandoffError):
    """The token file cannot be used safely: readable by others, not its owner's, or not a token file."""


@dataclass(frozen=True)
class SavedSignIn:
    """One server's sign-in: the client registration and the tokens (never shown in a repr)."""

    client: OAuthClientInformationFull | None = field(default=None, repr=False)
    tokens: OAuthToken | None = field(default=None, repr=False)
    expires_at: float | None = None
    """When the access token expires (seconds since the epoch), so a later run refreshes it in time."""

    def with_tokens(self, tokens: OAuthToken) -> SavedSignIn:
        expires_at = time.time() + tokens.expires_in if tokens.expires_in is not None else None
        return replace(self, tokens=tokens, expires_at=expires_at)

    def as_json(self) -> dict[str, Any]:
        return {
            "client": self.client.model_dump(mode="json", exclude_none=True) if self.client else None,
            "tokens": self.tokens.model_dump(mode="json", exclude_none=True) if self.tokens else None,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SavedSignIn:
        client, tokens = data.get("client"), data.get("tokens")
        return cls(
            client=OAuthClientInformationFull.model_validate(client) if client else None,
            tokens=OAuthToken.model_validate(tokens) if tokens else None,
            expires_at=data.get("expires_at"),
        )


class TokenStore(Protocol):
    """Keeps one `SavedSignIn` per server URL for `SignIn`; implement it to keep them elsewhere."""

    async def load(self, server: str) -> SavedSignIn | None: ...

    async def save(self, server: str, saved: SavedSignIn) -> None:
        """Replace the server's entry as a whole (registration, tokens and expiry belong together)."""
        ...

    async def delete(self, server: str) -> bool:
        """Forget the server's sign-in; False when there was none."""
        ...

    async def servers(self) -> list[str]: ...


class MemoryTokens:
    """Sign-ins for this process only: nothing is written anywhere."""

    def __init__(self) -> None:
        self._saved: dict[str, SavedSignIn] = {}

    async def load(self, server: str) -> SavedSignIn | None:
        return self._saved.get(server)

    async def save(self, server: str, saved: SavedSignIn) -> None:
        self._saved[server] = saved

    async def delete(self, server: str) -> bool:
        return self._saved.pop(server, None) is not None

    async def servers(self) -> list[str]:
        return sorted(self._saved)


def default_token_file() -> Path:
    """`$HANDOFF_TOKENS`, else `$XDG_CONFIG_HOME/handoff/tokens.json` (`~/.config/handoff/tokens.json`)."""
    if override := os.environ.get("HANDOFF_TOKENS"):
        return Path(override).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "handoff" / "tokens.json"


class FileTokens:
    """Sign-ins kept between runs in one JSON file, keyed by server URL.

    The file is created 0600 in a folder created 0700, and every change is written to a temporary
    file, flushed to disk and renamed over it, under a lock shared by concurrent runs. A file that
    other users could read, that belongs to someone else, or that is a symbolic link is refused.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_token_file()

    async def load(self, server: str) -> SavedSignIn | None:
        entry = (await anyio.to_thread.run_sync(self._read)).get(server)
        return self._entry(server, entry) if entry is not None else None

    async def save(self, server: str, saved: SavedSignIn) -> None:
        def change(servers: dict[str, Any]) -> None:
            servers[server] = saved.as_json()

        await anyio.to_thread.run_sync(self._change, change)

    async def delete(self, server: str) -> bool:
        found: list[bool] = []

        def change(servers: dict[str, Any]) -> None:
            found.append(servers.pop(server, None) is not None)

        await anyio.to_thread.run_sync(self._change, change)
        return found[0]

    async def servers(self) -> list[str]:
        return sorted(await anyio.to_thread.run_sync(self._read))

    def _entry(self, server: str, entry: dict[str, Any]) -> SavedSignIn:
        try:
            return SavedSignIn.from_json(entry)
        except (ValidationError, AttributeError, TypeError) as exc:
            raise TokenFileError(
                f"the sign-in for {server} in {self.path} is damaged ({type(exc).__name__}); "
                f"run {command('logout', server)} and sign in again"
            ) from None

    def _read(self) -> dict[str, Any]:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise TokenFileError(
                    f"{self.path} is a symbolic link; sign-ins are only kept in a plain file. "
                    "Remove the link (or point HANDOFF_TOKENS elsewhere) and sign in again"
                ) from None
            raise TokenFileError(f"cannot read {self.path}: {exc.strerror}") from None
        with os.fdopen(fd, encoding="utf-8") as file:
            self._check_private(os.fstat(file.fileno()))
            text = file.read()
        try:
            data = json.loads(text) if text.strip() else {"format": _FORMAT, "servers": {}}
        except ValueError as exc:
            raise TokenFileError(
                f"{self.path} is not a handoff token file ({exc}); delete it and sign in again"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
            raise TokenFileError(f"{self.path} is not a handoff token file; delete it and sign in again")
        if data.get("format") != _FORMAT:
            raise TokenFileError(
                f"{self.path} was written by another version of handoff (format {data.get('format')!r}); "
                "upgrade handoff, or delete the file and sign in again"
            )
        servers: dict[str, Any] = data["servers"]
        return servers

    def _check_private(self, st: os.stat_result) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise TokenFileError(f"{self.path} is not a regular file; point HANDOFF_TOKENS at a file")
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            raise TokenFileError(
                f"{self.path} belongs to another user; refusing to use it. "
                "Point HANDOFF_TOKENS at a file of your own"
            )
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise TokenFileError(
                f"{self.path} can be read by other users (mode {stat.S_IMODE(st.st_mode):04o}), "
                f"so its tokens may have leaked; run `chmod 600 {self.path}`, "
                f"then {command('logout')} to revoke them"
            )

    def _change(self, change: Callable[[dict[str, Any]], None]) -> None:
        with self._locked():
            servers = self._read()
            change(servers)
            self._write({"format": _FORMAT, "servers": servers})

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl  # POSIX only, like the file modes this store relies on

        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock)

    def _write(self, data: dict[str, Any]) -> None:
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file, indent=1, sort_keys=True)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


class ServerTokens:
    """The SDK's `TokenStorage` for one server, kept in a `TokenStore`.

    It holds the server's entry in memory and writes the whole entry back on every change, so the
    registration and its tokens always land together, with the access token's expiry.
    """

    def __init__(self, store: TokenStore, server: str, saved: SavedSignIn | None = None) -> None:
        self.store = store
        self.server = server
        self.saved = saved or SavedSignIn()

    @classmethod
    async def open(cls, store: TokenStore, server: str) -> ServerTokens:
        return cls(store, server, await store.load(server))

    async def get_tokens(self) -> OAuthToken | None:
        return self.saved.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.saved = self.saved.with_tokens(tokens)
        await self.store.save(self.server, self.saved)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.saved.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        if client_info.client_secret and client_info.token_endpoint_auth_method is None:
            # The server issued a secret anyway and named no method: RFC 7591's default is
            # client_secret_basic (the SDK's flow would otherwise send the secret nowhere).
            client_info.token_endpoint_auth_method = "client_secret_basic"  # noqa: S105 (a method)
        self.saved = replace(self.saved, client=client_info)
        await self.store.save(self.server, self.saved)

    def forget_client(self) -> None:
        """Drop the registration for this run (the next sign-in registers again and saves the new one)."""
        self.saved = replace(self.saved, client=None)
