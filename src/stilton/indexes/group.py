"""The group index: an ordered list of member indexes, resolved per project.

First owner wins unless a rule says otherwise (``core.groups``); a member that does not own a
name is never asked about it, so private names routed or owned locally never reach an upstream.
Files are served under the group's own URLs and opened through the member that holds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stilton.core.errors import InvalidInput, NotFound
from stilton.core.filenames import parse_distribution_filename
from stilton.core.groups import GroupRule, combine, plan_for
from stilton.core.model import IndexKind, ProjectSummary
from stilton.core.names import IndexName, ProjectName
from stilton.indexes.base import (
    FileListing,
    FileStream,
    Index,
    ProjectList,
    ProjectView,
    StoredBlob,
)
from stilton.storage.catalog import IndexRecord

Resolved = list[tuple[Index, ProjectView]]


class GroupIndex:
    def __init__(self, record: IndexRecord, members: Sequence[Index], rules: Sequence[GroupRule]):
        self._record = record
        self.members = list(members)
        self.rules = tuple(rules)
        self._by_name = {member.name: member for member in self.members}

    @property
    def record(self) -> IndexRecord:
        return self._record

    @property
    def name(self) -> IndexName:
        return self._record.name

    @property
    def kind(self) -> IndexKind:
        return IndexKind.GROUP

    def uploads(self) -> None:
        return None  # a group holds nothing of its own; upload to one of its hosted members

    def leaves(self) -> Sequence[Index]:
        return [leaf for member in self.members for leaf in member.leaves()]

    async def aclose(self) -> None:
        for member in self.members:
            await member.aclose()

    async def list_projects(self, within: frozenset[IndexName] | None = None) -> ProjectList:
        """Every name a member in ``within`` knows, once (proxies list only the names they
        have seen); a member left out is one whose names the asker may not see."""
        seen: dict[ProjectName, ProjectSummary] = {}
        serial = 0
        for member in self.members:
            if within is not None and member.name not in within:
                continue
            listing = await member.list_projects(within)
            serial = max(serial, listing.last_serial)
            for project in listing.projects:
                seen.setdefault(project.name, project)
        return ProjectList(sorted(seen.values(), key=lambda p: p.name), serial)

    async def resolve(self, name: ProjectName) -> Resolved:
        """The members that serve ``name``, with their pages: the first owner alone, or every
        member that has it where a merge rule names it."""
        plan = plan_for(name, [m.name for m in self.members], self.rules)
        found: Resolved = []
        for member_name in plan.members:
            member = self._by_name[member_name]
            view = await member.find_project(name)
            if view is None:
                continue
            found.append((member, view))
            if not plan.merge:
                break
        return found

    async def find_project(self, name: ProjectName) -> ProjectView | None:
        found = await self.resolve(name)
        if not found:
            return None
        return ProjectView(
            combine(self.name, [view.detail for _, view in found]),
            fresh_for=_shortest((view.fresh_for for _, view in found)),
            stale=next((view.stale for _, view in found if view.stale), None),
            sources=frozenset().union(*({m.name} | v.sources for m, v in found)),
        )

    async def find_listing(self, name: ProjectName, filename: str) -> FileListing:
        return (await self._listing(name, filename))[1]

    async def _listing(self, name: ProjectName, filename: str) -> tuple[Index | None, FileListing]:
        """The member that serves ``filename`` of project ``name`` (None: none does) and what
        its page lists under that name: the first serving member that lists the filename, as
        ``combine`` has it. Only the members ``resolve`` would ask are asked."""
        plan = plan_for(name, [m.name for m in self.members], self.rules)
        has_project = False
        for member_name in plan.members:
            member = self._by_name[member_name]
            listing = await member.find_listing(name, filename)
            if not listing.has_project:
                continue
            if listing.sha256 is not None or not plan.merge:
                return member, listing
            has_project = True
        return None, FileListing(has_project)

    async def _holder(self, sha256: str, filename: str) -> Index:
        """The member whose file the group serves under this name and digest."""
        try:
            project = parse_distribution_filename(filename).project
        except InvalidInput as exc:
            raise NotFound(f"No file {filename!r} in index {self.name!r}.") from exc
        member, listing = await self._listing(project, filename)
        if member is None or listing.sha256 != sha256:
            raise NotFound(f"No file {filename!r} with sha256 {sha256} in index {self.name!r}.")
        return member

    async def open_file(self, sha256: str, filename: str) -> StoredBlob | FileStream:
        member = await self._holder(sha256, filename)
        return await member.open_file(sha256, filename)

    async def open_metadata(self, sha256: str, filename: str) -> StoredBlob:
        member = await self._holder(sha256, filename)
        return await member.open_metadata(sha256, filename)

    async def project_json(self, name: ProjectName, version: str | None, base_url: str) -> bytes:
        found = await self.resolve(name)
        if not found:
            raise NotFound(f"Project {name!r} is not in index {self.name!r}.")
        return await found[0][0].project_json(name, version, base_url)


def _shortest(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None
