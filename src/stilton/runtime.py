"""The runtime: concrete storage adapters and indexes built from Settings, shared by the web
app and the CLI. Opening it migrates the database and creates the default layout."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pypi_simple import PYPI_SIMPLE_ENDPOINT

from stilton.auth.tokens import TokenService
from stilton.core.errors import InvalidInput
from stilton.core.model import IndexKind
from stilton.core.names import IndexName, parse_index_name
from stilton.core.upstream import UpstreamConfig
from stilton.indexes.base import Index
from stilton.indexes.hosted import HostedIndex
from stilton.indexes.proxy import ProxyIndex
from stilton.settings import Settings
from stilton.storage import catalog
from stilton.storage.blobs import BlobStore, LocalBlobStore
from stilton.storage.catalog import IndexRecord
from stilton.storage.database import Database
from stilton.upstream.downloads import Transfers

LAYOUT_KEY = "default-layout"
MAX_PROXY_FILE_SIZE = 64 * 2**30  # bytes; a safety net against an endless upstream response


@dataclass
class Runtime:
    settings: Settings
    database: Database
    blobs: BlobStore
    tokens: TokenService
    transfers: Transfers = field(default_factory=Transfers)

    def list_indexes(self) -> list[IndexRecord]:
        with self.database.connect() as connection:
            return catalog.list_indexes(connection)

    def get_index_record(self, name: str) -> IndexRecord:
        with self.database.connect() as connection:
            return catalog.get_index(connection, name)

    def index(self, name: str) -> Index:
        """The index called ``name``, of whatever kind it is."""
        return self.build_index(self.get_index_record(name))

    def build_index(self, record: IndexRecord) -> Index:
        if record.kind is IndexKind.PROXY:
            return self.proxy(record)
        if record.kind is IndexKind.HOSTED:
            return HostedIndex(record, self.database, self.blobs, self.settings.max_upload_size)
        raise InvalidInput(f"Index {record.name!r} is of kind {record.kind}, not served yet.")

    def hosted(self, name: str) -> HostedIndex:
        record = self.get_index_record(name)
        if record.kind is not IndexKind.HOSTED:
            raise InvalidInput(f"Index {name!r} is a {record.kind} index, not a hosted one.")
        return HostedIndex(record, self.database, self.blobs, self.settings.max_upload_size)

    def proxy(self, record: IndexRecord) -> ProxyIndex:
        if record.kind is not IndexKind.PROXY:
            raise InvalidInput(f"Index {record.name!r} is a {record.kind} index, not a proxy.")
        return ProxyIndex(record, self.database, self.blobs, self.transfers, MAX_PROXY_FILE_SIZE)

    def create_index(
        self, name: str, kind: IndexKind, upstream: dict[str, Any] | None = None
    ) -> IndexRecord:
        checked = parse_index_name(name)
        config: dict[str, Any] = {}
        if kind is IndexKind.PROXY:
            if not upstream or not upstream.get("url"):
                raise InvalidInput("A proxy index needs an upstream URL (--upstream).")
            config = UpstreamConfig.from_mapping(upstream).to_mapping()
        elif upstream:
            raise InvalidInput("Only proxy indexes have an upstream.")
        if kind is IndexKind.GROUP:
            raise InvalidInput("Index kind 'group' is not available yet; use hosted or proxy.")
        with self.database.begin() as connection:
            return catalog.create_index(connection, checked, kind, config)

    def configure_proxy(self, name: str, changes: dict[str, Any]) -> IndexRecord:
        """Change a proxy's upstream settings; running servers pick them up."""
        record = self.get_index_record(name)
        if record.kind is not IndexKind.PROXY:
            raise InvalidInput(
                f"Index {name!r} is a {record.kind} index; only proxies have an upstream."
            )
        merged = {**record.config, **{k: v for k, v in changes.items() if v is not None}}
        config = UpstreamConfig.from_mapping(merged).to_mapping()
        with self.database.begin() as connection:
            catalog.update_index_config(connection, record, config)
            return catalog.get_index(connection, name)

    def generations(self) -> dict[str, int]:
        with self.database.connect() as connection:
            return catalog.index_generations(connection)

    def check_ready(self) -> None:
        self.database.check()
        self.blobs.check()

    def close(self) -> None:
        self.database.dispose()


def _default_layout(settings: Settings) -> list[tuple[int, str, IndexKind, dict[str, Any]]]:
    """DESIGN.md, "Default layout": each entry is created once, in the layout version that
    introduced it, so an existing installation gains new defaults without losing anything."""
    upstream = settings.default_upstream or PYPI_SIMPLE_ENDPOINT
    return [
        (1, "local", IndexKind.HOSTED, {}),
        (2, "pypi", IndexKind.PROXY, UpstreamConfig.from_mapping({"url": upstream}).to_mapping()),
    ]


def _create_default_layout(database: Database, settings: Settings) -> None:
    layout = _default_layout(settings)
    with database.begin() as connection:
        stored = catalog.get_meta(connection, LAYOUT_KEY)
        if stored is not None:
            version = int(stored)
        else:
            # Before layouts were versioned, a first start made exactly the "local" index.
            version = 1 if catalog.list_indexes(connection) else 0
        for introduced, name, kind, config in layout:
            if introduced > version and catalog.find_index(connection, name) is None:
                catalog.create_index(connection, IndexName(name), kind, config)
        catalog.set_meta(connection, LAYOUT_KEY, str(max(v for v, *_ in layout)))


def open_runtime(settings: Settings) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url)
    database.migrate()
    _create_default_layout(database, settings)
    blobs = LocalBlobStore(settings.blob_dir)
    return Runtime(settings, database, blobs, TokenService(database))
