"""``python -m bench.mirror``: how fast a mirror syncs and ``stilton verify`` checks.

1. A closure of ``--projects`` synthetic projects (a DAG: each needs the next and a few later
   ones; two versions each, wheels of ``--wheel-kib`` KiB), built once into the bench cache and
   served as a static PEP 503 tree with PEP 658 metadata (nginx if installed, else Python).
2. ``stilton mirror run`` of the closure of the first project (``--with-deps --latest 1`` for
   cp311 manylinux x86_64), cold, then again (every page revalidated, nothing fetched), against
   ``pip download`` of the same closure from the same tree (each timed in one process; pip with
   no cache).
3. ``stilton verify`` of the mirror, and of ``--verify-files`` small synthetic blobs registered
   in an index (100,000 by default), in files and MiB per second.

Numbers are printed and written to ``bench/results/mirror-<time>.json``; nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.corpus import BENCH_DIR, Corpus, CorpusFile, file_sha256, pip_command, pip_environ
from bench.report import RESULTS_DIR
from bench.servers import ServerKind, open_upstream
from bench.upstream import build_tree
from tests.support.dists import Dist, write_wheel
from tests.support.server import CLOSED_UPSTREAM, server_environ, stilton_command

CACHE = BENCH_DIR / ".cache" / "mirror"
PREFIX = "mb-p"
TARGET = ("--python", "3.11", "--platform", "manylinux_2_17_x86_64")


def project(number: int) -> str:
    return f"{PREFIX}{number:03d}"


def requirements_of(number: int, count: int) -> tuple[str, ...]:
    """The next project and two later ones: every project is in the first one's closure."""
    later = {number + 1, number + 7, number + 13}
    return tuple(f"{project(n)}>=1" for n in sorted(later) if n < count)


def build_closure(count: int, kib: int) -> Corpus:
    directory = CACHE / f"{count}x{kib}k"
    if not (directory / "complete").exists():
        shutil.rmtree(directory, ignore_errors=True)
        for number in range(count):
            for version in ("1.0", "2.0"):
                dist = Dist(
                    project(number), version, requires_dist=requirements_of(number, count),
                    padding=kib * 1024, tag="cp311-cp311-manylinux_2_17_x86_64",
                )  # fmt: skip
                write_wheel(dist, directory)
        (directory / "complete").write_text("done\n")
    paths = sorted(directory.glob("*.whl"))
    return Corpus(tuple(CorpusFile(p.name, file_sha256(p)) for p in paths), directory)


def stilton(data_dir: Path, *args: str) -> tuple[float, str]:
    """Run ``stilton ARGS``; seconds taken and its output."""
    environ = server_environ(os.environ, CLOSED_UPSTREAM)
    environ["STILTON_DATA_DIR"] = str(data_dir)
    started = time.perf_counter()
    completed = subprocess.run(
        [*stilton_command(), *args], capture_output=True, text=True, env=environ, check=False
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"stilton {' '.join(args)} failed:\n{completed.stdout}{completed.stderr}"
        )
    return seconds, completed.stdout


def took(output: str, marker: str = "Took ") -> float:
    """The seconds a command says its work took (without the process's start)."""
    return float(output.rsplit(marker, 1)[1].split()[0])


def pip_download(index_url: str, requirement: str, destination: Path) -> float:
    argv = [
        *pip_command(), "download", "--index-url", index_url, "--no-cache-dir",
        "--only-binary", ":all:", "--python-version", "3.11", "--platform",
        "manylinux_2_17_x86_64", "--dest", str(destination), requirement,
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True, env=pip_environ(os.environ), check=True)
    return time.perf_counter() - started


def bytes_in(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("*.whl"))


