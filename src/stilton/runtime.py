"""The runtime: concrete storage adapters and indexes built from Settings, shared by the web
app and the CLI. Opening it migrates the database and creates the default layout."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from stilton.auth.service import AuthService
from stilton.core.errors import InvalidInput, StiltonError
from stilton.core.groups import GroupRule
from stilton.core.index_config import IndexConfig
from stilton.core.model import IndexKind
from stilton.core.names import IndexName, parse_index_name
from stilton.core.permissions import Acl
from stilton.core.policies import Policy
from stilton.core.telemetry import NO_TELEMETRY, Telemetry
from stilton.core.upstream import UpstreamConfig
from stilton.settings import Settings
from stilton.storage import catalog, upstream_health, users
from stilton.storage.blobs import BlobStore, LocalBlobStore
from stilton.storage.catalog import IndexRecord
from stilton.storage.changes import ChangeFeed
from stilton.storage.database import Database, serialize
from stilton.storage.leases import FileLeases, Leases

# The index kinds, and what only proxies need (an HTTP client, threads for big pages, the
# page memory), are imported where they are first built: a CLI command that lists users or
# indexes needs none of them, and they would cost it more time than all its own work.
if TYPE_CHECKING:
    from stilton.indexes.base import Index
    from stilton.indexes.cpu_slots import CpuSlots
    from stilton.indexes.group import GroupIndex
    from stilton.indexes.hosted import AbsentProjects, HostedIndex
    from stilton.indexes.proxy import ProxyIndex
    from stilton.indexes.proxy_pages import PageMemory
    from stilton.indexes.upstream_health import HealthBook
    from stilton.storage.upstream_health import HealthReport
    from stilton.upstream.downloads import Transfers

T = TypeVar("T")

LAYOUT_KEY = "default-layout"
LAYOUT_VERSION = 3  # the newest entry of _default_layout
MAX_PROXY_FILE_SIZE = 64 * 2**30  # bytes; a safety net against an endless upstream response


@dataclass
class Runtime:
    settings: Settings
    database: Database
    blobs: BlobStore
    auth: AuthService
    feed: ChangeFeed
    leases: Leases
    telemetry: Telemetry = NO_TELEMETRY  # the web app's metrics; a CLI command counts nothing
    # What every proxy of the process shares, by name, made when first asked for (see _part).
    _parts: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _making: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    def _part(self, name: str, make: Callable[[], T]) -> T:
        """The process's one ``name``, made by the first thread that asks: threads building
        proxies at once must share one, not get one apiece."""
        with self._making:
            if name not in self._parts:
                self._parts[name] = make()
            part: T = self._parts[name]
            return part

    @property
    def transfers(self) -> Transfers:
        """Downloads from upstreams under way in this process."""

        def make() -> Transfers:
            from stilton.upstream.downloads import Transfers

            return Transfers()

        return self._part("transfers", make)

    @property
    def cpu_slots(self) -> CpuSlots:
        """Turns at parsing and rendering big pages (see cpu_slots)."""

        def make() -> CpuSlots:
            from stilton.indexes.cpu_slots import SLOTS, CpuSlots

            return CpuSlots(SLOTS)

        return self._part("cpu_slots", make)

    @property
    def upstream_pages(self) -> PageMemory:
        """Parsed upstream pages of every proxy, shared by the index objects rebuilt over
        time. It hears of changes from when it is made: before, it held nothing."""

        def make() -> PageMemory:
            from stilton.indexes.proxy_pages import PageMemory

            pages = PageMemory(self.settings.upstream_page_bytes, self.cpu_slots)
            self.feed.subscribe(pages.heard)
            return pages

        return self._part("upstream_pages", make)

    @property
    def hosted_absent(self) -> AbsentProjects:
        """Names hosted indexes were found not to have, shared by the index objects rebuilt
        over time; it hears of changes from when it is made."""

        def make() -> AbsentProjects:
            from stilton.indexes.hosted import AbsentProjects

            absent = AbsentProjects()
            self.feed.subscribe(absent.heard)
            return absent

        return self._part("hosted_absent", make)

    @property
    def upstream_health(self) -> HealthBook:
        """Proxies' upstream health in this process (made on first use, once the web app has
        set the telemetry)."""

        def make() -> HealthBook:
            from stilton.indexes.upstream_health import HealthBook

            settings = self.settings
            return HealthBook(
                self.telemetry, settings.upstream_unhealthy_after,
                settings.upstream_retry_interval, self._record_health,
            )  # fmt: skip

        return self._part("upstream_health", make)

    def _record_health(self, index_id: int, report: HealthReport) -> None:
        with self.database.begin(durable=False) as connection:
            upstream_health.record_health(connection, index_id, report)

    def upstream_reports(self) -> dict[IndexName, HealthReport | None]:
        """Every proxy's upstream as the server's processes last judged it (None: never marked
        unhealthy, or not held so by any process now)."""
        with self.database.connect() as connection:
            reports = upstream_health.find_health_reports(connection, datetime.now(UTC))
            records = catalog.list_indexes(connection)
        return {r.name: reports.get(r.name) for r in records if r.kind is IndexKind.PROXY}

    def list_indexes(self) -> list[IndexRecord]:
        with self.database.connect() as connection:
            return catalog.list_indexes(connection)

    def get_index_record(self, name: str) -> IndexRecord:
        with self.database.connect() as connection:
            return catalog.get_index(connection, name)

    def index(self, name: str) -> Index:
        """The index called ``name``, of whatever kind it is, seen through its policy."""
        return self.build_index(self.get_index_record(name))

    def build_index(self, record: IndexRecord, seen: frozenset[str] = frozenset()) -> Index:
        """The index of ``record``, seen through its policy if it has one."""
        from stilton.indexes.policy import PolicyIndex

        policy = IndexConfig.from_mapping(record.config).policy
        index: Index
        if record.kind is IndexKind.PROXY:
            index = self.proxy(record)
        elif record.kind is IndexKind.HOSTED:
            index = self._build_hosted(record)
        else:
            index = self._build_group(record, seen)
        return index if policy.is_empty else PolicyIndex(index, policy)

    def _build_hosted(self, record: IndexRecord) -> HostedIndex:
        from stilton.indexes.hosted import HostedIndex

        return HostedIndex(
            record, self.database, self.blobs, self.settings.max_upload_size, self.hosted_absent
        )

    def _build_group(self, record: IndexRecord, seen: frozenset[str]) -> GroupIndex:
        from stilton.indexes.group import GroupIndex

        if record.name in seen:
            raise InvalidInput(f"Group {record.name!r} contains itself.")
        config = IndexConfig.from_mapping(record.config)
        members = [
            self.build_index(self.get_index_record(member), seen | {record.name})
            for member in config.members
        ]
        return GroupIndex(record, members, config.rules)

    def hosted(self, name: str) -> HostedIndex:
        record = self.get_index_record(name)
        if record.kind is not IndexKind.HOSTED:
            raise InvalidInput(f"Index {name!r} is a {record.kind} index, not a hosted one.")
        return self._build_hosted(record)

    def proxy(self, record: IndexRecord) -> ProxyIndex:
        if record.kind is not IndexKind.PROXY:
            raise InvalidInput(f"Index {record.name!r} is a {record.kind} index, not a proxy.")
        from stilton.indexes.proxy import ProxyIndex

        return ProxyIndex(
            record, self.database, self.blobs, self.transfers, MAX_PROXY_FILE_SIZE,
            self.upstream_pages, self.leases, self.upstream_health, self.telemetry,
        )  # fmt: skip

    def group(self, name: str) -> GroupIndex:
        record = self.get_index_record(name)
        if record.kind is not IndexKind.GROUP:
            raise InvalidInput(f"Index {name!r} is a {record.kind} index, not a group.")
        return self._build_group(record, frozenset())

    def create_index(
        self,
        name: str,
        kind: IndexKind,
        upstream: dict[str, Any] | None = None,
        members: Sequence[str] = (),
        rules: Sequence[GroupRule] = (),
    ) -> IndexRecord:
        checked = parse_index_name(name)
        config = self._checked_config(checked, kind, upstream, members, rules)
        with self.database.begin() as connection:
            return catalog.create_index(connection, checked, kind, config.to_mapping())

    def _checked_config(
        self,
        name: str,
        kind: IndexKind,
        upstream: dict[str, Any] | None,
        members: Sequence[str],
        rules: Sequence[GroupRule],
        policy: Policy | None = None,
    ) -> IndexConfig:
        if kind is IndexKind.PROXY and not (upstream and upstream.get("url")):
            raise InvalidInput("A proxy index needs an upstream URL (--upstream).")
        if kind is not IndexKind.PROXY and upstream:
            raise InvalidInput("Only proxy indexes have an upstream.")
        if kind is IndexKind.GROUP:
            self._check_members(name, members, rules)
        elif members or rules:
            raise InvalidInput("Only group indexes have members and rules.")
        return IndexConfig(
            upstream=UpstreamConfig.from_mapping(upstream) if upstream else None,
            members=tuple(IndexName(m) for m in members),  # checked: they exist
            rules=tuple(rules),
            policy=policy or Policy(),
        )

    def _check_members(self, name: str, members: Sequence[str], rules: Sequence[GroupRule]) -> None:
        if not members:
            raise InvalidInput("A group needs at least one member (--members a,b,c).")
        if len(set(members)) != len(members):
            raise InvalidInput("A group lists each member once.")
        for member in members:
            if member == name:
                raise InvalidInput(f"Group {name!r} cannot contain itself.")
            record = self.get_index_record(member)
            if record.kind is IndexKind.GROUP and name in self._reachable(record.name):
                raise InvalidInput(f"Group {member!r} already contains {name!r}: that is a cycle.")
        for rule in rules:
            if rule.member is not None and rule.member not in members:
                raise InvalidInput(f"Rule {rule.describe()!r} names {rule.member!r}, not a member.")

    def _reachable(self, group: str) -> set[str]:
        found: set[str] = set()
        pending = [group]
        while pending:
            record = self.get_index_record(pending.pop())
            for member in IndexConfig.from_mapping(record.config).members:
                if member not in found:
                    found.add(member)
                    pending.append(member)
        return found

    def configure(
        self,
        name: str,
        *,
        upstream: dict[str, Any] | None = None,
        members: Sequence[str] | None = None,
        rules: Sequence[GroupRule] | None = None,
        policy: Policy | None = None,
    ) -> IndexRecord:
        """Change an index's settings; running servers pick them up within a second."""
        record = self.get_index_record(name)
        current = IndexConfig.from_mapping(record.config)
        merged_upstream = None
        if current.upstream is not None:
            changes = {k: v for k, v in (upstream or {}).items() if v is not None}
            merged_upstream = {**current.upstream.to_mapping(), **changes}
        elif upstream:
            raise InvalidInput(
                f"Index {name!r} is a {record.kind} index; only proxies have an upstream."
            )
        if record.kind is not IndexKind.GROUP and (members is not None or rules is not None):
            raise InvalidInput(
                f"Index {name!r} is a {record.kind} index; only groups have members."
            )
        config = self._checked_config(
            name,
            record.kind,
            merged_upstream,
            current.members if members is None else members,
            current.rules if rules is None else rules,
            current.policy if policy is None else policy,
        )
        with self.database.begin() as connection:
            catalog.update_index_config(connection, record, config.to_mapping())
            return catalog.get_index(connection, name)

    def config_closure(self, name: str) -> dict[str, Any]:
        """The kind and configuration of an index and of every index it is built from."""
        closure: dict[str, Any] = {}
        pending = [name]
        while pending:
            record = self.get_index_record(pending.pop())
            if record.name in closure:
                continue
            closure[record.name] = (record.kind, record.config)
            pending.extend(IndexConfig.from_mapping(record.config).members)
        return closure

    def set_permissions(
        self, name: str, acl: Acl, actor: str = "cli", address: str = ""
    ) -> IndexRecord:
        """Who may read, upload to and administer an index."""
        record = self.get_index_record(name)
        config = replace(IndexConfig.from_mapping(record.config), acl=acl)
        with self.database.begin() as connection:
            catalog.update_index_config(connection, record, config.to_mapping())
            users.add_audit(
                connection,
                actor,
                "set permissions",
                address=address,
                index=name,
                detail=str(acl.to_mapping()),
            )
            return catalog.get_index(connection, name)

    def groups(self) -> dict[str, list[str]]:
        """Every group's members, for the page caches' generation arithmetic."""
        return {
            r.name: list(IndexConfig.from_mapping(r.config).members)
            for r in self.list_indexes()
            if r.kind is IndexKind.GROUP
        }

    def check_ready(self) -> dict[str, str]:
        """What is wrong, by part ("database", "blobs"); empty when ready."""
        failures: dict[str, str] = {}
        for part, check in (("database", self.database.check), ("blobs", self.blobs.check)):
            try:
                check()
            except StiltonError as exc:
                failures[part] = exc.message
        return failures

    def close(self) -> None:
        self.database.dispose()
        self.leases.close()


