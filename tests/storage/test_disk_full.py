"""A full disk, for real: a tiny tmpfs holds the data directory (or the database), an upload
through the app and ``stilton import`` fill it. Each answers 507 (or exits 1) with a message
saying the disk is full and nothing was stored; nothing stored before is lost, no spool file is
left, and once space is freed the server works again.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from stilton.runtime import open_runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.support.dists import Dist, wheel_bytes, write_wheel
from tests.support.server import CLOSED_UPSTREAM, server_environ, stilton_command
from tests.support.tmpfs import TmpfsUnavailable, fill, mounted_tmpfs
from tests.support.uploads import basic_auth, upload_fields

DISK_SIZE = 2 * 2**20
SMALL = Dist("acme-small", "1.0")
BIG = Dist("acme-wide", "1.0", padding=3 * 2**20)  # more than the whole disk; imported last


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    try:
        with mounted_tmpfs(tmp_path / "disk", DISK_SIZE) as mounted:
            yield mounted
    except TmpfsUnavailable as exc:
        pytest.skip(f"needs a real small disk: {exc}")


def settings_for(data_dir: Path, **overrides: object) -> Settings:
    values = {"data_dir": data_dir, "default_upstream": CLOSED_UPSTREAM, **overrides}
    return Settings.from_env({}, {"max_upload_size": 8 * 2**20, **values})


def upload(client: TestClient, auth: dict[str, str], dist: Dist) -> httpx.Response:
    data = wheel_bytes(dist)
    files = {"content": (dist.wheel_filename, data, "application/octet-stream")}
    response: httpx.Response = client.post(
        "/local/", data=upload_fields(dist, data), files=files, headers=auth
    )
    return response


def assert_disk_full_message(text: str, where: Path) -> None:
    assert text.startswith("Insufficient storage: the disk holding the data directory")
    assert str(where) in text
    assert "is full, so nothing was stored" in text
    assert "Traceback" not in text


def assert_still_served(client: TestClient, dist: Dist) -> None:
    data = wheel_bytes(dist)
    sha256 = hashlib.sha256(data).hexdigest()
    assert client.get(f"/local/files/{sha256}/{dist.wheel_filename}").content == data


def test_an_upload_that_fills_the_disk_is_507_and_leaves_nothing(disk: Path) -> None:
    settings = settings_for(disk)
    with TestClient(create_app(settings)) as client:
        runtime = open_runtime(settings)
        auth = basic_auth("__token__", runtime.auth.create_token(None, "tests")[1])
        runtime.close()
        assert upload(client, auth, SMALL).status_code == 200

        response = upload(client, auth, BIG)

        assert response.status_code == 507
        assert_disk_full_message(response.text, disk)
        assert client.get("/local/simple/acme-wide/").status_code == 404
        assert list(settings.blob_dir.joinpath("tmp").iterdir()) == []
        assert_still_served(client, SMALL)
        # The partial spool file is gone, so its space is free again.
        assert upload(client, auth, Dist("acme-after", "1.0")).status_code == 200


def test_a_full_database_disk_is_507_and_the_database_recovers(disk: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", database_url=f"sqlite:///{disk}/stilton.sqlite3")
    with TestClient(create_app(settings)) as client:
        runtime = open_runtime(settings)
        auth = basic_auth("__token__", runtime.auth.create_token(None, "tests")[1])
        runtime.close()
        assert upload(client, auth, SMALL).status_code == 200
        filler = fill(disk)

        response = upload(client, auth, Dist("acme-other", "1.0", description="x" * 50_000))

        assert response.status_code == 507
        assert_disk_full_message(response.text, disk / "stilton.sqlite3")
        assert list(settings.blob_dir.joinpath("tmp").iterdir()) == []
        assert_still_served(client, SMALL)
        filler.unlink()
        assert upload(client, auth, Dist("acme-other", "1.0")).status_code == 200
        assert client.get("/local/simple/acme-other/").status_code == 200


def test_stilton_import_on_a_full_disk_says_so_and_exits_non_zero(
    disk: Path, tmp_path: Path
) -> None:
    source = tmp_path / "dists"
    write_wheel(SMALL, source)
    write_wheel(BIG, source)
    environ = {**server_environ({"PATH": "/usr/bin:/bin"}, CLOSED_UPSTREAM)}
    environ["STILTON_MAX_UPLOAD_SIZE"] = str(8 * 2**20)

    completed = subprocess.run(
        [*stilton_command(), "import", str(source), "--data-dir", str(disk)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 1, completed.stdout + completed.stderr
    message = " ".join(completed.stderr.split())  # rich may wrap the line
    assert message.startswith("error: Insufficient storage"), completed.stderr
    assert_disk_full_message(message.removeprefix("error: "), disk)
    assert list((disk / "blobs" / "tmp").iterdir()) == []
    runtime = open_runtime(settings_for(disk))
    try:
        names = [str(p.name) for p in runtime.hosted("local").project_list().projects]
    finally:
        runtime.close()
    assert names == ["acme-small"]  # imported before the disk filled up, and kept