def mirror_figures(corpus: Corpus, work: Path) -> dict[str, object]:
    tree = build_tree(corpus, work / "tree")
    with open_upstream(ServerKind.AUTO, tree, work / "up", os.environ) as up:
        data = work / "stilton"
        stilton(
            data, "mirror", "add", "b", "--upstream", up.index_url, "--index", "mirrored",
            "--require", project(0), "--with-deps", *TARGET, "--latest", "1",
        )  # fmt: skip
        cold, cold_output = stilton(data, "mirror", "run", "b")
        warm, warm_output = stilton(data, "mirror", "run", "b")
        pip_seconds = pip_download(up.index_url, project(0), work / "pip")
        files = len(list((work / "pip").glob("*.whl")))
        verify, output = stilton(data, "verify", "mirrored")
    mib = bytes_in(work / "pip") / 2**20
    return {
        "files": files, "MiB": round(mib, 1), "upstream": up.label,
        "stilton mirror run, cold (s, whole command)": round(cold, 2),
        "stilton mirror run, cold (s, the sync itself)": took(cold_output),
        "stilton files/s (whole command)": round(files / cold, 1),
        "stilton MiB/s (whole command)": round(mib / cold, 1),
        "stilton mirror run, nothing new (s, whole command)": round(warm, 2),
        "stilton mirror run, nothing new (s, the sync itself)": took(warm_output),
        "pip download (s, whole command)": round(pip_seconds, 2),
        "pip files/s": round(files / pip_seconds, 1),
        "stilton verify of the mirror (s, whole command)": round(verify, 2),
        "stilton verify of the mirror (s, the check itself)": took(output, " MiB in "),
    }  # fmt: skip


def fill_index(data: Path, count: int, size: int) -> int:
    """``count`` distinct blobs of ``size`` bytes registered as files of one hosted index,
    written straight into the store (an import would spend its time on fsyncs, not measured)."""
    from stilton.core.model import IndexKind
    from stilton.core.names import normalize_project_name
    from stilton.runtime import open_runtime
    from stilton.settings import Settings
    from stilton.storage import catalog
    from stilton.storage.blobs import blob_key
    from stilton.storage.schema import utcnow

    settings = Settings.from_env({}, {"data_dir": data, "default_upstream": CLOSED_UPSTREAM})
    runtime = open_runtime(settings)
    try:
        record = runtime.create_index("big", IndexKind.HOSTED)
        with runtime.database.begin() as connection:
            name = normalize_project_name("big")
            project_id = catalog.ensure_project(connection, record, name, "big")
            release = catalog.ensure_release(connection, project_id, "1.0", {})
            for number in range(count):
                payload = number.to_bytes(8, "big") * (size // 8)
                sha256 = hashlib.sha256(payload).hexdigest()
                path = settings.blob_dir / blob_key(sha256)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(payload)
                catalog.insert_file(connection, {
                    "index_id": record.id, "project_id": project_id, "release_id": release,
                    "filename": f"big-1.0-{number}-py3-none-any.whl", "packagetype": "bdist_wheel",
                    "python_version": "py3", "size": size, "sha256": sha256,
                    "blake2b_256": sha256, "md5": sha256[:32], "upload_time": utcnow(),
                    "yanked": False,
                })  # fmt: skip
    finally:
        runtime.close()
    return count * size


def verify_figures(count: int, size: int, work: Path) -> dict[str, object]:
    data = work / "verify"
    total = fill_index(data, count, size)
    seconds, output = stilton(data, "verify", "big")
    inside = took(output, " MiB in ")
    return {
        "files": count, "MiB": round(total / 2**20, 1),
        "seconds (whole command)": round(seconds, 2), "seconds (the check itself)": inside,
        "files/s (whole command)": round(count / seconds),
        "files/s (the check itself)": round(count / inside),
        "MiB/s (the check itself)": round(total / 2**20 / inside, 1),
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.mirror", description=__doc__)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--wheel-kib", type=int, default=256)
    parser.add_argument("--verify-files", type=int, default=100_000)
    parser.add_argument("--verify-bytes", type=int, default=4096, help="size of each blob")
    options = parser.parse_args(argv)
    corpus = build_closure(options.projects, options.wheel_kib)
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as scratch:
        work = Path(scratch)
        work.chmod(0o755)  # nginx's workers run as another user and must read the tree
        results = {
            "mirror": mirror_figures(corpus, work),
            "verify": verify_figures(options.verify_files, options.verify_bytes, work),
            "load": os.getloadavg(),
            "python": sys.version.split()[0],
        }
    print(json.dumps(results, indent=1))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS_DIR / f"mirror-{stamp}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
