"""What ``stilton backup`` and ``stilton restore`` refuse, each refusal leaving things as they
were: a backup into a directory that holds something else, a damaged backup (naming the
file), a restore over an existing data directory, and installations on PostgreSQL or a bucket.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stilton.cli.main import app
from stilton.runtime import open_runtime
from stilton.settings import Settings
from tests.support.dists import Dist, write_wheel


def stilton(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env=env)
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())  # one line: long paths are not cut in two


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    runtime = open_runtime(Settings.from_env({}, {"data_dir": data}))
    try:
        for number in range(3):
            wheel = write_wheel(Dist(f"refusal-{number}", "1.0"), tmp_path / "dists")
            runtime.hosted("local").import_file(wheel, "tests")
    finally:
        runtime.close()
    return data


@pytest.fixture
def backup(data_dir: Path, tmp_path: Path) -> Path:
    made = tmp_path / "backup"
    assert "6 copied" in stilton("backup", str(made), "--data-dir", str(data_dir))
    assert made.stat().st_mode & 0o077 == 0  # the owner's alone: it holds password hashes
    return made


def test_a_directory_holding_something_else_is_refused(data_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"not a backup")
    output = stilton("backup", str(other), "--data-dir", str(data_dir), code=1)
    assert "is not empty and is not a Stilton backup" in output
    assert tree(other) == {"holiday.jpg": b"not a backup"}


def test_an_empty_directory_is_used(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert "6 copied" in stilton("backup", str(tmp_path / "empty"), "--data-dir", str(data_dir))


def test_a_flipped_byte_in_a_file_is_refused_by_name(backup: Path, tmp_path: Path) -> None:
    blobs = json.loads((backup / "manifest.json").read_text())["blobs"]
    sha256 = sorted(blobs)[0]
    damaged = backup / "blobs" / "sha256" / sha256[:2] / sha256[2:4] / sha256
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))

    output = stilton("restore", str(backup), "--data-dir", str(tmp_path / "new"), code=1)

    assert f"Refusing to restore: {damaged} is damaged" in output
    assert list(tmp_path.glob("*new*")) == []  # nothing half made


def test_a_backup_with_rehash_repairs_a_damaged_file(
    backup: Path, data_dir: Path, tmp_path: Path
) -> None:
    sha256 = sorted(json.loads((backup / "manifest.json").read_text())["blobs"])[1]
    damaged = backup / "blobs" / "sha256" / sha256[:2] / sha256[2:4] / sha256
    damaged.write_bytes(b"x" * len(damaged.read_bytes()))
    assert "0 copied" in stilton("backup", str(backup), "--data-dir", str(data_dir))

    output = stilton("backup", str(backup), "--rehash", "--data-dir", str(data_dir))

    assert "1 copied" in output and "1 file(s) in" in output and "copied again" in output
    assert "0 problems" in stilton("restore", str(backup), "--data-dir", str(tmp_path / "new"))


def test_a_missing_file_is_refused_by_name(backup: Path, tmp_path: Path) -> None:
    sha256 = sorted(json.loads((backup / "manifest.json").read_text())["blobs"])[-1]
    missing = backup / "blobs" / "sha256" / sha256[:2] / sha256[2:4] / sha256
    missing.unlink()
    output = stilton("restore", str(backup), "--data-dir", str(tmp_path / "new"), code=1)
    assert f"{missing} is missing" in output
    assert list(tmp_path.glob("*new*")) == []


def test_a_damaged_database_is_refused_by_name(backup: Path, tmp_path: Path) -> None:
    (snapshot,) = (backup / "database").iterdir()
    data = bytearray(snapshot.read_bytes())
    data[-100] ^= 0x01
    snapshot.write_bytes(bytes(data))
    output = stilton("restore", str(backup), "--data-dir", str(tmp_path / "new"), code=1)
    assert f"{snapshot} is damaged" in output


def test_a_restore_never_writes_over_a_data_directory(backup: Path, data_dir: Path) -> None:
    before = tree(data_dir)
    output = stilton("restore", str(backup), "--data-dir", str(data_dir), code=1)
    assert "exists and is not empty" in output
    assert tree(data_dir) == before


def test_a_directory_that_is_no_backup_is_not_restored(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    output = stilton(
        "restore", str(tmp_path / "nothing"), "--data-dir", str(tmp_path / "new"), code=1
    )
    assert "holds no complete Stilton backup" in output


def test_a_restored_backup_verifies(backup: Path, tmp_path: Path) -> None:
    output = stilton("restore", str(backup), "--data-dir", str(tmp_path / "new"))
    assert "6 file(s)" in output and "0 problems" in output
    assert "6 blob(s)" in stilton("verify", "--data-dir", str(tmp_path / "new"))


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("STILTON_BLOB_URL", "s3://bucket/prefix", "its files in a bucket"),
        ("STILTON_DATABASE_URL", "postgresql+psycopg://db/stilton", "its database in PostgreSQL"),
    ],
)
def test_postgresql_and_buckets_are_sent_to_their_own_tools(
    tmp_path: Path, setting: str, value: str, named: str
) -> None:
    env = {setting: value}
    output = stilton("backup", str(tmp_path / "b"), "--data-dir", str(tmp_path), code=1, env=env)
    assert named in output and "pg_dump" in output and "versioning" in output
    assert not (tmp_path / "b").exists()
