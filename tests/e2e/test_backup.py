"""``stilton backup`` of a running server while uploads go on, restored with ``stilton restore``
into a new data directory: a server started there serves every page and file of what the
snapshot holds exactly as the original does. A second backup copies only the new files."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from tests.support.dists import Dist
from tests.support.server import StiltonServer
from tests.support.uploads import post_wheel

pytestmark = pytest.mark.e2e

BEFORE = [Dist(f"before-{n}", "1.0", padding=(n + 1) * 300_000) for n in range(4)]
UPLOADERS = 3
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def manifest(backup: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((backup / "manifest.json").read_text())
    return document


def projects(client: httpx.Client) -> set[str]:
    return {p["name"] for p in client.get("/local/simple/", headers=JSON).json()["projects"]}


def pages(client: httpx.Client, project: str) -> dict[str, bytes]:
    """Every page of a project, and every file and metadata file its page links to, with the
    server's own address taken out."""
    found: dict[str, bytes] = {}
    for path, headers in (
        (f"/local/simple/{project}/", JSON),
        (f"/local/simple/{project}/", {"Accept": "text/html"}),
        (f"/local/pypi/{project}/json", {}),
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        found[f"{path} {headers}"] = response.content.replace(str(client.base_url).encode(), b"")
    for file in client.get(f"/local/simple/{project}/", headers=JSON).json()["files"]:
        for url in (file["url"], file["url"] + ".metadata"):
            response = client.get(url, timeout=60)
            assert response.status_code == 200, url
            found[url.replace(str(client.base_url), "")] = response.content
    return found


class Uploader(threading.Thread):
    """Uploads new projects, one after another, from before a backup starts until after it
    ends."""

    def __init__(self, client: httpx.Client, token: str, number: int) -> None:
        super().__init__()
        self.client, self.token, self.number = client, token, number
        self.uploaded = threading.Event()
        self.stop = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        count = 0
        try:
            while not self.stop.is_set():
                dist = Dist(f"during-{self.number}-{count}", "1.0", padding=500_000)
                post_wheel(self.client, self.token, dist)
                self.uploaded.set()
                count += 1
        except BaseException as exc:  # shown by the test, not lost with the thread
            self.failure = exc
            self.uploaded.set()


def test_a_backup_taken_during_uploads_restores_to_the_same_pages(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    with StiltonServer(tmp_path / "original") as original:
        token = original.create_token()
        with httpx.Client(base_url=original.url, trust_env=False, timeout=120) as client:
            for dist in BEFORE:
                post_wheel(client, token, dist)
            uploaders = [Uploader(client, token, number) for number in range(UPLOADERS)]
            for uploader in uploaders:
                uploader.start()
            for uploader in uploaders:
                assert uploader.uploaded.wait(120)
            made = original.cli("backup", str(backup))
            for uploader in uploaders:
                uploader.stop.set()
                uploader.join()
                assert uploader.failure is None, uploader.failure
            post_wheel(client, token, Dist("after-the-backup", "1.0"))
            assert "Backed up into" in made.stdout

            restored = tmp_path / "restored"
            done = original.cli("restore", str(backup), "--data-dir", str(restored / "data"))
            assert "0 problems" in done.stdout
            with (
                StiltonServer(restored) as copy,
                httpx.Client(base_url=copy.url, trust_env=False) as restored_client,
            ):
                kept = projects(restored_client)
                assert {d.name for d in BEFORE} <= kept < projects(client)
                assert {f"during-{number}-0" for number in range(UPLOADERS)} <= kept
                for project in sorted(kept):
                    assert pages(restored_client, project) == pages(client, project)
        files = manifest(backup)["blobs"]
        assert isinstance(files, dict) and len(files) == 2 * len(kept)  # wheels and metadata


def test_a_second_backup_copies_only_new_files(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    with StiltonServer(tmp_path / "original") as server:
        token = server.create_token()
        with httpx.Client(base_url=server.url, trust_env=False, timeout=120) as client:
            for dist in BEFORE:
                post_wheel(client, token, dist)
            first = server.cli("backup", str(backup))
            assert "8 copied" in first.stdout and "0 there already" in first.stdout
            blob_dir = backup / "blobs" / "sha256"
            written = {p: p.stat().st_ino for p in blob_dir.rglob("*") if p.is_file()}
            new = post_wheel(client, token, Dist("after", "1.0"))

            second = server.cli("backup", str(backup))

        assert "2 copied" in second.stdout and "8 there already" in second.stdout
        now = {p: p.stat().st_ino for p in blob_dir.rglob("*") if p.is_file()}
        assert {p: now[p] for p in written} == written  # untouched
        assert new in {p.name for p in set(now) - set(written)}
        blobs = manifest(backup)["blobs"]
        assert isinstance(blobs, dict) and len(blobs) == 10 and new in blobs
        assert len(list((backup / "database").iterdir())) == 1  # the earlier snapshot is gone
