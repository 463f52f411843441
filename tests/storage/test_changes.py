"""The change feed: a change is heard by its own process after commit (never after a rollback),
by every other process at its next poll, once; ids that commit out of order are not missed; a
process that fell too far behind drops everything; the page-cache counters move only for what
a change touched."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import insert

from stilton.core.names import IndexName, ProjectName
from stilton.storage.changes import RESET, Change, ChangeFeed, ChangeScope, publish
from stilton.storage.database import Database
from stilton.storage.schema import changes, utcnow
from stilton.web.cache import Versions


class Process:
    """One process's database handle and feed, with what its listeners heard."""

    def __init__(self, path: Path) -> None:
        self.database = Database(f"sqlite:///{path}")
        self.database.migrate()
        self.feed = ChangeFeed(self.database.connect, interval=0)
        self.database.on_commit = self.feed.committed
        self.heard: list[Change] = []
        self.feed.subscribe(self.heard.extend)
        self.feed.poll()

    def publish(self, project: str, index: str = "local") -> None:
        with self.database.begin() as connection:
            publish(connection, ChangeScope.PROJECT, index, ProjectName(project))

    def projects(self) -> list[str | None]:
        return [c.project for c in self.heard]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "db.sqlite3"


@pytest.fixture
def processes(path: Path) -> Iterator[tuple[Process, Process]]:
    first, second = Process(path), Process(path)
    yield first, second
    first.database.dispose()
    second.database.dispose()


def test_own_change_is_heard_after_commit_and_not_again(
    processes: tuple[Process, Process],
) -> None:
    first, _ = processes
    first.publish("demo")
    assert first.projects() == ["demo"]
    first.feed.poll()
    assert first.projects() == ["demo"]


def _publish_then_fail(database: Database) -> None:
    with database.begin() as connection:
        publish(connection, ChangeScope.PROJECT, "local", ProjectName("demo"))
        raise ZeroDivisionError


def test_a_rolled_back_change_is_never_heard(processes: tuple[Process, Process]) -> None:
    first, second = processes
    with pytest.raises(ZeroDivisionError):
        _publish_then_fail(first.database)
    second.feed.poll()
    assert first.heard == second.heard == []


def test_another_process_hears_each_change_once_in_order(
    processes: tuple[Process, Process],
) -> None:
    first, second = processes
    for name in ("a", "b", "c"):
        first.publish(name)
    second.feed.poll()
    second.feed.poll()
    assert second.projects() == ["a", "b", "c"]
    assert [c.index for c in second.heard] == [IndexName("local")] * 3


def _insert(database: Database, change_id: int, project: str) -> None:
    """A row with a chosen id, as a transaction that took its id earlier commits later."""
    with database.begin() as connection:
        connection.execute(
            insert(changes).values(
                id=change_id, scope="project", index_name="local", project=project, at=utcnow()
            )
        )


def test_an_id_that_commits_late_is_not_missed(processes: tuple[Process, Process]) -> None:
    first, second = processes
    _insert(first.database, 10, "early")
    second.feed.poll()
    _insert(first.database, 12, "late")
    second.feed.poll()
    _insert(first.database, 11, "slow")  # took its id before 12, committed after
    second.feed.poll()
    assert second.projects() == ["early", "late", "slow"]


def test_a_process_that_fell_behind_drops_everything(
    processes: tuple[Process, Process],
) -> None:
    first, second = processes
    first.publish("a")
    second.feed.poll()
    for name in ("b", "c", "d"):
        first.publish(name)
    with first.database.begin() as connection:  # pruned before the second process read them
        connection.execute(changes.delete().where(changes.c.project.in_(["a", "b", "c"])))
    second.feed.poll()
    assert second.heard[-1] == RESET


def test_a_write_inside_a_write_is_refused(path: Path) -> None:
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with (
        database.begin(),
        pytest.raises(RuntimeError, match="inside another"),
        database.begin(),
    ):
        pass
    database.dispose()


def _versions(process: Process, groups: dict[str, list[str]]) -> Versions:
    return Versions(process.feed, lambda: groups)


def _heard(versions: Versions, *news: Change) -> None:
    versions.apply(news)


@pytest.mark.parametrize(
    ("change", "moved"),
    [
        (
            Change(1, ChangeScope.PROJECT, IndexName("local"), ProjectName("a")),
            {("local", "a"), ("main", "a"), ("local", None), ("main", None)},
        ),
        (
            Change(1, ChangeScope.PROJECT, IndexName("pypi"), ProjectName("b")),
            {("pypi", "b"), ("main", "b"), ("pypi", None), ("main", None)},
        ),
        (
            Change(1, ChangeScope.INDEX, IndexName("local")),
            {(i, p) for i in ("local", "main") for p in ("a", "b", None)},
        ),
        (Change(1, ChangeScope.AUTH), set()),
        (RESET, {(i, p) for i in ("local", "pypi", "main") for p in ("a", "b", None)}),
    ],
)
def test_a_change_moves_the_stamps_of_what_it_touched_only(
    processes: tuple[Process, Process],
    change: Change,
    moved: set[tuple[str, str | None]],
) -> None:
    versions = _versions(processes[0], {"main": ["local", "pypi"]})
    keys: Sequence[tuple[str, str | None]] = [
        (i, p) for i in ("local", "pypi", "main") for p in ("a", "b", None)
    ]
    before = {key: versions.stamp(*key) for key in keys}
    _heard(versions, change)
    after = {key: versions.stamp(*key) for key in keys}
    assert {key for key in keys if before[key] != after[key]} == moved


def test_a_stamp_never_comes_back_when_a_group_loses_a_member(
    processes: tuple[Process, Process],
) -> None:
    groups = {"main": ["local", "pypi"]}
    versions = _versions(processes[0], groups)
    for _ in range(3):
        _heard(versions, Change(1, ChangeScope.PROJECT, IndexName("pypi"), ProjectName("a")))
    seen = {versions.stamp("main", "a")}
    groups["main"] = ["local"]
    _heard(versions, Change(2, ChangeScope.INDEX, IndexName("main")))
    for _ in range(5):
        assert versions.stamp("main", "a") not in seen
        seen.add(versions.stamp("main", "a"))
        _heard(versions, Change(3, ChangeScope.PROJECT, IndexName("local"), ProjectName("a")))
