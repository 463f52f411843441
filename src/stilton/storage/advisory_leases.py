"""Leases across replicas on PostgreSQL advisory locks: a lease on ``key`` is the session lock
on the key's number, taken on one connection this process keeps for its leases. The server
ends a session's locks with the session, so a replica that dies (or loses its connection)
never leaves a lease behind.
"""

from __future__ import annotations

import logging
import threading

from anyio import to_thread
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from stilton.core.errors import StorageError
from stilton.storage.leases import KeyedLeases

logger = logging.getLogger("stilton.leases")


class AdvisoryLeases(KeyedLeases):
    def __init__(self, url: str, patience: float = 300.0) -> None:
        super().__init__(patience)
        self._engine: Engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._connection: Connection | None = None
        self._lock = threading.Lock()  # one statement at a time on the one connection

    def _run(self, statement: str, number: int) -> bool:
        with self._lock:
            try:
                if self._connection is None:
                    self._connection = self._engine.connect()
                return bool(self._connection.execute(text(statement), {"k": number}).scalar())
            except SQLAlchemyError as exc:
                self._drop()  # its locks went with the session
                reason = getattr(exc, "orig", None) or exc
                raise StorageError(f"The database is unavailable (leases): {reason}") from exc

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except SQLAlchemyError:
                logger.debug("closing a broken lease connection failed", exc_info=True)
            self._connection = None

    async def _try(self, number: int) -> bool:
        return await to_thread.run_sync(self._run, "SELECT pg_try_advisory_lock(:k)", number)

    async def _release(self, number: int) -> None:
        try:
            await to_thread.run_sync(self._run, "SELECT pg_advisory_unlock(:k)", number)
        except StorageError:
            logger.warning("a lease was given back by losing its connection")

    def close(self) -> None:
        with self._lock:
            self._drop()
        self._engine.dispose()
