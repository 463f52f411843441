"""A group whose proxy member's upstream is marked unhealthy answers without waiting for it:
projects of earlier members and pages the proxy keeps are served as before, and a name only the
unhealthy member could settle is a 503 at once that names it. It is not skipped: first owner
wins, so a later member's project of that name is never served in its place."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from stilton.core.model import IndexKind
from stilton.runtime import Runtime
from tests.groups.conftest import JSON, publish
from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream, Fault, LoggedRequest
from tests.support.waiting import wait_for

MINE = Dist("acme-utils", "1.0")


def not_a_retry(request: LoggedRequest) -> bool:
    return not (request.method == "HEAD" and request.path == "/simple/")


def mark_unhealthy(client: TestClient, upstream: FakeUpstream) -> None:
    upstream.set_fault(Fault.RESET)
    for name in ("one", "two", "three"):
        assert client.get(f"/pypi/simple/{name}/").status_code == 502
    # Each judgement is written to the database in the background; /-/ready reads it there.
    wait_for(
        lambda: client.get("/-/ready").json()["upstreams"]["pypi"]["healthy"] is False,
        "/-/ready saying so",
    )


def test_a_group_does_not_wait_for_an_unhealthy_member(
    client: TestClient, runtime: Runtime, upstream: FakeUpstream, tmp_path: Path
) -> None:
    publish(runtime, tmp_path, MINE)
    runtime.create_index("upstream-first", IndexKind.GROUP, members=["pypi", "local"])
    upstream.add(Dist("kept", "1.0"))
    assert client.get("/main/simple/kept/").status_code == 200
    mark_unhealthy(client, upstream)
    upstream.clear_requests()

    for _ in range(3):
        mine = client.get("/main/simple/acme-utils/", headers=JSON)
        assert mine.status_code == 200 and mine.json()["versions"] == ["1.0"]
        assert client.get("/main/simple/kept/").status_code == 200
        refused = client.get("/main/simple/new-project/")
        assert refused.status_code == 503
        assert refused.text.startswith("Upstream marked unhealthy: proxy index 'pypi'")
        first = client.get("/upstream-first/simple/acme-utils/")
        assert first.status_code == 503
        assert "proxy index 'pypi'" in first.text
    assert upstream.count(not_a_retry) == 0
