"""A private PostgreSQL cluster for the tests, and database URLs for SQLite and PostgreSQL.

Fixtures (registered as a pytest plugin in tests/conftest.py):

* ``postgres_cluster`` (session) — initdb + pg_ctl on a free loopback port, fsync off, stopped
  at the end. About 1.5 s once per test run.
* ``postgres_url`` (session) — ``postgresql+psycopg://postgres@127.0.0.1:PORT/avsteg_test``.
* ``postgres_db_url`` (function) — a fresh, empty database per test (CREATE DATABASE is cheap).
* ``db_url`` (function, parametrised ``sqlite`` / ``postgresql``) — an empty database of each
  kind, for tests that must pass on both.
* ``database`` (function, same parameters) — an :class:`avsteg.storage.Database` already
  migrated to head, disposed afterwards.

The PostgreSQL tests are skipped only when the PostgreSQL binaries are not installed, with
the reason given; ``AVSTEG_REQUIRE_SERVERS=1`` (CI, tests/support/require.py) turns that skip
into a failure.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.require import missing

if TYPE_CHECKING:
    from avsteg.storage import Database

POSTGRES_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")
DATABASE_NAME = "avsteg_test"
_counter = itertools.count(1)


def find_postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    for directory in POSTGRES_BIN_DIRS:
        if Path(directory, "initdb").is_file() and Path(directory, "pg_ctl").is_file():
            return Path(directory)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    """A running private cluster; ``url(db)`` gives the SQLAlchemy URL of one database."""

    bin_dir: Path
    base_dir: Path
    port: int
    as_user: list[str]
    startup_seconds: float = 0.0

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_user, *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.base_dir,
        )

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run one statement as the superuser (CREATE/DROP DATABASE cannot run in a transaction)."""
        import psycopg

        conninfo = f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as connection:
            connection.execute(statement)  # type: ignore[arg-type]

    def create_database(self, name: str) -> str:
        # FILE_COPY: about 30 ms here against 120 ms for PostgreSQL 15's default WAL_LOG.
        self.sql(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop at once (no checkpoint: the data is thrown away) and wait for the postmaster."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        try:
            self.run(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "immediate",
                "-W",
                "stop",
                timeout=30,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        # The postmaster removes its pid file as its last act; the process itself may linger
        # as a zombie until init reaps it, which can take seconds in a container.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (self.data_dir / "postmaster.pid").exists():
            time.sleep(0.02)


def _start_cluster(bin_dir: Path) -> PostgresCluster:
    as_user: list[str] = []
    base_dir = Path(tempfile.mkdtemp(prefix="avsteg-pg-"))
    if os.geteuid() == 0:
        # initdb refuses to run as root: run the cluster as the postgres user.
        as_user = ["runuser", "-u", "postgres", "--"]
        base_dir.chmod(0o755)
        shutil.chown(base_dir, user="postgres", group=None)
    cluster = PostgresCluster(bin_dir, base_dir, free_port(), as_user)
    cluster.run(
        str(bin_dir / "initdb"),
        "-D",
        str(cluster.data_dir),
        "--auth=trust",
        "--username=postgres",
        "--encoding=UTF8",
        "--locale=C",
    )
    last_error = ""
    for _attempt in range(3):  # a free port can be taken by someone else in between
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={cluster.port} -c fsync=off"
            f" -c synchronous_commit=off -c full_page_writes=off"
            f" -c unix_socket_directories={base_dir} -c max_connections=100"
        )
        try:
            cluster.run(
                str(bin_dir / "pg_ctl"),
                "-D",
                str(cluster.data_dir),
                "-l",
                str(base_dir / "postgres.log"),
                "-o",
                options,
                "-w",
                "-t",
                "30",
                "start",
            )
            break
        except subprocess.CalledProcessError as error:
            last_error = (error.stderr or "") + _tail(base_dir / "postgres.log")
            cluster.port = free_port()
    else:
        shutil.rmtree(base_dir, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {last_error}")
    cluster.create_database(DATABASE_NAME)
    return cluster


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        reason = (
            "PostgreSQL binaries (initdb, pg_ctl) are not installed; "
            "install the Debian package `postgresql` to run these tests"
        )
        missing(reason)
    started = time.monotonic()
    cluster = _start_cluster(bin_dir)
    cluster.startup_seconds = time.monotonic() - started
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.base_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.url(DATABASE_NAME)


@pytest.fixture
def postgres_db_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"t{os.getpid()}_{next(_counter)}"
    url = postgres_cluster.create_database(name)
    try:
        yield url
    finally:
        postgres_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind: the same test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'avsteg.sqlite'}"
    return str(request.getfixturevalue("postgres_db_url"))


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """An :class:`avsteg.storage.Database` migrated to head (SQLite and PostgreSQL)."""
    from avsteg.storage import Database

    db = Database(db_url)
    db.upgrade()
    try:
        yield db
    finally:
        db.dispose()
