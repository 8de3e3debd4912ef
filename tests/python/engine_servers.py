"""A throw-away PostgreSQL server for tests: initdb in a temporary folder, a free port on loopback, stopped after.

Uses the server binaries of Debian's postgresql package (/usr/lib/postgresql/<version>/bin) or those on PATH.
PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user (via runuser).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DATABASE = "leadscore"
USER = "leadscore"


@dataclass(frozen=True)
class PostgresServer:
    """A running server: where to reach it, as the environment variables profiles.yml reads."""

    host: str
    port: int
    user: str
    database: str

    def env(self) -> dict[str, str]:
        return {
            "LEADSCORE_PG_HOST": self.host,
            "LEADSCORE_PG_PORT": str(self.port),
            "LEADSCORE_PG_USER": self.user,
            "LEADSCORE_PG_PASSWORD": "",
            "LEADSCORE_PG_DATABASE": self.database,
        }


def postgres_bin_dir() -> Path | None:
    """The folder of initdb and pg_ctl: the newest /usr/lib/postgresql/*/bin, else the one on PATH."""
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    if versions:
        return Path(versions[-1]).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a PostgreSQL server with a `leadscore` database (trust auth, loopback only); stop it after."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found: install Debian's postgresql package")
    as_root = os.geteuid() == 0
    run_as: list[str] = ["runuser", "-u", "postgres", "--"] if as_root else []
    root = Path(tempfile.mkdtemp(prefix="leadscore-pg-"))
    data = root / "data"
    if as_root:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
    port = free_port()
    log = root / "server.log"

    def run(*args: str) -> None:
        completed = subprocess.run([*run_as, *args], capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed:\n{completed.stdout}{completed.stderr}{server_log}")

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync")  # fmt: skip
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off -c full_page_writes=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
        try:
            _create_database(port)
            yield PostgresServer(host="127.0.0.1", port=port, user=USER, database=DATABASE)
        finally:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _create_database(port: int) -> None:
    import psycopg2

    deadline = time.monotonic() + 30
    while True:
        try:
            con = psycopg2.connect(host="127.0.0.1", port=port, user=USER, dbname="postgres")
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        con.autocommit = True
        with con.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        con.close()
