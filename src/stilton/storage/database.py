"""The database connection: engine setup per backend, migrations, and transactions.

SQLite is tuned for a server and CLI commands working on the same file at once (WAL, a busy
timeout, full fsync); the same code runs on PostgreSQL for scale-out, where a pool of
connections is kept per process and replicas starting at once migrate one at a time (an
advisory lock held by the migrating transaction).
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from stilton.core.errors import InsufficientStorage, StorageError
from stilton.storage.changes import Change, take_pending
from stilton.storage.leases import lease_number

logger = logging.getLogger("stilton.database")

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (a test keeps the two in step): when the database
# is there already, starting needs neither Alembic nor its import time.
HEAD_REVISION = "0008"
BUSY_TIMEOUT = 30.0  # seconds a statement waits for another process's lock on SQLite
WRITE_WAIT = 120.0  # seconds a write waits for this process's earlier writes
BEGIN_ATTEMPTS = 3
# The advisory lock (two int4 keys: a key space apart from the leases' bigint keys) held by
# the transaction that migrates a PostgreSQL database.
MIGRATION_LOCK = (0x5717, 1)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is turned off: Stilton says BEGIN itself (below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    cursor.close()


# SQLite's "database or disk is full", and PostgreSQL's disk_full condition (SQLSTATE 53100).
PG_DISK_FULL = "53100"


def _is_disk_full(error: BaseException | None) -> bool:
    if isinstance(error, sqlite3.Error):
        # The low byte is the primary result code; extended codes add detail above it.
        return (error.sqlite_errorcode & 0xFF) == sqlite3.SQLITE_FULL
    return getattr(error, "sqlstate", getattr(error, "pgcode", None)) == PG_DISK_FULL


def serialize(connection: Connection, key: str) -> None:
    """Take turns with other processes' transactions that serialize on ``key``, until this
    transaction ends. SQLite's writers take turns already (BEGIN IMMEDIATE); on PostgreSQL,
    where transactions run side by side, a transaction advisory lock does it, so that replicas
    racing on one index's rows (a new project, its serial) wait instead of failing."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lease_number(key)})


def _sqlite_engine(url: str, begin: str, **pool: Any) -> Engine:
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT}, **pool
    )
    event.listen(engine, "connect", _tune_sqlite)
    # A write transaction takes SQLite's write lock when it begins (BEGIN IMMEDIATE): one that
    # began as a read and is upgraded later gets SQLITE_BUSY at once, whatever the timeout.
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql(begin))
    return engine


