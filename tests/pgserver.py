"""A real PostgreSQL server for the tests: initdb and pg_ctl into a temporary folder, on a
free loopback port, as a non-root user (initdb refuses root), with password auth.

`PgServer.start()` raises `Unavailable` with the reason when no server can be started
(no binaries, no user to run them as); the fixtures turn that into a skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.servers import free_port

USER = "armswatch"
PASSWORD = "test-secret-pw"


class Unavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


def find_bindir() -> Path:
    """The folder of Debian's initdb/pg_ctl (newest version), or of those on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise Unavailable("no PostgreSQL binaries (apt-get install postgresql)")


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


class PgServer:
    """One throwaway cluster; `dsn(db)` for a database in it, `create_db()` for a fresh one."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="armswatch-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if not shutil.which("runuser"):
                raise Unavailable("running as root without runuser to drop to 'nobody'")
            self.as_user = ["runuser", "-u", "nobody", "--"]
            os.chown(self.root, 65534, 65534)
        os.chmod(self.root, 0o755)

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=120, cwd=self.root
        )
        if done.returncode != 0:
            raise Unavailable(f"{Path(args[0]).name} failed: {done.stderr.strip()[-500:]}")

    def start(self) -> PgServer:
        """initdb, then pg_ctl start; Unavailable when either fails."""
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_user:
            os.chown(pwfile, 65534, 65534)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            "--pwfile",
            str(pwfile),
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.restart()
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (mode fast or immediate); the folder stays for a restart."""
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "stop"],
            capture_output=True,
            timeout=60,
        )

    def restart(self) -> None:
        """Start the (initialised, stopped) server on its port."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        pg_ctl = str(self.bindir / "pg_ctl")
        log = str(self.root / "log")
        self._run(pg_ctl, "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", "60", "start")

    def close(self) -> None:
        """Stop the server and delete its folder."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, db: str = "postgres") -> str:
        """The URL of a database, without the password (it is in PGPASSWORD)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{db}"

    def create_db(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.dsn(), password=PASSWORD, autocommit=True) as conn:
            conn.execute(f"create database {name}")
        return self.dsn(name)
