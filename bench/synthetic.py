"""The synthetic project with a very long page: thousands of tiny, distinct, valid wheels of one
project (one per version), built once into the bench cache so every server can serve them.

A real page that long (boto3's, botocore's) is what makes a slow renderer show; the wheels behind
it are tiny so the corpus stays small and any server (pypiserver, ``stilton import``) takes them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.corpus import BENCH_DIR, Corpus, CorpusFile, file_sha256
from tests.support.dists import Dist, write_wheel

PROJECT = "stilton-bench-big"
FILE_COUNT = 10_200  # more than 10,000 files on one page
SMOKE_FILE_COUNT = 30
CACHE_ROOT = BENCH_DIR / ".cache" / "synthetic"
COMPLETE_MARKER = "complete"  # written last: a directory without it is rebuilt


def version(number: int) -> str:
    """The ``number``-th version: 1.0.0, 1.0.1, ... 1.0.99, 1.1.0, ..."""
    return f"1.{number // 100}.{number % 100}"


def build_wheels(directory: Path, count: int) -> None:
    """Write ``count`` wheels of :data:`PROJECT` into ``directory`` (replacing what is there)."""
    if directory.exists():
        shutil.rmtree(directory)
    scratch = directory.with_name(directory.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    for number in range(count):
        dist = Dist(
            PROJECT,
            version(number),
            requires_python=">=3.8",
            summary=f"Synthetic release {number} of a project with a very long page.",
        )
        write_wheel(dist, scratch)
    (scratch / COMPLETE_MARKER).write_text(f"{count}\n")
    scratch.rename(directory)


def synthetic_corpus(count: int = FILE_COUNT, cache_root: Path = CACHE_ROOT) -> Corpus:
    """The ``count`` synthetic wheels, built on first use and cached under ``cache_root``."""
    directory = cache_root / str(count)
    if not (directory / COMPLETE_MARKER).exists():
        build_wheels(directory, count)
    paths = sorted(directory.glob("*.whl"))
    return Corpus(tuple(CorpusFile(path.name, file_sha256(path)) for path in paths), directory)
