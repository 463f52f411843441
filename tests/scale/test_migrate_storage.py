"""`stilton migrate-storage`: a single machine's SQLite and directory move to PostgreSQL and a
bucket with every file verified; a corrupt file stops the move before any row is copied."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from stilton.core.names import ProjectName
from stilton.runtime import open_runtime
from stilton.storage.blobs import blob_key
from tests.support.backends import Backend, s3_backend
from tests.support.dists import Dist, write_wheel
from tests.support.postgres import PostgresServer
from tests.support.s3 import S3Server
from tests.support.server import stilton_command

DISTS = [Dist("moved-one", "1.0"), Dist("moved-one", "1.1"), Dist("moved-two", "2.0")]


def _installation(root: Path) -> Backend:
    """A single-machine installation with a few uploads and a user."""
    local = Backend("sqlite-local")
    runtime = open_runtime(local.settings(root / "data"))
    try:
        for dist in DISTS:
            runtime.hosted("local").import_file(write_wheel(dist, root / "dists"), "tests")
        runtime.auth.add_user("alice", "correct horse battery")
    finally:
        runtime.close()
    return local


def _move(root: Path, target: Backend) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": "/usr/bin:/bin",
        "STILTON_DATA_DIR": str(root / "data"),
        **{f"STILTON_{k.upper()}": v for k, v in target.s3.items()},
    }
    return subprocess.run(
        [*stilton_command(), "migrate-storage",
         "--to-database", target.database_url, "--to-blobs", target.blob_url],
        capture_output=True, text=True, env=environ, timeout=120,
    )  # fmt: skip


def test_an_installation_moves_to_postgres_and_s3(
    postgres_server: PostgresServer, s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    _installation(tmp_path)
    target = s3_backend("target", postgres_server.create_database(), s3_server.endpoint, bucket)
    moved = _move(tmp_path, target)
    assert moved.returncode == 0, moved.stderr
    assert "verified file(s)" in moved.stdout and "stilton@" in moved.stdout
    runtime = open_runtime(target.settings(tmp_path / "replica"))
    try:
        detail = runtime.hosted("local").find_detail(ProjectName("moved-one"))
        assert detail is not None and len(detail.files) == 2
        for file in detail.files:
            data = runtime.blobs.read(file.digests.sha256)
            assert hashlib.sha256(data).hexdigest() == file.digests.sha256
        assert [u.username for u in runtime.auth.list_users()] == ["alice"]
        runtime.hosted("local").import_file(write_wheel(Dist("moved-one", "1.2"), tmp_path), "t")
    finally:
        runtime.close()
    again = _move(tmp_path, target)
    assert again.returncode == 1 and "already holds data" in again.stderr


def test_a_corrupt_file_stops_the_move_before_any_row(
    postgres_server: PostgresServer, s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    local = _installation(tmp_path)
    blobs = sorted((tmp_path / "data" / "blobs" / "sha256").rglob("*"))
    victim = next(path for path in blobs if path.is_file())
    victim.write_bytes(b"not what it was")
    target = s3_backend("target", postgres_server.create_database(), s3_server.endpoint, bucket)
    moved = _move(tmp_path, target)
    assert moved.returncode == 1
    assert f"Blob {victim.name}" in moved.stderr
    runtime = open_runtime(target.settings(tmp_path / "replica"))
    try:
        assert runtime.hosted("local").find_detail(ProjectName("moved-one")) is None
        assert runtime.blobs.stat(victim.name) is None
    finally:
        runtime.close()
    assert blob_key(victim.name).endswith(victim.name) and local.name == "sqlite-local"
