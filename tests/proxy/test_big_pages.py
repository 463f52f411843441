"""A page of thousands of files, through a proxy and a group over it: whole and identical in
every format and encoding (a big page is kept compressed only, and unpacked for the clients
that do not ask for gzip), with one upstream request for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stilton.settings import Settings
from stilton.web.app import create_app
from tests.support.page_upstream import BigProject, PageUpstream

BIG = BigProject("bigproj", 3000)
JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def upstream() -> Iterator[PageUpstream]:
    with PageUpstream([BIG]) as running:
        yield running


@pytest.fixture
def client(tmp_path: Path, upstream: PageUpstream) -> Iterator[TestClient]:
    settings = Settings.from_env(
        {}, {"data_dir": tmp_path / "data", "default_upstream": upstream.simple_url}
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.mark.parametrize("accept", [JSON, "text/html"])
def test_a_big_page_is_whole_with_and_without_gzip(
    client: TestClient, upstream: PageUpstream, accept: str
) -> None:
    bodies = []
    for index in ("pypi", "main"):  # the default proxy, and the group over it
        url = f"/{index}/simple/{BIG.name}/"
        plain = client.get(url, headers={"Accept": accept, "Accept-Encoding": "identity"})
        packed = client.get(url, headers={"Accept": accept, "Accept-Encoding": "gzip"})
        assert plain.status_code == packed.status_code == 200
        assert "content-encoding" not in plain.headers
        assert packed.headers["content-encoding"] == "gzip"
        assert plain.headers["etag"] != packed.headers["etag"]  # two representations
        assert packed.content == plain.content  # httpx undid the gzip
        assert len(plain.content) > 256 * 1024
        assert plain.text.count(".whl") + plain.text.count(".tar.gz") >= BIG.files
        bodies.append(plain.content.replace(b"/main/", b"/pypi/"))
    assert bodies[0] == bodies[1]
    assert upstream.page_gets() == {BIG.name: 1}


def test_a_big_page_is_sent_compressed(client: TestClient) -> None:
    response = client.get(
        f"/pypi/simple/{BIG.name}/", headers={"Accept": JSON, "Accept-Encoding": "gzip"}
    )
    size = int(response.headers["content-length"])
    assert size < len(response.content) // 4  # what went over the wire was the gzip
