"""Changes upstream reach the mirror on the next sync, and the report lists them: removed files
and projects, yanks and unyanks, PEP 792 statuses; ``--prune`` removes what the selection no
longer takes, and a file wanted again comes back without a download. A second run with nothing
changed upstream asks only conditional page requests."""

from __future__ import annotations

import httpx
from starlette.testclient import TestClient

from stilton.runtime import Runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.mirror import graph
from tests.mirror.conftest import add_mirror, file_gets, live_files, sync
from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream, Fault

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def test_a_second_run_with_nothing_new_fetches_only_pages_and_gets_304s(
    runtime: Runtime, upstream: FakeUpstream
) -> None:
    add_mirror(runtime, upstream)
    first = sync(runtime)
    upstream.clear_requests()

    second = sync(runtime)

    assert second.added == [] and second.problems == []
    assert second.present == len(graph.EXPECTED)
    assert second.pages_unchanged == second.projects == first.projects
    assert all(r.path.startswith("/simple/") for r in upstream.requests)
    assert all(r.status == 304 for r in upstream.requests)
    assert all("if-none-match" in r.headers for r in upstream.requests)


def test_a_new_release_upstream_is_fetched_alone(runtime: Runtime, upstream: FakeUpstream) -> None:
    add_mirror(runtime, upstream)
    sync(runtime)
    upstream.clear_requests()
    upstream.add(Dist("speedup", "1.1"))

    report = sync(runtime)

    assert sorted(report.added) == sorted(graph.files("speedup", "1.1"))
    assert sorted(file_gets(upstream)) == sorted(
        f"/files/{n}" for n in graph.files("speedup", "1.1")
    )
    assert report.pages_unchanged == report.projects - 1


def test_yanks_removals_and_deleted_projects_are_carried_over(
    runtime: Runtime, upstream: FakeUpstream
) -> None:
    add_mirror(runtime, upstream)
    sync(runtime)
    left_wheel = Dist("left", "1.0").wheel_filename
    upstream.yank(left_wheel, "broken")
    upstream.remove_file(Dist("right", "1.0").sdist_filename)
    upstream.remove_project("speedup")

    report = sync(runtime)

    files = live_files(runtime)
    assert files[left_wheel] == (True, "broken")
    assert report.yanked == [left_wheel]
    assert report.removed == sorted(
        [Dist("right", "1.0").sdist_filename, *graph.files("speedup", "1.0")]
    )
    assert report.removed_projects == ["speedup"]
    assert not any(name.startswith("speedup") for name in files)
    assert report.unsatisfied == [
        "speedup: the upstream has no such project (needed by fancy-1.0-py3-none-any.whl;"
        " fancy-1.0.tar.gz)"
    ]

    upstream.yank(left_wheel, False)
    assert sync(runtime).unyanked == [left_wheel]
    assert live_files(runtime)[left_wheel] == (False, None)


def test_a_quarantined_project_offers_no_file_until_it_comes_back(
    runtime: Runtime, upstream: FakeUpstream, settings: Settings
) -> None:
    add_mirror(runtime, upstream)
    sync(runtime)
    upstream.set_status("left", "quarantined", "malware report")

    report = sync(runtime)

    assert report.status_changes == ["left: quarantined"]
    assert report.removed == [] and report.problems == []
    with TestClient(create_app(settings)) as client:
        page = client.get("/mirrored/simple/left/", headers=JSON).json()
        assert page["project-status"] == {"status": "quarantined", "reason": "malware report"}
        assert page["files"] == []
        upstream.set_status("left", "active")
        assert sync(runtime).status_changes == ["left: active"]
    with TestClient(create_app(settings)) as client:
        page = client.get("/mirrored/simple/left/", headers=JSON).json()
        assert {f["filename"] for f in page["files"]} == graph.files("left", "1.0")


def test_prune_removes_what_is_no_longer_selected_and_a_file_wanted_again_comes_back(
    runtime: Runtime, upstream: FakeUpstream
) -> None:
    add_mirror(runtime, upstream)
    sync(runtime)
    upstream.add(Dist("base", "3.5"))

    kept = sync(runtime)  # without --prune the old version stays
    assert graph.files("base", "3.0") <= set(live_files(runtime))
    assert kept.pruned == []

    pruned = sync(runtime, prune=True)
    assert sorted(pruned.pruned) == sorted(graph.files("base", "3.0"))
    assert not graph.files("base", "3.0") & set(live_files(runtime))

    for filename in graph.files("base", "3.5"):
        upstream.remove_file(filename)
    upstream.clear_requests()
    back = sync(runtime, prune=True)
    assert sorted(back.restored) == sorted(graph.files("base", "3.0"))
    assert graph.files("base", "3.0") <= set(live_files(runtime))
    assert file_gets(upstream) == []


def test_a_failing_upstream_page_changes_nothing_of_that_project(
    runtime: Runtime, upstream: FakeUpstream
) -> None:
    add_mirror(runtime, upstream)
    sync(runtime)
    before = live_files(runtime)
    upstream.set_fault(Fault.ERROR_500, "base")

    report = sync(runtime, prune=True)

    assert live_files(runtime) == before
    assert report.errors == [
        "base: The upstream answered 500 for " + upstream.simple_url + "base/."
    ]
    assert report.pruned == []
    assert "Nothing was pruned" in report.notes[0]


def test_served_pages_follow_the_sync(
    runtime: Runtime, upstream: FakeUpstream, settings: Settings
) -> None:
    add_mirror(runtime, upstream)
    sync(runtime)
    with TestClient(create_app(settings)) as client:
        page = client.get("/mirrored/simple/base/", headers=JSON).json()
        assert {f["filename"] for f in page["files"]} == graph.files("base", "2.5") | graph.files(
            "base", "3.0"
        )
        wheel = next(f for f in page["files"] if f["filename"].endswith(".whl"))
        assert wheel["hashes"]["sha256"] == upstream.sha256(wheel["filename"])
        assert wheel["core-metadata"]
        response: httpx.Response = client.get(wheel["url"])
        assert response.content == upstream.file_bytes(wheel["filename"])
        api = client.get("/mirrored/pypi/app/json").json()
        assert api["info"]["requires_dist"][0] == "left>=1"
