"""A real PostgreSQL server for a test: Debian's `postgresql` binaries, a fresh cluster in a temporary
folder, listening on a free loopback port, stopped and removed afterwards.

Why not a fake: the deployment's claim is that Dagster's storage works on PostgreSQL (schema creation,
run and event storage, the daemon's queries), which only the real server can show. The binaries are
installed by `make test` (`postgres-bin` target) when missing; without them the tests that need a
server are skipped with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    db: str

    def env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads the connection from."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.db,
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
        }

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg2

        with psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=self.db
        ) as con, con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()


def bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, else Debian's versioned folder (newest version)."""
    if found := shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    return Path(candidates[-1]).parent if candidates else None


def unavailable() -> str | None:
    """Why a server cannot be started here, or None."""
    if bin_dir() is None:
        return "PostgreSQL's initdb is not installed (make test installs Debian's postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as (initdb refuses root)"
        if not shutil.which("runuser"):
            return "running as root without runuser to start the server as the postgres user"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server(db: str = "dagster") -> Iterator[Postgres]:
    """Start a throw-away cluster (fsync off: its data is worthless after the test) with one database."""
    binaries = bin_dir()
    assert binaries is not None, unavailable()
    # Root may not run PostgreSQL: the server runs as `postgres`, which must be able to enter the folder;
    # pytest's tmp folders are private to root, so the cluster gets a folder of its own under /tmp.
    as_root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="onboarding-pg-"))
    prefix: list[str] = []
    if as_root:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    password = secrets.token_urlsafe(16)
    pwfile = folder / "pw"
    pwfile.write_text(password)
    if as_root:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    data, log, port, user = folder / "data", folder / "server.log", _free_port(), "onboarding"

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, cwd=folder, timeout=120)
        if done.returncode:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}\n{tail}")

    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions")
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        try:
            import psycopg2

            con = psycopg2.connect(host="127.0.0.1", port=port, user=user, password=password, dbname="postgres")
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(f'create database "{db}"')
            con.close()
            yield Postgres("127.0.0.1", port, user, password, db)
        finally:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
