"""Carrying the upstream's changes over to the files a mirror stored: a file or project removed
upstream is removed, a yank or unyank is repeated, a PEP 792 status (quarantine included) is
taken; with ``--prune``, files the selection no longer takes are removed too.

Only projects whose page this run read are judged: a page that could not be fetched changes
nothing, so an upstream failure never empties a mirror. A quarantined project's page lists no
file, so its files are kept (and hidden by the status) until it comes back.
"""

from __future__ import annotations

import anyio

from stilton.core.model import ProjectStatus
from stilton.core.names import ProjectName
from stilton.mirror.report import SyncReport
from stilton.mirror.store import MirrorStore
from stilton.mirror.sync import Walk
from stilton.storage.inventory import IndexedFile
from stilton.upstream.model import UpstreamPage


class Propagation:
    def __init__(self, store: MirrorStore, walk: Walk, report: SyncReport, prune: bool) -> None:
        self.store = store
        self.walk = walk
        self.report = report
        self.prune = prune
        self.inventory: dict[str, IndexedFile] = {}

    async def run(self) -> None:
        self.inventory = await anyio.to_thread.run_sync(self.store.inventory)
        mirrored = await anyio.to_thread.run_sync(self.store.mirrored)
        by_project: dict[ProjectName, list[str]] = {}
        for filename, (project, _sha256) in sorted(mirrored.items()):
            by_project.setdefault(ProjectName(project), []).append(filename)
        for project, page in sorted(self.walk.pages.items()):
            await self._project(project, page, by_project.pop(project, []))
        if self.prune:
            for project, filenames in sorted(by_project.items()):
                if project not in self.walk.page_errors:  # no longer needed at all
                    await self._remove(project, filenames, self.report.pruned)

    async def _project(
        self, project: ProjectName, page: UpstreamPage | None, filenames: list[str]
    ) -> None:
        if page is None:
            if filenames:
                await self._remove(project, filenames, self.report.removed)
                self.report.removed_projects.append(project)
            return
        changed = await anyio.to_thread.run_sync(
            self.store.set_status, project, page.status, page.status_reason
        )
        if changed:
            self.report.status_changes.append(f"{project}: {page.status.value}")
        if page.status is ProjectStatus.QUARANTINED:
            return
        listed = {file.filename: file for file in page.files}
        await self._remove(project, [f for f in filenames if f not in listed], self.report.removed)
        kept = [f for f in filenames if f in listed]
        for filename in kept:
            file = listed[filename]
            await self._yank(project, filename, file.yanked, file.yanked_reason)
        if self.prune:
            unchosen = [f for f in kept if f not in self.walk.chosen]
            await self._remove(project, unchosen, self.report.pruned)

    async def _yank(
        self, project: ProjectName, filename: str, yanked: bool, reason: str | None
    ) -> None:
        stored = self.inventory.get(filename)
        if stored is None or stored.deleted:
            return
        if (stored.yanked, stored.yanked_reason if stored.yanked else None) == (
            yanked,
            reason if yanked else None,
        ):
            return
        await anyio.to_thread.run_sync(self.store.set_yanked, project, filename, yanked, reason)
        (self.report.yanked if yanked else self.report.unyanked).append(filename)

    async def _remove(self, project: ProjectName, filenames: list[str], into: list[str]) -> None:
        if not filenames:
            return
        live = {f for f in filenames if f in self.inventory and not self.inventory[f].deleted}
        await anyio.to_thread.run_sync(self.store.remove, project, filenames, live)
        into.extend(sorted(live))
