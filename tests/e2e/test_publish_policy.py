"""twine and uv publish to a hosted index that has a policy, on a real server: the upload route
asks the index whether it takes uploads (a policy passes the question on), so the policy no
longer refuses every upload; a project the policy denies is refused with the reason."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.clients import (
    ClientError,
    Publisher,
    Twine,
    Upload,
    UvPublish,
    Workspace,
    fetch_project_page,
    page_sha256s,
    write_dists,
)
from tests.support.dists import Dist
from tests.support.server import StiltonServer

pytestmark = pytest.mark.e2e

POLICED = "policed"
DENIED = "forbidden-*"
REFUSAL = f"cannot be uploaded to index '{POLICED}'"


def wait_for_policy(server: StiltonServer) -> None:
    """The server reads index settings again within its poll interval; wait until it has."""
    url = f"{server.index_url(POLICED)}forbidden-probe/"
    deadline = time.monotonic() + 30
    with httpx.Client(trust_env=False) as client:
        while "hidden by this index's policy" not in client.get(url).text:
            assert time.monotonic() < deadline, "the server never applied the policy"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def policed(stilton_server: StiltonServer) -> Upload:
    """A hosted index whose policy denies ``forbidden-*``, and an upload token for it."""
    stilton_server.create_index(POLICED)
    stilton_server.cli(
        "index", "policy", POLICED, "--deny", DENIED, "--data-dir", str(stilton_server.data_dir)
    )
    wait_for_policy(stilton_server)
    return Upload(stilton_server.upload_url(POLICED), stilton_server.create_token(POLICED))


@pytest.mark.parametrize("publisher", [Twine(), UvPublish()], ids=lambda p: p.name)
def test_publishers_upload_to_a_hosted_index_with_a_policy(
    publisher: Publisher, workspace: Workspace, stilton_server: StiltonServer, policed: Upload
) -> None:
    dist = Dist(f"policed-{publisher.name}-pkg", "1.0.0")

    files = publisher.publish(workspace, dist, policed)

    listed = page_sha256s(fetch_project_page(stilton_server.index_url(POLICED), dist.name))
    assert sorted(listed) == sorted(path.name for path in files)


def test_twine_is_told_why_a_denied_project_is_refused(
    workspace: Workspace, stilton_server: StiltonServer, policed: Upload
) -> None:
    files = write_dists(Dist("forbidden-fruit", "1.0.0"), workspace.directory("dist"))

    completed = Twine().upload(workspace, files, policed)

    assert completed.returncode != 0
    assert REFUSAL in completed.output
    assert "hidden by this index's policy" in completed.output
    with httpx.Client(trust_env=False) as client:
        page = client.get(f"{stilton_server.index_url(POLICED)}forbidden-fruit/")
    assert page.status_code == 404


def test_uv_publish_is_told_why_a_denied_project_is_refused(
    workspace: Workspace, policed: Upload
) -> None:
    with pytest.raises(ClientError) as failed:
        UvPublish().publish(workspace, Dist("forbidden-fig", "1.0.0"), policed)
    assert REFUSAL in failed.value.stdout + failed.value.stderr