class Database:
    """One database per process. ``connect()`` is a read (a consistent snapshot); ``begin()``
    a write transaction. On SQLite, writes of one process take turns on one connection and
    wait for other processes' (busy timeout), so contention is a wait, never an error.
    ``on_commit`` hears the changes a committed transaction published (``storage.changes``).
    """

    def __init__(
        self,
        url: str,
        on_commit: Callable[[list[Change]], None] | None = None,
        *,
        pool_size: int = 10,
        max_overflow: int = 20,
    ) -> None:
        self.url = url
        self.on_commit = on_commit
        self._writing = threading.local()
        if url.startswith("sqlite"):
            path = url.removeprefix("sqlite:///")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = _sqlite_engine(url, "BEGIN", pool_size=8, max_overflow=56)
            self._writer = _sqlite_engine(
                url, "BEGIN IMMEDIATE", pool_size=1, max_overflow=0, pool_timeout=WRITE_WAIT
            )
        else:
            # pre_ping: a connection the server dropped (a restart, a failover) is replaced
            # when it is next taken from the pool, not handed to a request.
            self.engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=WRITE_WAIT,
            )
            self._writer = self.engine

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def revision(self) -> str | None:
        """The schema revision the database is at, or None before the first migration."""
        try:
            with self.engine.connect() as connection:
                return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:
            return None

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent; safe at every start, and when
        replicas start at once). A schema newer than this code knows is refused."""
        current = self.revision()
        if current == HEAD_REVISION:
            return
        # Imported here: most starts find the schema current and never need Alembic.
        from alembic import command

        config = _alembic_config()
        self._refuse_unknown(current, config)
        try:
            with self._migration_lock(), self.engine.begin() as connection:
                if not self.is_sqlite:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:a, :b)"),
                        {"a": MIGRATION_LOCK[0], "b": MIGRATION_LOCK[1]},
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise self._translate(exc, "Could not migrate the database") from exc

    def check_schema(self) -> None:
        """Refuse a database another (newer) Stilton migrated, or one not migrated yet."""
        current = self.revision()
        if current != HEAD_REVISION:
            self._refuse_unknown(current, _alembic_config())
            raise StorageError(
                f"The database is at schema revision {current or 'none'}, older than this"
                f" Stilton's ({HEAD_REVISION}): run 'stilton migrate'."
            )

    @staticmethod
    def _refuse_unknown(current: str | None, config: Any) -> None:
        from alembic.script import ScriptDirectory

        known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
        if current is not None and current not in known:
            raise StorageError(
                f"The database's schema is at revision {current!r}, which this Stilton (schema"
                f" {HEAD_REVISION}) does not know: a newer Stilton migrated it. Run that version"
                " (or newer) on every replica; older code never writes to a newer schema."
            )

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """SQLite runs DDL outside transactions: serialize a server and a CLI starting at once."""
        if not self.is_sqlite:
            with nullcontext():
                yield
            return
        lock_path = Path(self.url.removeprefix("sqlite:///") + ".migrate.lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def begin(self, *, durable: bool = True) -> Iterator[Connection]:
        """A write transaction. ``durable=False`` is for what can be had again (a proxy's
        cache): on SQLite its commit is not waited onto the disk, so a power cut may undo it
        (never corrupt it); the next durable commit makes it durable too (WAL mode)."""
        if getattr(self._writing, "active", False):
            raise RuntimeError("a write transaction inside another one would wait for itself")
        self._writing.active = True
        try:
            with self._writer.connect() as connection, self._synchronous(connection, durable):
                take_pending(connection)  # nothing left over from an earlier, failed use
                self._begin(connection)
                try:
                    yield connection
                except BaseException:
                    connection.rollback()
                    take_pending(connection)
                    raise
                connection.commit()
                committed = take_pending(connection)
        except OperationalError as exc:
            raise self._translate(exc, "The database is unavailable") from exc
        finally:
            self._writing.active = False
        if committed and self.on_commit is not None:
            self.on_commit(committed)

    @contextmanager
    def _synchronous(self, connection: Connection, durable: bool) -> Iterator[None]:
        """SQLite: a commit that need not be durable is not waited onto the disk."""
        if durable or not self.is_sqlite:
            yield
            return
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute("PRAGMA synchronous=NORMAL")  # outside any transaction, by the driver
        try:
            yield
        finally:
            driver.execute("PRAGMA synchronous=FULL")

    def _begin(self, connection: Connection) -> None:
        """Begin, retrying a few times (logged) where another writer held the lock too long."""
        for attempt in range(1, BEGIN_ATTEMPTS + 1):
            try:
                connection.begin()
                return
            except OperationalError as exc:
                if attempt == BEGIN_ATTEMPTS or "locked" not in str(exc.orig):
                    raise
                logger.warning("the database stayed locked; waiting again (%d)", attempt)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as connection:
                yield connection
        except OperationalError as exc:
            raise self._translate(exc, "The database is unavailable") from exc

    def check(self) -> None:
        with self.connect() as connection:
            connection.execute(text("SELECT 1"))

    def _translate(self, exc: SQLAlchemyError, failure: str) -> StorageError:
        """The one translation of the driver's errors (through SQLAlchemy's) into ours."""
        error = getattr(exc, "orig", None)
        if _is_disk_full(error):
            if self.is_sqlite:
                return InsufficientStorage(f"the data directory ({self.url[len('sqlite:///') :]})")
            return InsufficientStorage("the database server's data")
        return StorageError(f"{failure}: {error or exc}")

    def redacted_url(self) -> str:
        """The URL without its password, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()
        self._writer.dispose()


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
