"""A real PostgreSQL server for tests: initdb into a temp dir, pg_ctl on a free loopback port."""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from _server import free_port
from psycopg import sql
from psycopg.rows import TupleRow

ROLE = "handoff"
SUPERUSER = "postgres"
UNPRIVILEGED_USER = "nobody"  # postgres refuses to run as root
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SETTING = re.compile(r"[A-Za-z0-9_.:,]+")
# Fast and still safe when a process dies: fsync and full page writes only guard against the machine
# crashing. synchronous_commit stays on, so what a commit confirmed survives `kill()` (with it off a
# commit is confirmed before its WAL leaves the server's memory); with fsync off it costs next to nothing.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "300",
    "fsync": "off",
    "full_page_writes": "off",
}


def postgres_bindir() -> Path:
    """The directory holding initdb and pg_ctl (the newest Debian version, or the PATH's)."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        found.append(Path(initdb).parent)
    for bindir in found:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise RuntimeError(
        "PostgreSQL's server programs (initdb, pg_ctl) were not found in /usr/lib/postgresql/*/bin "
        "or on the PATH: install Debian's postgresql (apt-get install postgresql)"
    )


class Postgres:
    """A throwaway PostgreSQL server on 127.0.0.1 with a `handoff` role and database.

    `stop()` keeps the data directory (so `start()` brings the same data back); `close()` stops the
    server and removes its files. The passwords are random and never part of `repr()`.
    """

    def __init__(
        self, *, port: int | None = None, bindir: Path | None = None, settings: dict[str, str] | None = None
    ) -> None:
        self.bindir = bindir or postgres_bindir()
        self._port = port or free_port()
        self.settings = {**SETTINGS, **(settings or {})}
        for key, value in self.settings.items():
            if not _SETTING.fullmatch(key) or not _SETTING.fullmatch(value):
                raise ValueError(f"not a plain setting: {key}={value}")
        self._password = "pw-" + secrets.token_urlsafe(18)
        self._admin_password = "pw-" + secrets.token_urlsafe(18)
        self._owner: pwd.struct_passwd | None = pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None
        self.root = Path(
            tempfile.mkdtemp(prefix="handoff-pg-", dir="/tmp" if Path("/tmp").is_dir() else None)
        )
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_path = self.root / "postgres.log"
        self._initialised = False
        self._running = False
        self._closed = False
        atexit.register(self._at_exit)

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"Postgres(port={self._port}, data_dir={str(self.data_dir)!r}, {state})"

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        return self._port

    @property
    def password(self) -> str:
        """The `handoff` role's password."""
        return self._password

    @property
    def running(self) -> bool:
        return self._running

    @property
    def url(self) -> str:
        """The `handoff` database, as the `handoff` role."""
        return self.database_url(ROLE)

    @property
    def admin_url(self) -> str:
        """The `postgres` database, as the `postgres` superuser."""
        return f"postgresql://{SUPERUSER}:{self._admin_password}@127.0.0.1:{self._port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://{ROLE}:{self._password}@127.0.0.1:{self._port}/{name}"

    def start(self) -> Postgres:
        """Start the server (running initdb and creating the role and database the first time)."""
        if self._closed:
            raise RuntimeError("this Postgres was closed")
        if self._running:
            return self
        if not self._initialised:
            self._initdb()
        self._pg_ctl(
            "start",
            "-w",
            "-t",
            "60",
            "-l",
            str(self.log_path),
            "-o",
            " ".join(
                [f"-p {self._port} -k {self.socket_dir}", *(f"-c {k}={v}" for k, v in self.settings.items())]
            ),
        )
        self._running = True
        if not self._initialised:
            with self.admin_connection() as conn:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(ROLE), sql.Literal(self._password)
                    )
                )
                conn.execute(sql.SQL("CREATE DATABASE {0} OWNER {0}").format(sql.Identifier(ROLE)))
            self._initialised = True
        return self

    def stop(self) -> None:
        """Stop the server with `pg_ctl stop -m fast`; the data stays for the next `start()`."""
        if self._running:
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60")
            self._running = False

    def restart(self) -> None:
        """Stop (fast) and start again on the same port and data directory."""
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends, as a crash would; `start()` recovers the data."""
        if not self._running:
            return
        pid = self._postmaster_pid()
        self._running = False
        if pid is None:
            return
        victims = [pid, *_children(pid)]
        os.kill(pid, signal.SIGKILL)
        for child in victims[1:]:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in victims):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL processes {victims} outlived SIGKILL")
            time.sleep(0.01)
        # An unreaped (zombie) postmaster would make the next postmaster think it still runs.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        for lock in self.socket_dir.glob(".s.PGSQL.*"):
            lock.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the server (killing it if it will not stop) and remove its files."""
        if self._closed:
            return
        try:
            self.stop()
        except Exception:
            self.kill()
        finally:
            self._closed = True
            atexit.unregister(self._at_exit)
            shutil.rmtree(self.root, ignore_errors=True)

    def admin_connection(self, dbname: str = "postgres") -> psycopg.Connection[TupleRow]:
        """A new autocommit connection as the superuser (the caller closes it)."""
        conninfo = self.admin_url.rsplit("/", 1)[0] + "/" + dbname
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=10)

    def fresh_database(self, name: str) -> str:
        """Create a new empty database `name` owned by the `handoff` role; return its URL."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a plain database name: {name!r}")
        with self.admin_connection() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(ROLE))
            )
        return self.database_url(name)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- internals

    def _initdb(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self._admin_password + "\n")
        self.socket_dir.mkdir(exist_ok=True)
        if self._owner is not None:
            for path in (self.root, pwfile, self.socket_dir):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        try:
            self._run(
                self.bindir / "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _pg_ctl(self, *args: str) -> None:
        self._run(self.bindir / "pg_ctl", "-D", str(self.data_dir), *args)

    def _run(self, program: Path, *args: str) -> None:
        command = [str(program), *args]
        if self._owner is not None:
            command = [
                "setpriv",
                f"--reuid={self._owner.pw_uid}",
                f"--regid={self._owner.pw_gid}",
                "--clear-groups",
                *command,
            ]
        done = subprocess.run(
            command,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).replace(self._admin_password, "***")
            raise RuntimeError(
                f"{program.name} {args[0] if args else ''} failed ({done.returncode}):\n{output}\n"
                f"--- {self.log_path}:\n{self.log()[-3000:]}"
            )

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def _at_exit(self) -> None:
        try:
            self.kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
