"""Garbage collection on every backend pair: orphans are found by the rows, kept while within
the grace period, judged again right before they go, and nothing a row names is removed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stilton.runtime import Runtime, open_runtime
from stilton.storage.garbage import collect_garbage, find_garbage
from tests.support.backends import Backend
from tests.support.dists import Dist, write_wheel


def later() -> datetime:
    """A "now" for a collection that sees every blob written so far as old (taken when asked:
    a suite runs for many minutes after this module is imported)."""
    return datetime.now(UTC) + timedelta(minutes=5)


@pytest.fixture
def runtime(backend: Backend, tmp_path: Path) -> Iterator[Runtime]:
    opened = open_runtime(backend.settings(tmp_path / "data"))
    yield opened
    opened.close()


def _stored(runtime: Runtime, tmp_path: Path) -> set[str]:
    """A file imported into ``local``: its wheel and its metadata, named by a row."""
    path = write_wheel(Dist("gc-contract", "1.0"), tmp_path)
    runtime.hosted("local").import_file(path, "tests")
    return {sha256 for sha256, _size in runtime.blobs.list_blobs()}


def _orphan(runtime: Runtime, data: bytes) -> str:
    sha256 = hashlib.sha256(data).hexdigest()
    runtime.blobs.put_bytes(data, sha256)
    return sha256


def test_orphans_go_and_named_blobs_stay(runtime: Runtime, tmp_path: Path) -> None:
    named = _stored(runtime, tmp_path)
    orphan = _orphan(runtime, b"an orphan")

    fresh = find_garbage(runtime.database, runtime.blobs, timedelta(hours=1))
    assert [e.sha256 for e in fresh.recent] == [orphan] and fresh.orphans == ()

    old = find_garbage(runtime.database, runtime.blobs, timedelta(0), now=later())
    assert [e.sha256 for e in old.orphans] == [orphan] and old.referenced == len(named)
    done = collect_garbage(runtime.database, runtime.blobs, old, timedelta(0), now=later())
    assert done.blobs == (orphan,) and done.blob_bytes == len(b"an orphan")
    assert {sha256 for sha256, _size in runtime.blobs.list_blobs()} == named


def test_an_orphan_a_row_names_by_then_is_kept(runtime: Runtime) -> None:
    orphan = _orphan(runtime, b"about to be named")
    assert not runtime.blobs.delete_unused(orphan, later(), lambda: False)
    assert runtime.blobs.stat(orphan) == len(b"about to be named")
    assert not runtime.blobs.delete_unused(
        orphan, datetime.now(UTC) - timedelta(hours=1), lambda: True
    )
    assert runtime.blobs.stat(orphan) == len(b"about to be named")
    assert runtime.blobs.delete_unused(orphan, later(), lambda: True)
    assert runtime.blobs.stat(orphan) is None


def test_a_blob_written_again_while_judged_stays(runtime: Runtime, backend: Backend) -> None:
    if backend.blob_url:
        pytest.skip("a bucket has no atomic rename: the check and the delete are a request apart")
    data = b"written again by an upload"
    orphan = _orphan(runtime, data)

    def writer_puts_it_again() -> bool:
        runtime.blobs.put_bytes(data, orphan)
        return True  # no row names it yet: the upload's commit comes after

    assert runtime.blobs.delete_unused(orphan, later(), writer_puts_it_again)
    assert runtime.blobs.read(orphan) == data


def test_a_collection_cut_short_is_undone(runtime: Runtime, backend: Backend) -> None:
    if backend.blob_url:
        pytest.skip("nothing is taken out of reach in a bucket")
    orphan = _orphan(runtime, b"taken, then the collector died")

    def crash() -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runtime.blobs.delete_unused(orphan, later(), crash)
    assert runtime.blobs.stat(orphan) is not None  # put back on the way out
    assert runtime.blobs.restore_held() == []
