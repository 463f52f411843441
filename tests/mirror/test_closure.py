"""The dependency closure a sync takes from a fake upstream of real wheels: exactly the files
an installer on the targets needs (a diamond, extras asked for or not, markers by platform and
Python, platform wheels), read from PEP 658 metadata or, failing that, from the files."""

from __future__ import annotations

from stilton.core.filenames import PackageType
from stilton.mirror.config import FileFilters
from stilton.runtime import Runtime
from tests.mirror import graph
from tests.mirror.conftest import add_mirror, file_gets, live_files, sync
from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream, Fault


def test_closure_for_cpython_311_on_linux_is_exactly_what_installs_need(
    runtime: Runtime, upstream: FakeUpstream
) -> None:
    add_mirror(runtime, upstream)

    report = sync(runtime)

    assert set(live_files(runtime)) == graph.EXPECTED
    assert report.problems == []
    assert sorted(report.added) == sorted(graph.EXPECTED)
    assert report.metadata_fetched == 8  # every chosen wheel's PEP 658 file, nothing else
    # Each chosen file was downloaded once; nothing else was.
    assert sorted(file_gets(upstream)) == sorted(f"/files/{name}" for name in graph.EXPECTED)


def test_a_python_310_target_adds_the_backport_and_windows_adds_its_wheels(
    runtime: Runtime, upstream: FakeUpstream
) -> None:
    add_mirror(
        runtime,
        upstream,
        ["app"],
        pythons=("3.10", "3.11"),
        platforms=("manylinux_2_17_x86_64", "win_amd64"),
        filters=FileFilters(latest=1, package_types=frozenset({PackageType.WHEEL})),
    )

    sync(runtime)

    taken = set(live_files(runtime))
    assert Dist("backport", "1.0").wheel_filename in taken
    assert Dist("winonly", "1.0").wheel_filename in taken
    assert graph.native("cp311-cp311-win_amd64").wheel_filename in taken
    assert graph.native("cp312-cp312-manylinux_2_17_x86_64").wheel_filename not in taken
    assert not any(name.endswith(".tar.gz") for name in taken)


def test_an_extra_asked_for_later_in_the_walk_brings_its_requirements(
    runtime: Runtime, upstream: FakeUpstream
) -> None:
    upstream.add(Dist("wants-cli", "1.0", requires_dist=("app[cli]",)), sdist=False)
    add_mirror(runtime, upstream, ["app", "wants-cli"])

    sync(runtime)

    assert Dist("clitool", "1.0").wheel_filename in live_files(runtime)


def test_without_deps_only_the_requirements_themselves(
    runtime: Runtime, upstream: FakeUpstream
) -> None:
    add_mirror(runtime, upstream, ["base>=2,<3", "left"], with_deps=False)

    sync(runtime)

    assert set(live_files(runtime)) == graph.files("base", "2.5") | graph.files("left", "1.0")


def test_latest_n_and_pre_releases(runtime: Runtime, upstream: FakeUpstream) -> None:
    add_mirror(
        runtime,
        upstream,
        ["base"],
        with_deps=False,
        filters=FileFilters(
            latest=2, prereleases=True, package_types=frozenset({PackageType.WHEEL})
        ),
    )

    sync(runtime)

    assert set(live_files(runtime)) == {
        Dist("base", "3.0").wheel_filename,
        Dist("base", "4.0rc1").wheel_filename,
    }


def test_metadata_is_read_from_the_files_where_the_upstream_has_no_pep_658(
    runtime: Runtime, upstream: FakeUpstream
) -> None:
    upstream.set_fault(Fault.NO_METADATA)
    add_mirror(runtime, upstream)

    report = sync(runtime)

    assert set(live_files(runtime)) == graph.EXPECTED
    assert report.metadata_fetched == 0
    assert sorted(file_gets(upstream)) == sorted(f"/files/{name}" for name in graph.EXPECTED)


def test_allow_and_deny_globs_leave_projects_out(runtime: Runtime, upstream: FakeUpstream) -> None:
    add_mirror(runtime, upstream, filters=FileFilters(latest=1, deny=("speed*", "nat*")))

    report = sync(runtime)

    taken = set(live_files(runtime))
    assert not any(name.startswith(("speedup", "native")) for name in taken)
    assert sorted(report.denied) == ["native", "speedup"]
    assert report.problems == []
