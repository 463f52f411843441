"""The memory of parsed upstream pages and of pages read back for one file: what the change
feed and a refresh by this process make it forget, and what it refuses to take."""

from __future__ import annotations

from datetime import UTC, datetime

from stilton.core.names import IndexName, ProjectName
from stilton.indexes.proxy_pages import KnownPage, PageMemory
from stilton.storage.changes import RESET, Change, ChangeScope
from stilton.upstream.model import PageFiles, UpstreamPage


def change(id: int, scope: ChangeScope, index: str, project: str | None = None) -> Change:
    return Change(id, scope, IndexName(index), ProjectName(project) if project else None)


NOW = datetime(2026, 1, 1, tzinfo=UTC)


def known(project: str, files: int = 1) -> KnownPage:
    rows = [
        [f"{project}-{i}.tar.gz", f"http://127.0.0.1:9/{i}", str(i)] + [None] * 7
        for i in range(files)
    ]
    page = UpstreamPage(ProjectName(project), PageFiles(rows))
    return KnownPage(page, etag=None, last_modified=None, fetched_at=NOW, checked_at=NOW, facts={})


def test_an_entry_read_before_a_change_is_refused() -> None:
    memory = PageMemory(1 << 20)
    mark = memory.mark()
    memory.heard([change(1, ChangeScope.PROJECT, "up", "other")])
    memory.put_entry("up", "alpha", "alpha-0.tar.gz", known("alpha"), mark)
    assert memory.get_entry("up", "alpha", "alpha-0.tar.gz") is None


def test_entries_are_forgotten_with_their_project_index_or_everything() -> None:
    memory = PageMemory(1 << 20)
    for index, project in (("up", "alpha"), ("up", "beta"), ("other", "alpha")):
        memory.put_entry(index, project, f"{project}-0.tar.gz", known(project), memory.mark())
    memory.heard([change(1, ChangeScope.PROJECT, "up", "alpha")])
    assert memory.get_entry("up", "alpha", "alpha-0.tar.gz") is None
    assert memory.get_entry("up", "beta", "beta-0.tar.gz") is not None
    memory.heard([change(2, ChangeScope.INDEX, "up")])
    assert memory.get_entry("up", "beta", "beta-0.tar.gz") is None
    assert memory.get_entry("other", "alpha", "alpha-0.tar.gz") is not None
    memory.heard([RESET])
    assert memory.get_entry("other", "alpha", "alpha-0.tar.gz") is None


def test_a_whole_page_replaces_its_entries_and_bounds_hold() -> None:
    memory = PageMemory(1 << 20)
    memory.put_entry("up", "alpha", "alpha-0.tar.gz", known("alpha"), memory.mark())
    memory.put("up", "alpha", known("alpha", files=3))  # this process refreshed the page
    assert memory.get_entry("up", "alpha", "alpha-0.tar.gz") is None
    memory.put_entry("up", "alpha", "alpha-1.tar.gz", known("alpha"), memory.mark())
    assert memory.get_entry("up", "alpha", "alpha-1.tar.gz") is None, "the page is in memory"
    for i in range(PageMemory.ENTRIES + 10):
        memory.put_entry("up", f"p{i}", f"p{i}-0.tar.gz", known(f"p{i}"), memory.mark())
    assert memory.get_entry("up", "p0", "p0-0.tar.gz") is None, "the oldest went first"
    last = PageMemory.ENTRIES + 9
    assert memory.get_entry("up", f"p{last}", f"p{last}-0.tar.gz") is not None
