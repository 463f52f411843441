"""A replica killed with SIGKILL in the middle of concurrent installs and uploads through the
balancer: every install succeeds (the balancer and the clients retry elsewhere), every upload
either succeeded or succeeds when repeated, and the database's rows and the bucket's objects
agree afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.scale.cluster import page_files, serving, upload, uv_install
from tests.support.clients import Workspace
from tests.support.dists import Dist
from tests.support.replicas import Replicas
from tests.support.upstream import FakeUpstream

pytestmark = pytest.mark.e2e
LIBRARIES = [Dist(f"kill-lib{n}", "1.0", padding=400_000) for n in range(6)]
APP = Dist("kill-app", "1.0", requires_dist=tuple(d.name for d in LIBRARIES))
UPLOADERS, UPLOADS_EACH, INSTALLERS = 4, 5, 6
ATTEMPTS = 3


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    yield from serving([APP, *LIBRARIES])


def _upload_until_done(url: str, token: str, dist: Dist) -> list[int]:
    """What a careful uploader does: repeat an upload that did not clearly succeed."""
    statuses: list[int] = []
    for _ in range(ATTEMPTS):
        try:
            status = upload(url, token, dist).status_code
        except httpx.TransportError:
            status = 0
        statuses.append(status)
        if status == 200:
            break
        time.sleep(0.5)
    return statuses


def test_a_replica_killed_mid_traffic_loses_nothing(replicas: Replicas, tmp_path: Path) -> None:
    token = replicas.servers[0].create_token()
    victim = replicas.servers[1]
    started = threading.Event()

    def uploader(number: int) -> list[list[int]]:
        started.set()
        return [
            _upload_until_done(replicas.url, token, Dist(f"kill-up{number}-{n}", "1.0"))
            for n in range(UPLOADS_EACH)
        ]

    def installer(number: int) -> None:
        started.set()
        uv_install(Workspace(tmp_path / f"client{number}"), replicas.index_url("up"), APP.name)

    with ThreadPoolExecutor(UPLOADERS + INSTALLERS) as pool:
        uploads = [pool.submit(uploader, n) for n in range(UPLOADERS)]
        installs = [pool.submit(installer, n) for n in range(INSTALLERS)]
        started.wait(10)
        time.sleep(0.5)  # in the middle of it
        victim.kill()
        for future in installs:
            future.result()  # every install succeeded
        outcomes = [statuses for future in uploads for statuses in future.result()]
    assert all(statuses[-1] == 200 for statuses in outcomes), outcomes

    survivor = replicas.servers[0]
    for number in range(UPLOADERS):
        for n in range(UPLOADS_EACH):
            dist = Dist(f"kill-up{number}-{n}", "1.0")
            assert dist.wheel_filename in page_files(survivor.url, "local", dist.name)
    check = survivor.cli("check-storage")
    assert "0 problem(s)" in check.stdout, check.stdout + check.stderr
