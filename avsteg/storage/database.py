"""The database adapter: one engine, units of work, and the schema from Alembic migrations.

The composition root creates one :class:`Database`; nothing connects at import time.
Every SQLAlchemy error leaving a unit of work becomes :class:`TransientError`: a database that
is down, a lock that timed out or a bug in a query is ours to retry, never the sender's fault.

SQLite (the default) runs in WAL mode with foreign keys enforced. Writers are serialised with
``BEGIN IMMEDIATE``: a transaction takes the write lock when it starts, so two writers wait
for each other (``busy_timeout``) instead of failing halfway when a read turns into a write.
Read-only units of work (``readonly=True``) start deferred and never block the worker.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from avsteg.domain.errors import (
    AvstegError,
    ConfigurationError,
    DatabaseUnavailable,
    TransientError,
)
from avsteg.storage.folding import FOLD_FUNCTION, fold
from avsteg.storage.values import clean_parameters, fit_rows

__all__ = ["MIGRATIONS_DIR", "Database", "Session"]  # Session: for type hints outside storage

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
_BEGIN_OPTION = "avsteg_sqlite_begin"


def _describe(error: BaseException) -> str:
    """A one-line reason without the SQL statement and parameters (they may hold mail)."""
    orig = getattr(error, "orig", None)
    lines = str(orig if orig is not None else error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


# Server answers that no retry will change: the URL names a wrong user, password or database.
_MISCONFIGURED = ("password authentication failed", "does not exist", "no password supplied",
                  "no pg_hba.conf entry", "invalid dsn", "invalid connection option")

# Errors that say the database cannot do anything right now (down, unreachable, locked, out of
# resources, a deadlock), whatever was asked: nothing to do with the message in hand.
_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)


def translate(error: BaseException) -> TransientError:
    """SQLAlchemy's error as ours: :class:`DatabaseUnavailable` when the database itself failed,
    a plain :class:`TransientError` when it refused this statement (a value, a constraint, a bug).
    """
    unavailable = isinstance(error, _UNAVAILABLE) or bool(
        getattr(error, "connection_invalidated", False))
    kind = DatabaseUnavailable if unavailable else TransientError
    return kind(f"database: {_describe(error)}")


def translate_at_start(error: BaseException) -> AvstegError:
    """A SQLAlchemy error at start-up (the first connection, migrations) as ours:
    ConfigurationError when the URL itself is wrong (exit 2), else as :func:`translate` (a server
    that is down: retry later, exit 75). Later errors are never configuration errors: a database
    that disappears under a running worker is an outage, not a typo."""
    text = str(getattr(error, "orig", None) or error)
    if isinstance(error, exc.OperationalError | exc.InterfaceError | exc.ArgumentError) and any(
        marker in text.lower() for marker in _MISCONFIGURED
    ) and "connection" in text.lower():
        return ConfigurationError(f"database: {_describe(error)} (check database.url)")
    return translate(error)


class DatabaseMissing(ConfigurationError):
    """Raised when a command that only reads finds no register where the URL points."""


class Database:
    """The register's database: an engine, a session factory and the migrations."""

    def __init__(self, url: str, *, echo: bool = False, create: bool = True) -> None:
        """``create=False`` (commands that only read): a missing SQLite file or directory is
        :class:`DatabaseMissing`, never created — a mistyped path must not look like an empty
        register."""
        try:
            self.url = make_url(url)
        except exc.ArgumentError as error:
            raise ConfigurationError(f"database.url: {error}") from error
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._create = create
        if self.is_sqlite and not create and self.sqlite_path is not None:
            if not self.sqlite_path.is_file():
                raise DatabaseMissing(
                    f"no register database at {self.sqlite_path} (database.url = "
                    f"{self.url.render_as_string(hide_password=True)}); check the path — "
                    "`avsteg run` or `avsteg ingest` creates it")
        self.engine = self._create_engine(echo)
        # Values from strangers' mail fit their columns on every database (storage/values.py).
        event.listen(self.engine, "before_cursor_execute", clean_parameters, retval=True)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        event.listen(self._sessions, "before_flush", fit_rows)
        self._readonly_sessions = sessionmaker(
            bind=self.engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"}),
            expire_on_commit=False,
        )

    def _create_engine(self, echo: bool) -> Engine:
        if not self.is_sqlite:
            connect_args: dict[str, Any] = {}
            if self.url.get_backend_name() == "postgresql":
                connect_args["connect_timeout"] = 10
            return create_engine(self.url, echo=echo, pool_pre_ping=True, connect_args=connect_args)
        if self._create and self.sqlite_path is not None:
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            self.url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, None for PostgreSQL and in-memory databases."""
        database = self.url.database if self.is_sqlite else None
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database).expanduser()

    # -- units of work ---------------------------------------------------------------------

    @contextlib.contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[Session]:
        """A session whose work is committed when the block ends, rolled back on any error.

        Database errors (connection refused, lock timeout, constraint violated) leave as
        :class:`TransientError` with the original chained; other exceptions pass unchanged.
        ``readonly`` units are never committed and, on SQLite, take no write lock. Objects
        loaded in a unit stay readable after it (no expiry on commit), detached.
        """
        factory = self._readonly_sessions if readonly else self._sessions
        session = factory()
        try:
            yield session
            if not readonly:
                session.commit()
            # A read-only unit is ended by close() below, which rolls the connection back
            # without expiring the loaded objects, so they stay readable afterwards.
        except exc.SQLAlchemyError as error:
            _safe_rollback(session)
            raise translate(error) from error
        except BaseException:
            _safe_rollback(session)
            raise
        finally:
            session.close()

    # -- schema ----------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with the migrations shipped in the package."""
        self._alembic("upgrade", revision)

    def downgrade(self, revision: str = "base") -> None:
        """Undo migrations down to ``revision`` (``base``: an empty database again)."""
        self._alembic("downgrade", revision)

    def current_revision(self) -> str | None:
        """The schema revision the database is at, None when it has never been migrated."""
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except exc.SQLAlchemyError as error:
            raise translate_at_start(error) from error

    @staticmethod
    def known_revision(revision: str) -> bool:
        """Whether ``revision`` is one of ours (a newer avsteg may have migrated further)."""
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        try:
            return ScriptDirectory(str(MIGRATIONS_DIR)).get_revision(revision) is not None
        except CommandError:
            return False

    @staticmethod
    def head_revision() -> str:
        """The newest schema revision shipped in the package (what ``upgrade()`` reaches)."""
        from alembic.script import ScriptDirectory

        head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        assert head is not None, "the package ships no migrations"
        return head

    def table_names(self) -> list[str]:
        try:
            return sorted(inspect(self.engine).get_table_names())
        except exc.SQLAlchemyError as error:
            raise translate(error) from error

    def _alembic(self, command_name: str, revision: str) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
        try:
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # Two workers starting together on a fresh database: one migrates, the
                    # other waits here and then finds the schema current. Released at commit.
                    connection.execute(text("SELECT pg_advisory_xact_lock(715517)"))
                config.attributes["connection"] = connection
                getattr(command, command_name)(config, revision)
        except exc.SQLAlchemyError as error:
            raise translate_at_start(error) from error
        log.info("database schema %s to %s", command_name, revision)

    def dispose(self) -> None:
        """Close pooled connections (at shutdown, and in tests before a database is dropped)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


def open_register(url: str, *, echo: bool = False, must_exist: bool = False,
                  upgrade: bool = True) -> Database:
    """The register's database, migrated to the newest schema.

    ``must_exist`` (list, show, export, status, withdraw, …): nothing is created — a missing
    SQLite file or a database that was never migrated is a DatabaseMissing error that says so,
    instead of an empty register that looks like lost data. An existing register is upgraded.
    """
    db = Database(url, echo=echo, create=not must_exist)
    try:
        if must_exist and db.current_revision() is None:
            raise DatabaseMissing(
                f"{db.url.render_as_string(hide_password=True)} holds no register (never "
                "migrated); check database.url — `avsteg run` or `avsteg ingest` creates it")
        if upgrade:
            db.upgrade()
    except BaseException:
        db.dispose()
        raise
    return db


def _safe_rollback(session: Session) -> None:
    try:
        session.rollback()
    except exc.SQLAlchemyError:  # the connection may be gone; closing the session is enough
        log.debug("rollback failed", exc_info=True)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, BEGIN IMMEDIATE and Unicode case folding on every SQLite connection.

    ``avsteg_fold`` (:mod:`avsteg.storage.folding`) is what searches compare: SQLite's own
    ``lower()`` folds ASCII only.

    pysqlite's own transaction handling is switched off (isolation_level None) so that the
    BEGIN we emit is the one that counts; this is SQLAlchemy's documented recipe.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.create_function(FOLD_FUNCTION, 1, fold, deterministic=True)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")  # stays "memory" for :memory: databases
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")
