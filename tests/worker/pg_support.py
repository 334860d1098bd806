"""A throw-away PostgreSQL server for the database-outage tests: its own cluster (`initdb`) in a
temporary folder on its own port, started, stopped the hard way and started again by the test. The
shared server on 5432 is never touched.

`repoint` moves this process's default database connection (the test's own, and the one the worker
subprocesses inherit through `tests.worker.conftest.database_url`) onto the throw-away server and
back. It needs the suite itself to run on PostgreSQL (same backend, only the address changes).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import connection

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/local/bin", "/usr/bin")


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in PG_BIN_CANDIDATES:
        path = Path(folder) / name
        if path.exists():
            return str(path)
    return None


def available() -> bool:
    return pg_bin("initdb") is not None and pg_bin("pg_ctl") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    """`initdb` + `pg_ctl` as the `postgres` system user when the tests run as root (PostgreSQL
    refuses to run as root), trust authentication on 127.0.0.1 only."""

    def __init__(self) -> None:
        # Under /tmp, not TMPDIR: the `postgres` user must be able to reach it (var/ is 0700).
        self.root = Path(tempfile.mkdtemp(prefix="bx-pg-", dir="/tmp" if Path("/tmp").is_dir() else None))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "bx"
        self.name = "bx_outage"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, user="postgres")
            os.chmod(self.root, 0o700)

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=self.root, check=False)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(
                done.returncode, cmd, output=done.stdout, stderr=done.stderr.decode(errors="replace")[-2000:]
            )

    def init(self) -> ThrowawayPostgres:
        self._run(
            str(pg_bin("initdb")), "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8",
            "--no-instructions",
        )  # fmt: skip
        self.start()
        subprocess.run(
            [str(pg_bin("createdb") or "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
             self.name],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        return self

    def start(self) -> None:
        # Durable commits, as in production: with synchronous_commit=off (or fsync=off) a crash loses
        # the last committed claims and sending marks, and a transfer could be sent twice.
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        self._run(
            str(pg_bin("pg_ctl")), "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Immediate shutdown: every connection is cut, as when the server dies."""
        self._run(str(pg_bin("pg_ctl")), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def hold_table_lock(self, table: str) -> Any:
        """See `hold_table_lock`; on this server."""
        return hold_table_lock(table)

    def destroy(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    @contextmanager
    def repoint(self) -> Iterator[None]:
        """This process's default connection uses the throw-away database (migrated) until exit."""
        saved = {k: connection.settings_dict[k] for k in ("NAME", "HOST", "PORT", "USER", "PASSWORD")}
        connection.close()
        connection.settings_dict.update(
            NAME=self.name, HOST="127.0.0.1", PORT=str(self.port), USER=self.user, PASSWORD=""
        )
        try:
            call_command("migrate", verbosity=0, interactive=False)
            yield
        finally:
            connection.close()
            connection.settings_dict.update(saved)


def hold_table_lock(table: str) -> Any:
    """A second connection to the database the default connection points at, holding ACCESS
    EXCLUSIVE on `table` (every reader waits) until it is closed or the server stops. Used to catch a
    worker between its claim and its call: the re-checks after the claim read `transfers_approval`."""
    import psycopg

    s = connection.settings_dict
    conn = psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=int(s["PORT"] or 5432),
        user=s["USER"],
        password=s["PASSWORD"] or None,
        dbname=s["NAME"],
        autocommit=False,
    )
    conn.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
    return conn
