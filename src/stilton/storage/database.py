"""The database connection: engine setup per backend, migrations, and transactions.

SQLite is tuned for a server and CLI commands working on the same file at once (WAL, a busy
timeout, full fsync); the same code runs on PostgreSQL for scale-out.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from stilton.core.errors import InsufficientStorage, StorageError

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (a test keeps the two in step): when the database
# is there already, starting needs neither Alembic nor its import time.
HEAD_REVISION = "0003"


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# SQLite's "database or disk is full", and PostgreSQL's disk_full condition (SQLSTATE 53100).
PG_DISK_FULL = "53100"


def _is_disk_full(error: BaseException | None) -> bool:
    if isinstance(error, sqlite3.Error):
        # The low byte is the primary result code; extended codes add detail above it.
        return (error.sqlite_errorcode & 0xFF) == sqlite3.SQLITE_FULL
    return getattr(error, "sqlstate", getattr(error, "pgcode", None)) == PG_DISK_FULL


class Database:
    """One engine per process; ``begin()`` is a transaction, ``connect()`` a read."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            path = url.removeprefix("sqlite:///")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}
            )
            event.listen(self.engine, "connect", _tune_sqlite)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)

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
        """Bring the schema to the newest revision (idempotent; safe at every start)."""
        if self.revision() == HEAD_REVISION:
            return
        # Imported here: most starts find the schema current and never need Alembic.
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self._migration_lock(), self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise self._translate(exc, "Could not migrate the database") from exc

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

    def _translate(self, exc: SQLAlchemyError, failure: str) -> StorageError:
        """The one translation of the driver's errors (through SQLAlchemy's) into ours."""
        error = getattr(exc, "orig", None)
        if _is_disk_full(error):
            if self.is_sqlite:
                return InsufficientStorage(f"the data directory ({self.url[len('sqlite:///') :]})")
            return InsufficientStorage("the database server's data")
        return StorageError(f"{failure}: {error or exc}")

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except OperationalError as exc:
            raise self._translate(exc, "The database is unavailable") from exc

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

    def dispose(self) -> None:
        self.engine.dispose()