def _default_layout(settings: Settings) -> list[tuple[int, str, IndexKind, IndexConfig]]:
    """DESIGN.md, "Default layout": each entry is created once, in the layout version that
    introduced it, so an existing installation gains new defaults without losing anything."""
    upstream = UpstreamConfig.from_mapping({"url": settings.default_upstream or _public_index()})
    return [
        (1, "local", IndexKind.HOSTED, IndexConfig()),
        (2, "pypi", IndexKind.PROXY, IndexConfig(upstream=upstream)),
        (3, "main", IndexKind.GROUP, IndexConfig(members=(IndexName("local"), IndexName("pypi")))),
    ]


def _public_index() -> str:
    # Imported only when the default layout is made: pypi-simple brings pydantic models and
    # requests along, which no running server needs.
    from pypi_simple import PYPI_SIMPLE_ENDPOINT

    return str(PYPI_SIMPLE_ENDPOINT)


def _create_default_layout(database: Database, settings: Settings) -> None:
    with database.connect() as connection:
        if catalog.get_meta(connection, LAYOUT_KEY) == str(LAYOUT_VERSION):
            return  # made already (most starts)
    layout = _default_layout(settings)
    with database.begin() as connection:
        serialize(connection, LAYOUT_KEY)  # replicas starting at once make it once
        stored = catalog.get_meta(connection, LAYOUT_KEY)
        if stored is not None:
            version = int(stored)
        else:
            # Before layouts were versioned, a first start made exactly the "local" index.
            version = 1 if catalog.list_indexes(connection) else 0
        for introduced, name, kind, config in layout:
            if introduced > version and catalog.find_index(connection, name) is None:
                present = {r.name for r in catalog.list_indexes(connection)}
                if all(member in present for member in config.members):
                    catalog.create_index(connection, IndexName(name), kind, config.to_mapping())
        catalog.set_meta(connection, LAYOUT_KEY, str(LAYOUT_VERSION))


