"""The memory of names hosted indexes lack: forgotten on a change to the index, and never
taught by an answer that a change heard meanwhile may have made stale."""

from __future__ import annotations

from stilton.core.names import IndexName, ProjectName
from stilton.indexes.hosted import AbsentProjects
from stilton.storage.changes import RESET, Change, ChangeScope


def change(id: int, scope: ChangeScope, index: str, project: str | None = None) -> Change:
    return Change(id, scope, IndexName(index), ProjectName(project) if project else None)


def test_a_change_heard_during_the_lookup_wins() -> None:
    absent = AbsentProjects()
    mark = absent.mark("local")
    absent.heard([change(1, ChangeScope.PROJECT, "local", "acme-utils")])  # an upload
    absent.add("local", "acme-utils", mark)  # the lookup that started before it
    assert not absent.has("local", "acme-utils")
    absent.heard([change(2, ChangeScope.PROJECT, "other", "x")])  # another index: no matter
    mark = absent.mark("local")
    absent.heard([change(3, ChangeScope.LISTING, "pypi")])
    absent.add("local", "acme-utils", mark)
    assert absent.has("local", "acme-utils")


def test_names_are_forgotten_with_their_project_index_or_everything() -> None:
    absent = AbsentProjects()
    for index, name in (("local", "a"), ("local", "b"), ("team", "a")):
        absent.add(index, name, absent.mark(index))
    absent.heard([change(1, ChangeScope.PROJECT, "local", "a")])
    assert not absent.has("local", "a") and absent.has("local", "b")
    absent.heard([change(2, ChangeScope.INDEX, "local")])  # e.g. its configuration changed
    assert not absent.has("local", "b") and absent.has("team", "a")
    mark = absent.mark("team")
    absent.heard([RESET])
    assert not absent.has("team", "a")
    absent.add("team", "a", mark)
    assert not absent.has("team", "a")
