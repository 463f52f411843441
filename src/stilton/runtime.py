"""The runtime: concrete storage adapters and indexes built from Settings, shared by the web
app and the CLI. Opening it migrates the database and creates the default layout."""

from __future__ import annotations

from dataclasses import dataclass

from stilton.auth.tokens import TokenService
from stilton.core.errors import InvalidInput
from stilton.core.model import IndexKind
from stilton.core.names import IndexName, parse_index_name
from stilton.indexes.base import Index
from stilton.indexes.hosted import HostedIndex
from stilton.settings import Settings
from stilton.storage import catalog
from stilton.storage.blobs import BlobStore, LocalBlobStore
from stilton.storage.catalog import IndexRecord
from stilton.storage.database import Database

# DESIGN.md, "Default layout": created on first start.
DEFAULT_INDEXES: tuple[tuple[str, IndexKind], ...] = (("local", IndexKind.HOSTED),)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    blobs: BlobStore
    tokens: TokenService

    def list_indexes(self) -> list[IndexRecord]:
        with self.database.connect() as connection:
            return catalog.list_indexes(connection)

    def get_index_record(self, name: str) -> IndexRecord:
        with self.database.connect() as connection:
            return catalog.get_index(connection, name)

    def index(self, name: str) -> Index:
        """The index called ``name``, of whatever kind it is."""
        return self.hosted(name)

    def hosted(self, name: str) -> HostedIndex:
        record = self.get_index_record(name)
        if record.kind is not IndexKind.HOSTED:
            raise InvalidInput(f"Index {name!r} is a {record.kind} index, not a hosted one.")
        return HostedIndex(record, self.database, self.blobs, self.settings.max_upload_size)

    def create_index(self, name: str, kind: IndexKind) -> IndexRecord:
        checked = parse_index_name(name)
        if kind is not IndexKind.HOSTED:
            raise InvalidInput(f"Index kind {kind.value!r} is not available yet; use 'hosted'.")
        with self.database.begin() as connection:
            return catalog.create_index(connection, checked, kind, {})

    def generations(self) -> dict[str, int]:
        with self.database.connect() as connection:
            return catalog.index_generations(connection)

    def check_ready(self) -> None:
        self.database.check()
        self.blobs.check()

    def close(self) -> None:
        self.database.dispose()


def _create_default_layout(database: Database) -> None:
    with database.begin() as connection:
        if catalog.list_indexes(connection):
            return
        for name, kind in DEFAULT_INDEXES:
            catalog.create_index(connection, IndexName(name), kind, {})


def open_runtime(settings: Settings) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url)
    database.migrate()
    _create_default_layout(database)
    blobs = LocalBlobStore(settings.blob_dir)
    return Runtime(settings, database, blobs, TokenService(database))
