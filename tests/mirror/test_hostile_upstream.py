"""A sync against an upstream that misbehaves: hashes that lie and bodies cut short keep
nothing and are reported; requirements nothing satisfies are named with who needs them; a
disk that fills up stops the run with nothing half-stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stilton.runtime import Runtime, open_runtime
from stilton.settings import Settings
from tests.mirror import graph
from tests.mirror.conftest import add_mirror, live_files, sync
from tests.support.dists import Dist
from tests.support.server import CLOSED_UPSTREAM
from tests.support.tmpfs import TmpfsUnavailable, mounted_tmpfs
from tests.support.upstream import FakeUpstream, Fault


def blobs(settings: Settings) -> set[str]:
    return {p.name for p in (settings.blob_dir / "sha256").rglob("*") if p.is_file()}


def spool_files(settings: Settings) -> list[Path]:
    return list((settings.blob_dir / "tmp").glob("*.part"))


def test_an_upstream_lying_about_hashes_has_nothing_kept(
    runtime: Runtime, upstream: FakeUpstream, settings: Settings
) -> None:
    upstream.set_fault(Fault.WRONG_HASH, "left")
    add_mirror(runtime, upstream)

    report = sync(runtime)

    lied = graph.files("left", "1.0")
    assert not lied & set(live_files(runtime))
    assert set(live_files(runtime)) == graph.EXPECTED - lied
    assert sorted(e.split(":")[0] for e in report.errors) == sorted(lied)
    assert all("does not match its advertised sha256" in e for e in report.errors)
    assert not {upstream.sha256(name) for name in lied} & blobs(settings)
    assert spool_files(settings) == []
    assert report.status == "errors"


def test_a_truncated_download_is_reported_and_retried_next_time(
    runtime: Runtime, upstream: FakeUpstream, settings: Settings
) -> None:
    upstream.set_fault(Fault.TRUNCATED, "right")
    add_mirror(runtime, upstream)

    report = sync(runtime)

    assert not graph.files("right", "1.0") & set(live_files(runtime))
    # The wheel's metadata file and the sdist broke off; the wheel is not tried without them.
    assert [e.split(":")[0] for e in sorted(report.errors)] == sorted(graph.files("right", "1.0"))
    assert spool_files(settings) == []
    upstream.clear_faults()
    # right's requirements are read this time: base>=2 brings base 3.0 in too.
    second = sync(runtime)
    assert set(second.added) == graph.files("right", "1.0") | graph.files("base", "3.0")
    assert set(live_files(runtime)) == graph.EXPECTED


def test_requirements_nothing_satisfies_are_named_with_who_needs_them(
    runtime: Runtime, upstream: FakeUpstream
) -> None:
    upstream.add(Dist("needy", "1.0", requires_dist=("base>=9", "ghost")), sdist=False)
    add_mirror(runtime, upstream, ["needy", "left>=7"])

    report = sync(runtime)

    assert report.unsatisfied == [
        "base>=9: no version of base matches (the newest are 1.0, 2.0, 2.5, 3.0, 4.0rc1)"
        " (needed by needy-1.0-py3-none-any.whl)",
        "ghost: the upstream has no such project (needed by needy-1.0-py3-none-any.whl)",
        "left>=7: no version of left matches (the newest are 1.0)"
        " (needed by the mirror's requirement 'left>=7')",
    ]
    assert report.status == "errors"
    assert Dist("needy", "1.0").wheel_filename in live_files(runtime)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    try:
        with mounted_tmpfs(tmp_path / "disk", 3 * 2**20) as mounted:
            yield mounted
    except TmpfsUnavailable as exc:
        pytest.skip(f"needs a real small disk: {exc}")


def test_a_full_disk_stops_the_run_with_nothing_half_stored(
    small_disk: Path, upstream: FakeUpstream
) -> None:
    big = Dist("huge", "1.0", padding=4 * 2**20)
    upstream.add(big, sdist=False)
    settings = Settings.from_env({}, {"data_dir": small_disk, "default_upstream": CLOSED_UPSTREAM})
    runtime = open_runtime(settings)
    try:
        add_mirror(runtime, upstream, ["left", "huge"], with_deps=False, concurrency=1)

        report = sync(runtime)

        assert report.status == "failed"
        assert report.failure is not None
        assert report.failure.startswith("Insufficient storage: the disk holding the data")
        assert big.wheel_filename not in live_files(runtime)
        assert spool_files(settings) == []
        assert runtime.hosted("mirrored").find_detail("huge") is None  # type: ignore[arg-type]
    finally:
        runtime.close()