def open_database(settings: Settings) -> Database:
    return Database(
        settings.effective_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )


def open_blobs(settings: Settings) -> BlobStore:
    """The blob store the settings name: a local directory, or a bucket (``blob_url``)."""
    if not settings.blob_url:
        return LocalBlobStore(settings.blob_dir)
    from stilton.storage.object_blobs import S3BlobStore, S3Options

    options = S3Options(
        settings.s3_endpoint,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
        settings.s3_allow_http,
    )
    return S3BlobStore(settings.blob_url, settings.tmp_dir, options, settings.presigned_url_seconds)


def open_leases(settings: Settings) -> Leases:
    """Leases across the processes sharing a data directory, or across replicas sharing a
    PostgreSQL database."""
    if settings.is_sqlite:
        return FileLeases(settings.data_dir / "leases")
    from stilton.storage.advisory_leases import AdvisoryLeases

    return AdvisoryLeases(settings.effective_database_url)


def open_runtime(settings: Settings, *, migrate: bool = True) -> Runtime:
    """The runtime; ``migrate=False`` refuses a database not at this code's schema instead
    of migrating it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = open_database(settings)
    if migrate:
        database.migrate()
    else:
        database.check_schema()
    _create_default_layout(database, settings)
    feed = ChangeFeed(database.connect, settings.generation_poll_interval)
    database.on_commit = feed.committed
    blobs = open_blobs(settings)
    # Spool files of a crashed process would otherwise stay forever; live ones are locked.
    blobs.sweep_spool()
    leases = open_leases(settings)
    return Runtime(settings, database, blobs, AuthService(database, feed), feed, leases)
