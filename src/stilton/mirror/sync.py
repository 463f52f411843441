"""The sync engine: walk the closure of a mirror's requirements over the upstream's pages and
the files' core metadata, then fetch every chosen file not stored yet.

Metadata comes from the file itself where it is stored already, else from the upstream's PEP
658 ``.metadata`` file, else from the file (downloaded, verified and stored on the spot: it
was chosen anyway). A file stored by an earlier run, finished or cut short, is never fetched
again. Problems with one project or file are reported and the run goes on; a full disk or an
unusable blob store stops it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio

from stilton.core.errors import Conflict, StiltonError, StorageError
from stilton.core.metadata import parse_core_metadata
from stilton.core.model import ProjectStatus
from stilton.core.names import ProjectName
from stilton.core.upstream import HostRefused
from stilton.mirror.closure import Closure
from stilton.mirror.config import MirrorConfig
from stilton.mirror.fetch import MAX_FILE_SIZE, MirrorUpstream
from stilton.mirror.report import SyncObserver, SyncReport
from stilton.mirror.selection import Selection, project_allowed, select_files
from stilton.mirror.store import MirrorStore, requires_dist
from stilton.mirror.targets import Targets
from stilton.storage.inventory import IndexedFile
from stilton.upstream.model import UpstreamFile, UpstreamPage

logger = logging.getLogger("stilton.mirror")
HOST_HINT = (
    "A mirror names the hosts it trusts to serve its upstream's files when it is added:"
    " 'stilton mirror add ... --file-hosts HOST'."
)
T = TypeVar("T")
Chosen = tuple[ProjectName, UpstreamFile]


@dataclass
class Walk:
    """What a run has learnt so far."""

    pages: dict[ProjectName, UpstreamPage | None] = field(default_factory=dict)  # None: 404
    page_errors: dict[ProjectName, str] = field(default_factory=dict)
    selections: dict[ProjectName, Selection] = field(default_factory=dict)
    chosen: dict[str, Chosen] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)  # stored, present, or failed for good


async def gather(items: Iterable[T], work: Callable[[T], Coroutine[Any, Any, None]]) -> None:
    """Run ``work`` on every item at once (the upstream's limiter bounds the requests). The
    first error stops the others and is raised as itself, not in an exception group."""
    try:
        async with anyio.create_task_group() as group:
            for item in items:
                group.start_soon(work, item)
    except BaseExceptionGroup as grouped:
        raise _first(grouped) from None


def _first(grouped: BaseExceptionGroup[BaseException]) -> BaseException:
    first = grouped.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


class MirrorSync:
    def __init__(
        self,
        config: MirrorConfig,
        store: MirrorStore,
        upstream: MirrorUpstream,
        observer: SyncObserver,
    ) -> None:
        self.config = config
        self.store = store
        self.upstream = upstream
        self.observer = observer
        self.targets = Targets(config.pythons, config.platforms)
        self.closure = Closure(self.targets, config.with_deps)
        self.report = SyncReport()
        self.walk = Walk()
        self.inventory: dict[str, IndexedFile] = {}
        self.mirrored: dict[str, tuple[str, str]] = {}

    async def resolve_and_fetch(self) -> None:
        self.inventory = await anyio.to_thread.run_sync(self.store.inventory)
        self.mirrored = await anyio.to_thread.run_sync(self.store.mirrored)
        try:
            await self._resolve()
            chosen = [c for name, c in self.walk.chosen.items() if name not in self.walk.done]
            self.observer.phase("downloading", len(chosen))
            await gather(chosen, self._fetch_counted)
        finally:
            await anyio.to_thread.run_sync(self.store.flush)
        self._summarize()

    async def _resolve(self) -> None:
        self.observer.phase("resolving", None)
        pending: set[ProjectName] = set()
        for requirement in self.config.parsed_requirements():
            pending |= self.closure.add_root(requirement)
        while pending:
            pending = await self._round(self._allowed(pending))

    def _allowed(self, projects: set[ProjectName]) -> list[ProjectName]:
        allowed = []
        for project in sorted(projects):
            if project_allowed(project, self.config.filters):
                allowed.append(project)
            elif project not in self.report.denied:
                self.report.denied.append(project)
        return allowed

    async def _round(self, projects: list[ProjectName]) -> set[ProjectName]:
        """Choose the files of ``projects``; the projects their metadata asks for (again)."""
        unread = [
            p for p in projects if p not in self.walk.pages and p not in self.walk.page_errors
        ]
        await gather(unread, self._fetch_page)
        new: list[Chosen] = []
        for project in projects:
            for file in self._select(project):
                if file.filename not in self.walk.chosen:
                    self.walk.chosen[file.filename] = (project, file)
                    new.append((project, file))
        found: dict[str, list[str]] = {}

        async def learn(chosen: Chosen) -> None:
            found[chosen[1].filename] = await self._requirements(*chosen)

        await gather(new, learn)
        pending: set[ProjectName] = set()
        for project, file in new:
            pending |= self.closure.add_file(project, file.filename, found[file.filename])
        return pending

    def _select(self, project: ProjectName) -> tuple[UpstreamFile, ...]:
        page = self.walk.pages.get(project)
        if page is None or page.status is ProjectStatus.QUARANTINED:
            return ()  # PEP 792: a quarantined project offers no file
        selection = select_files(
            project,
            page.files,
            self.closure.requirements_of(project),
            self.config.filters,
            self.targets,
        )
        self.walk.selections[project] = selection
        return selection.files

    async def _fetch_page(self, project: ProjectName) -> None:
        known = await anyio.to_thread.run_sync(self.store.followed_page, project)
        try:
            fetched = await self.upstream.fetch_page(project, known)
        except StorageError:
            raise
        except StiltonError as exc:
            self.walk.page_errors[project] = f"{project}: {exc.message}"
            return
        finally:
            self.observer.advance(project)
        self.walk.pages[project] = fetched.page
        if fetched.changed:
            await anyio.to_thread.run_sync(self.store.keep_page, project, fetched.followed)
        else:
            self.report.pages_unchanged += 1

    async def _requirements(self, project: ProjectName, file: UpstreamFile) -> list[str]:
        """The Requires-Dist of a chosen file; [] when it cannot be read (reported)."""
        stored = self._stored(file)
        try:
            if stored is not None:
                return await anyio.to_thread.run_sync(self.store.stored_requirements, stored)
            data = await self.upstream.fetch_metadata(file)
            if data is not None:
                self.report.metadata_fetched += 1
                return requires_dist(parse_core_metadata(data))
        except StorageError:
            raise
        except StiltonError as exc:
            self._failed(file, exc)
            return []
        return await self._fetch(project, file, requirements=True) or []

    def _stored(self, file: UpstreamFile) -> IndexedFile | None:
        """The live file of that name, if it holds the bytes the upstream lists."""
        stored = self.inventory.get(file.filename)
        if stored is None or stored.deleted:
            return None
        return stored if file.sha256 in ("", stored.sha256) else None

    async def _fetch_counted(self, chosen: Chosen) -> None:
        await self._fetch(*chosen)
        self.observer.advance(chosen[1].filename)

    async def _fetch(
        self, project: ProjectName, file: UpstreamFile, *, requirements: bool = False
    ) -> list[str] | None:
        """Store a chosen file unless it is there already; its Requires-Dist if asked for."""
        if file.filename in self.walk.done:
            return None
        self.walk.done.add(file.filename)
        try:
            if await self._already_there(project, file):
                if not requirements:
                    return None
                stored = self.inventory[file.filename]
                return await anyio.to_thread.run_sync(self.store.stored_requirements, stored)
            spooled = await self.upstream.download(file, self.store.hosted.blobs, self._limit())
            found = await anyio.to_thread.run_sync(self.store.store, spooled, file, project)
        except StorageError:
            raise
        except StiltonError as exc:
            self._failed(file, exc)
            return None
        self.report.added.append(file.filename)
        self.report.downloaded_bytes += spooled.size
        if not file.sha256:  # the upstream gave none to check against
            self.report.unverified.append(file.filename)
        return found

    def _limit(self) -> int:
        return self.config.filters.max_size or MAX_FILE_SIZE

    async def _already_there(self, project: ProjectName, file: UpstreamFile) -> bool:
        stored = self.inventory.get(file.filename)
        if stored is None:
            return False
        if file.sha256 not in ("", stored.sha256):
            raise _OtherBytes(file.filename, stored.deleted)
        if stored.deleted:
            await anyio.to_thread.run_sync(
                self.store.restore, project, file.filename, stored.sha256
            )
            self.report.restored.append(file.filename)
        else:
            self.report.present += 1
            if file.filename not in self.mirrored:  # stored by a run cut short before noting it
                await anyio.to_thread.run_sync(
                    self.store.record, project, file.filename, stored.sha256
                )
        return True

    def _failed(self, file: UpstreamFile, exc: StiltonError) -> None:
        self.walk.done.add(file.filename)
        self.report.errors.append(f"{file.filename}: {exc.message}")
        if isinstance(exc, HostRefused) and HOST_HINT not in self.report.notes:
            self.report.notes.append(HOST_HINT)
        logger.warning("mirror: %s: %s", file.filename, exc.message)

    def _summarize(self) -> None:
        report, walk = self.report, self.walk
        report.projects = len(walk.pages) + len(walk.page_errors)
        report.selected = len(walk.chosen)
        report.errors[:0] = sorted(walk.page_errors.values())
        report.unsatisfied.extend(self.closure.problems)
        skipped: set[str] = set()
        for project in sorted(self.closure.needs):
            if project in walk.page_errors or project in report.denied:
                continue
            needed_by = self.closure.who_needs(project)
            if project in walk.pages and walk.pages[project] is None:
                report.unsatisfied.append(
                    f"{project}: the upstream has no such project (needed by {needed_by})"
                )
            elif project in walk.selections:
                selection = walk.selections[project]
                report.unsatisfied += [
                    f"{m} (needed by {needed_by})" for m in selection.unsatisfied
                ]
                skipped.update(s.filename for s in selection.skipped)
        report.skipped = len(skipped)


class _OtherBytes(Conflict):
    def __init__(self, filename: str, deleted: bool) -> None:
        was = "a file since deleted" if deleted else "a file"
        super().__init__(
            f"the upstream now lists other bytes under this name than {was} the mirror stored;"
            " a filename never changes its bytes in an index, so the new ones were not kept."
            " Ask the upstream's operators why the file changed."
        )
