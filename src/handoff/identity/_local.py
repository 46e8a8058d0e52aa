"""One person on their own machine: a loopback-only server whose pages need the person's passphrase.

Every local process can reach a loopback server, the AI agent's own shell
included. Without a check, the agent could fetch an approval page and post
"Approve" itself. So the pages accept nothing until the browser has signed in
with a passphrase the person chose, which the agent is never told; sign-in
attempts are throttled like any other, and the session lasts `session_life`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from starlette.datastructures import FormData
from starlette.requests import Request

from .._command import command
from .._errors import ConfigError
from .._i18n import gettext as _
from ._browser import is_loopback
from ._login import PasswordLogin, SignInRefused
from ._passwords import hash_password, is_password_hash
from ._sessions import SESSION_LIFE, BrowserSessions


def write_passphrase(path: str | os.PathLike[str], passphrase: str) -> Path:
    """Keep the hash of `passphrase` in `path` (0600, written atomically) for `LocalIdentity.from_file`."""
    if len(passphrase) < 8:
        raise ConfigError("choose a passphrase of at least 8 characters that the AI agent is never told")
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_name(f".{file.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(hash_password(passphrase) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, file)
    return file


class LocalIdentity(PasswordLogin):
    """Single-user, loopback-only: the browser user is the local principal `name`, once they signed
    in with the passphrase whose `hash_password(...)` is `passphrase`.

    Requests from any non-loopback peer are refused, and `handoff` refuses to
    start a server with this identity on a non-loopback address. Keep the
    passphrase out of the agent's reach: not in a file it can read, not in its
    prompt; `LocalIdentity.from_file` reads the hash that `handoff passphrase`
    wrote (0600).
    """

    loopback_only = True

    def __init__(self, passphrase: str, *, name: str = "local", session_life: float = SESSION_LIFE) -> None:
        if not is_password_hash(passphrase):
            raise ConfigError(
                "LocalIdentity needs the hash of the person's passphrase, not the passphrase: pass "
                "hash_password(passphrase), or LocalIdentity.from_file(path) after "
                f"{command('passphrase', 'PATH')}"
            )
        super().__init__({name: passphrase})
        self.name = name
        self.fixed_user = name
        self.sessions = BrowserSessions(session_life)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, name: str = "local") -> LocalIdentity:
        """The identity whose passphrase hash `handoff passphrase PATH` wrote."""
        file = Path(path)
        try:
            mode = file.stat().st_mode
            stored = file.read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the passphrase file {file} ({exc.strerror}); create it with "
                f"{command('passphrase', str(file))}"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"passphrase file {file} is readable by others; run chmod 600 {file}")
        return cls(stored, name=name)

    async def current(self, request: Request) -> str | None:
        if not _from_loopback(request):
            return None
        return await super().current(request)

    async def authenticate(self, request: Request, form: FormData, purpose: str) -> str | SignInRefused:
        if not _from_loopback(request):
            return SignInRefused(_("This server takes sign-ins only from this computer."), 403)
        return await super().authenticate(request, form, purpose)


def _from_loopback(request: Request) -> bool:
    return is_loopback(request.client.host if request.client else "")
