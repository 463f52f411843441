"""The fake upstream speaks the Simple API, the Warehouse JSON API and ranged downloads well
enough for real parsers, and each named fault does exactly what its name says."""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pypi_simple import ProjectPage

from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream, Fault, LoggedRequest, UrlStyle

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
UPLOADED = datetime(2024, 1, 17, 16, 53, 12, 779164, tzinfo=UTC)

DEMO = Dist("Demo_Pkg", "1.0", requires_python=">=3.8", requires_dist=("spam>=2",))
DEMO_2 = Dist("Demo_Pkg", "2.0")
DEMO_3 = Dist("Demo_Pkg", "3.0rc1")
OTHER = Dist("other", "0.1")
WHEEL = DEMO.wheel_filename
SDIST = DEMO.sdist_filename


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(slow_seconds=0.3) as fake:
        fake.add(DEMO, upload_time=UPLOADED)
        fake.add(DEMO_2, wheel=False, yanked="broken build")
        fake.add(OTHER)
        yield fake


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10) as http:
        yield http


def get_page(
    client: httpx.Client, upstream: FakeUpstream, project: str, *, accept: str
) -> ProjectPage:
    response = client.get(f"{upstream.simple_url}{project}/", headers={"Accept": accept})
    assert response.status_code == 200
    if response.headers["content-type"] == SIMPLE_JSON:
        return ProjectPage.from_json_data(response.json(), base_url=str(response.url))
    return ProjectPage.from_html(project, response.text, base_url=str(response.url))


def drain(response: httpx.Response, into: bytearray) -> None:
    for chunk in response.iter_raw():
        into += chunk


# -- the Simple API --------------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["text/html", SIMPLE_JSON])
def test_project_page_parses_with_every_file_hash_yank_and_metadata_flag(
    upstream: FakeUpstream, client: httpx.Client, accept: str
) -> None:
    page = get_page(client, upstream, "demo-pkg", accept=accept)
    packages = {package.filename: package for package in page.packages}

    assert set(packages) == {WHEEL, SDIST, DEMO_2.sdist_filename}
    assert page.repository_version == "1.4"
    assert page.status is not None and page.status.value == "active"
    for filename, package in packages.items():
        assert package.url == upstream.file_url(filename)
        assert package.digests == {"sha256": upstream.sha256(filename)}
    wheel = packages[WHEEL]
    assert wheel.has_metadata
    assert wheel.metadata_digests == {"sha256": hashlib.sha256(DEMO.metadata()).hexdigest()}
    assert wheel.requires_python == ">=3.8"
    assert not wheel.is_yanked
    assert not packages[SDIST].has_metadata
    assert packages[DEMO_2.sdist_filename].is_yanked
    assert packages[DEMO_2.sdist_filename].yanked_reason == "broken build"


def test_json_page_carries_versions_sizes_upload_times_and_serial(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    response = client.get(f"{upstream.simple_url}demo-pkg/", headers={"Accept": SIMPLE_JSON})
    page = ProjectPage.from_json_data(response.json())
    wheel = next(package for package in page.packages if package.filename == WHEEL)

    assert response.json()["name"] == "demo-pkg"
    assert page.versions == ["1.0", "2.0"]
    assert wheel.size == len(upstream.file_bytes(WHEEL))
    assert wheel.upload_time == UPLOADED
    assert page.last_serial == response.headers["x-pypi-last-serial"]
    assert int(response.headers["x-pypi-last-serial"]) == upstream.project_serial("demo-pkg")


def test_html_page_escapes_requires_python_and_names_both_metadata_attributes(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    text = client.get(f"{upstream.simple_url}demo-pkg/").text
    metadata = f"sha256={hashlib.sha256(DEMO.metadata()).hexdigest()}"

    assert 'data-requires-python="&gt;=3.8"' in text
    assert f'data-core-metadata="{metadata}"' in text
    assert f'data-dist-info-metadata="{metadata}"' in text
    assert 'data-yanked="broken build"' in text
    assert '<meta name="pypi:repository-version" content="1.4">' in text


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "text/html; charset=utf-8"),
        ("*/*", "text/html; charset=utf-8"),
        ("text/html", "text/html; charset=utf-8"),
        ("application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.v1+html"),
        (PIP_ACCEPT, SIMPLE_JSON),
        ("application/vnd.pypi.simple.v1+json, */*;q=0.1", SIMPLE_JSON),
        ("application/vnd.pypi.simple.latest+json", SIMPLE_JSON),
        ("application/json", "text/html; charset=utf-8"),
    ],
)
def test_content_negotiation_follows_pypi(
    upstream: FakeUpstream, client: httpx.Client, accept: str | None, content_type: str
) -> None:
    request = client.build_request("GET", f"{upstream.simple_url}demo-pkg/")
    if accept is None:
        del request.headers["Accept"]
    else:
        request.headers["Accept"] = accept
    response = client.send(request)

    assert response.headers["content-type"] == content_type
    assert response.headers["vary"] == "Accept"
    assert response.headers["cache-control"] == "max-age=600, public"


@pytest.mark.parametrize("accept", ["text/html", SIMPLE_JSON])
def test_project_list_names_every_project_with_the_global_serial(
    upstream: FakeUpstream, client: httpx.Client, accept: str
) -> None:
    response = client.get(upstream.simple_url, headers={"Accept": accept})

    assert int(response.headers["x-pypi-last-serial"]) == upstream.serial
    if accept == SIMPLE_JSON:
        data = response.json()
        assert [project["name"] for project in data["projects"]] == ["Demo_Pkg", "other"]
        assert data["meta"]["_last-serial"] == upstream.serial
    else:
        assert f'href="{upstream.simple_url}demo-pkg/">Demo_Pkg</a>' in response.text


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/simple/Demo_Pkg/", "/simple/demo-pkg/"),
        ("/simple/demo-pkg", "/simple/demo-pkg/"),
        ("/simple", "/simple/"),
        ("/pypi/Demo.Pkg/1.0/json", "/pypi/demo-pkg/1.0/json"),
    ],
)
def test_non_normalized_urls_redirect_permanently(
    upstream: FakeUpstream, client: httpx.Client, path: str, location: str
) -> None:
    response = client.get(upstream.url + path)

    assert response.status_code == 301
    assert response.headers["location"] == upstream.url + location


def test_unknown_projects_are_404(upstream: FakeUpstream, client: httpx.Client) -> None:
    page = client.get(f"{upstream.simple_url}nothing-here/")
    api = client.get(f"{upstream.url}/pypi/nothing-here/json")

    assert (page.status_code, page.headers["content-type"]) == (404, "text/plain; charset=utf-8")
    assert (api.status_code, api.json()) == (404, {"message": "Not Found"})


def test_relative_file_urls_resolve_against_the_page(client: httpx.Client) -> None:
    with FakeUpstream(url_style=UrlStyle.RELATIVE) as upstream:
        upstream.add(DEMO)
        html_text = client.get(f"{upstream.simple_url}demo-pkg/").text
        for accept in ("text/html", SIMPLE_JSON):
            page = get_page(client, upstream, "demo-pkg", accept=accept)
            urls = {package.url.split("#")[0] for package in page.packages}
            assert urls == {upstream.file_url(WHEEL), upstream.file_url(SDIST)}
        assert f'href="../../files/{WHEEL}#sha256=' in html_text
        assert client.get(upstream.file_url(WHEEL)).content == upstream.file_bytes(WHEEL)


def test_base_href_pages_need_the_base_to_resolve(client: httpx.Client) -> None:
    with FakeUpstream(url_style=UrlStyle.BASE_HREF) as upstream:
        upstream.add(DEMO)
        response = client.get(f"{upstream.simple_url}demo-pkg/")
        html_page = ProjectPage.from_html("demo-pkg", response.text, base_url=str(response.url))
        json_page = get_page(client, upstream, "demo-pkg", accept=SIMPLE_JSON)

    assert f'<base href="{upstream.url}/files/">' in response.text
    assert f'<a href="{WHEEL}#sha256=' in response.text
    for page in (html_page, json_page):
        assert {package.url for package in page.packages} == {
            upstream.file_url(WHEEL),
            upstream.file_url(SDIST),
        }


def test_pages_answer_conditional_requests_with_304(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    url = f"{upstream.simple_url}demo-pkg/"
    html_response = client.get(url)
    json_response = client.get(url, headers={"Accept": SIMPLE_JSON})
    etag = html_response.headers["etag"]

    revalidated = client.get(url, headers={"If-None-Match": etag})
    by_date = client.get(url, headers={"If-Modified-Since": html_response.headers["last-modified"]})
    other_form = client.get(url, headers={"Accept": SIMPLE_JSON, "If-None-Match": etag})

    assert etag.startswith('"') and etag != json_response.headers["etag"]
    assert (revalidated.status_code, revalidated.content) == (304, b"")
    assert revalidated.headers["etag"] == etag
    assert revalidated.headers["x-pypi-last-serial"] == html_response.headers["x-pypi-last-serial"]
    assert by_date.status_code == 304
    assert other_form.status_code == 200
    upstream.add(Dist("Demo_Pkg", "4.0"))
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200


def test_every_change_increments_the_global_and_project_serial(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    changes: list[Callable[[], object]] = [
        lambda: upstream.add(Dist("Demo_Pkg", "4.0")),
        lambda: upstream.yank(WHEEL, "oops"),
        lambda: upstream.remove_file(SDIST),
        lambda: upstream.set_status("demo-pkg", "archived", reason="moved"),
    ]
    seen = [upstream.serial]
    for change in changes:
        change()
        response = client.get(f"{upstream.simple_url}demo-pkg/", headers={"Accept": SIMPLE_JSON})
        serial = int(response.headers["x-pypi-last-serial"])
        assert serial == upstream.serial == upstream.project_serial("demo-pkg") > seen[-1]
        assert response.json()["meta"]["_last-serial"] == serial
        seen.append(serial)
    page = ProjectPage.from_json_data(response.json())
    assert (page.status.value if page.status else None, page.status_reason) == ("archived", "moved")
    assert SDIST not in {package.filename for package in page.packages}
    assert int(client.get(upstream.simple_url).headers["x-pypi-last-serial"]) == seen[-1]
    assert upstream.project_serial("other") == seen[0]  # untouched by demo-pkg's changes


def test_quarantined_projects_offer_no_files(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.set_status("demo-pkg", "quarantined", reason="malware")
    page = get_page(client, upstream, "demo-pkg", accept="text/html")

    assert page.packages == []
    assert (page.status.value if page.status else None, page.status_reason) == (
        "quarantined",
        "malware",
    )
    assert client.get(f"{upstream.url}/pypi/demo-pkg/json").status_code == 404
    assert client.get(upstream.file_url(WHEEL)).status_code == 404


def test_removed_files_and_projects_disappear(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.remove_file(SDIST)
    assert client.get(upstream.file_url(SDIST)).status_code == 404
    assert upstream.file_bytes(SDIST)  # the helper still knows what was served

    upstream.remove_project("Demo.Pkg")
    assert client.get(f"{upstream.simple_url}demo-pkg/").status_code == 404
    assert client.get(upstream.file_url(WHEEL)).status_code == 404
    assert "demo-pkg" not in client.get(upstream.simple_url).text


# -- files -----------------------------------------------------------------------------------


def test_files_download_with_length_etag_and_range_support(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    response = client.get(upstream.file_url(WHEEL))
    head = client.head(upstream.file_url(WHEEL))

    assert response.content == upstream.file_bytes(WHEEL)
    assert hashlib.sha256(response.content).hexdigest() == upstream.sha256(WHEEL)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] == f'"{upstream.sha256(WHEEL)}"'
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(upstream.file_bytes(WHEEL)))
    revalidated = client.get(
        upstream.file_url(WHEEL), headers={"If-None-Match": head.headers["etag"]}
    )
    assert revalidated.status_code == 304


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=100-", 100, None),
        ("bytes=-16", -16, None),
        ("bytes=5-999999", 5, None),
    ],
)
def test_single_ranges_get_206(
    upstream: FakeUpstream, client: httpx.Client, header: str, start: int, end: int | None
) -> None:
    data = upstream.file_bytes(WHEEL)
    expected = data[start : None if end is None else end + 1]
    first = start % len(data)

    response = client.get(upstream.file_url(WHEEL), headers={"Range": header})

    assert response.status_code == 206
    assert response.content == expected
    assert response.headers["content-range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    )


@pytest.mark.parametrize("header", ["bytes=999999-", "bytes=-0"])
def test_unsatisfiable_ranges_get_416(
    upstream: FakeUpstream, client: httpx.Client, header: str
) -> None:
    response = client.get(upstream.file_url(WHEEL), headers={"Range": header})

    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(upstream.file_bytes(WHEEL))}"


def test_a_stale_if_range_gets_the_whole_file(upstream: FakeUpstream, client: httpx.Client) -> None:
    response = client.get(
        upstream.file_url(WHEEL), headers={"Range": "bytes=0-9", "If-Range": '"not-it"'}
    )

    assert (response.status_code, response.content) == (200, upstream.file_bytes(WHEEL))


def test_wheels_serve_their_exact_core_metadata(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    response = client.get(upstream.file_url(WHEEL) + ".metadata")

    assert response.content == DEMO.metadata() == upstream.metadata_bytes(WHEEL)
    assert client.get(upstream.file_url(SDIST) + ".metadata").status_code == 404


def test_find_links_page_lists_every_file_with_its_hash(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    response = client.get(upstream.find_links_url)
    filenames = [WHEEL, SDIST, DEMO_2.sdist_filename, OTHER.wheel_filename, OTHER.sdist_filename]

    for filename in filenames:
        anchor = f'<a href="files/{filename}#sha256={upstream.sha256(filename)}">{filename}</a>'
        assert anchor in response.text
    href = response.url.join(f"files/{WHEEL}")
    assert client.get(href).content == upstream.file_bytes(WHEEL)


# -- the Warehouse JSON API ------------------------------------------------------------------


def test_json_api_describes_the_latest_release_and_all_releases(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.add(DEMO_3, sdist=False)  # a pre-release never wins "latest"
    response = client.get(f"{upstream.url}/pypi/demo-pkg/json")
    data = response.json()
    wheel = next(file for file in data["urls"] if file["filename"] == WHEEL)
    blob = upstream.file_bytes(WHEEL)

    assert data["info"]["version"] == "1.0"  # 2.0 is yanked, 3.0rc1 a pre-release
    assert data["info"]["requires_dist"] == ["spam>=2"]
    assert data["info"]["requires_python"] == ">=3.8"
    assert data["info"]["summary"] == DEMO.summary
    assert set(data["releases"]) == {"1.0", "2.0", "3.0rc1"}
    assert data["releases"]["2.0"][0]["yanked_reason"] == "broken build"
    assert data["last_serial"] == int(response.headers["x-pypi-last-serial"])
    assert wheel["digests"] == {
        "md5": hashlib.md5(blob).hexdigest(),
        "sha256": hashlib.sha256(blob).hexdigest(),
        "blake2b_256": hashlib.blake2b(blob, digest_size=32).hexdigest(),
    }
    assert (wheel["packagetype"], wheel["size"], wheel["url"]) == (
        "bdist_wheel",
        len(blob),
        upstream.file_url(WHEEL),
    )
    assert wheel["upload_time"] == "2024-01-17T16:53:12"
    assert wheel["upload_time_iso_8601"] == "2024-01-17T16:53:12.779164Z"
    assert response.headers["cache-control"] == "max-age=900, public"


def test_json_api_version_endpoint(upstream: FakeUpstream, client: httpx.Client) -> None:
    data = client.get(f"{upstream.url}/pypi/demo-pkg/2.0/json/").json()
    missing = client.get(f"{upstream.url}/pypi/demo-pkg/9.9/json")

    assert "releases" not in data
    assert data["info"]["yanked"] is True
    assert [file["filename"] for file in data["urls"]] == [DEMO_2.sdist_filename]
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})


# -- serving ---------------------------------------------------------------------------------


def test_basic_auth_is_required_and_logged() -> None:
    with (
        FakeUpstream(auth=("alice", "s3cret")) as upstream,
        httpx.Client(trust_env=False) as anonymous,
        httpx.Client(trust_env=False, auth=("alice", "s3cret")) as alice,
    ):
        upstream.add(DEMO)
        refused = anonymous.get(upstream.simple_url)
        accepted = alice.get(upstream.file_url(WHEEL))
        wrong = anonymous.get(upstream.simple_url, auth=("alice", "nope"))

    assert refused.status_code == wrong.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic realm=")
    assert accepted.status_code == 200
    assert [request.carried_auth for request in upstream.requests] == [False, True, True]


def test_the_request_log_counts_paths_and_predicates(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    path = f"/files/{WHEEL}"
    for _ in range(3):
        client.get(upstream.file_url(WHEEL))
    client.get(upstream.file_url(WHEEL), headers={"If-None-Match": '"x"'})

    def conditional(request: LoggedRequest) -> bool:
        return "if-none-match" in request.headers

    assert upstream.count(path) == 4
    assert upstream.count(conditional) == 1
    method, logged_path, headers, status = upstream.requests[-1]
    assert (method, logged_path, status) == ("GET", path, 200)
    assert headers["if-none-match"] == '"x"'
    upstream.clear_requests()
    assert upstream.requests == []


def test_concurrent_requests_are_served_in_parallel(upstream: FakeUpstream) -> None:
    upstream.set_fault(Fault.SLOW)
    statuses: list[int] = []

    def fetch() -> None:
        with httpx.Client(trust_env=False) as own:
            statuses.append(own.get(upstream.file_url(WHEEL)).status_code)

    threads = [threading.Thread(target=fetch) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 10
    assert upstream.peak_waiting > 1  # held responses overlapped: no request waited for another


def test_keep_alive_serves_many_requests_on_one_connection(upstream: FakeUpstream) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", upstream.port, timeout=5)
    try:
        connection.request("GET", "/simple/demo-pkg/")
        first = connection.getresponse()
        first.read()
        sock = connection.sock
        connection.request("HEAD", f"/files/{WHEEL}")
        second = connection.getresponse()
        second.read()
        connection.request("GET", f"/files/{WHEEL}")
        third = connection.getresponse()

        assert (first.status, second.status, third.status) == (200, 200, 200)
        assert third.read() == upstream.file_bytes(WHEEL)
        assert connection.sock is sock
    finally:
        connection.close()


def test_restart_goes_down_and_comes_back_on_the_same_port(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    url = upstream.url
    assert client.get(upstream.simple_url).status_code == 200

    upstream.stop()
    with pytest.raises(httpx.ConnectError):
        client.get(f"{url}/simple/")
    upstream.start()

    assert upstream.url == url
    assert client.get(upstream.file_url(WHEEL)).content == upstream.file_bytes(WHEEL)
    upstream.restart()
    assert client.get(f"{upstream.simple_url}demo-pkg/").status_code == 200


# -- faults ----------------------------------------------------------------------------------


def test_slow_delays_the_response_of_the_faulty_project_only(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.set_fault(Fault.SLOW, project="Demo_Pkg")

    assert client.get(f"{upstream.simple_url}other/").status_code == 200
    started = time.monotonic()
    assert client.get(f"{upstream.simple_url}demo-pkg/").status_code == 200

    assert time.monotonic() - started >= upstream.slow_seconds
    assert upstream.delayed == ["/simple/demo-pkg/"]


def test_error_500_hits_pages_and_files(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.set_fault(Fault.ERROR_500, project="demo-pkg")

    assert client.get(f"{upstream.simple_url}demo-pkg/").status_code == 500
    assert client.get(upstream.file_url(WHEEL)).status_code == 500
    assert client.get(f"{upstream.simple_url}other/").status_code == 200
    upstream.clear_faults()
    assert client.get(upstream.file_url(WHEEL)).status_code == 200


def test_reset_closes_the_connection_without_a_response(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.set_fault(Fault.RESET)

    with pytest.raises(httpx.ReadError, match="reset"):
        client.get(f"{upstream.simple_url}demo-pkg/")
    assert upstream.requests[-1].status == 0
    upstream.clear_faults()
    assert client.get(f"{upstream.simple_url}demo-pkg/").status_code == 200


def test_truncated_files_end_early_under_a_full_content_length(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.set_fault(Fault.TRUNCATED)
    size = len(upstream.file_bytes(WHEEL))
    received = bytearray()

    with client.stream("GET", upstream.file_url(WHEEL)) as response:
        assert response.headers["content-length"] == str(size)
        with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
            drain(response, received)
    assert bytes(received) == upstream.file_bytes(WHEEL)[: size // 2]
    assert client.get(f"{upstream.simple_url}demo-pkg/").status_code == 200


@pytest.mark.parametrize("accept", ["text/html", SIMPLE_JSON])
def test_wrong_hash_advertises_another_digest_for_the_same_bytes(
    upstream: FakeUpstream, client: httpx.Client, accept: str
) -> None:
    upstream.set_fault(Fault.WRONG_HASH, project="demo-pkg")
    page = get_page(client, upstream, "demo-pkg", accept=accept)

    for package in page.packages:
        assert package.digests["sha256"] != upstream.sha256(package.filename)
    assert client.get(upstream.file_url(WHEEL)).content == upstream.file_bytes(WHEEL)


@pytest.mark.parametrize("accept", ["text/html", SIMPLE_JSON])
def test_no_hashes_drops_every_digest(
    upstream: FakeUpstream, client: httpx.Client, accept: str
) -> None:
    upstream.set_fault(Fault.NO_HASHES)
    response = client.get(f"{upstream.simple_url}demo-pkg/", headers={"Accept": accept})
    page = get_page(client, upstream, "demo-pkg", accept=accept)

    assert "#sha256=" not in response.text
    assert all(package.digests == {} for package in page.packages)


@pytest.mark.parametrize("accept", ["text/html", SIMPLE_JSON])
def test_no_metadata_advertises_none_and_serves_none(
    upstream: FakeUpstream, client: httpx.Client, accept: str
) -> None:
    upstream.set_fault(Fault.NO_METADATA)
    response = client.get(f"{upstream.simple_url}demo-pkg/", headers={"Accept": accept})
    page = get_page(client, upstream, "demo-pkg", accept=accept)

    assert "data-core-metadata" not in response.text
    assert not any(package.has_metadata for package in page.packages)
    assert client.get(upstream.file_url(WHEEL) + ".metadata").status_code == 404


def test_no_range_ignores_ranges_and_refuses_head(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.set_fault(Fault.NO_RANGE)
    response = client.get(upstream.file_url(WHEEL), headers={"Range": "bytes=0-9"})

    assert (response.status_code, response.content) == (200, upstream.file_bytes(WHEEL))
    assert "accept-ranges" not in response.headers
    assert client.head(upstream.file_url(WHEEL)).status_code == 405


def test_html_only_ignores_accept(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.set_fault(Fault.HTML_ONLY)
    response = client.get(f"{upstream.simple_url}demo-pkg/", headers={"Accept": SIMPLE_JSON})

    assert response.headers["content-type"] == "text/html"
    assert len(ProjectPage.from_html("demo-pkg", response.text).packages) == 3


def test_json_only_answers_json_to_html_clients(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.set_fault(Fault.JSON_ONLY, project="demo-pkg")
    response = client.get(f"{upstream.simple_url}demo-pkg/", headers={"Accept": "text/html"})

    assert response.headers["content-type"] == SIMPLE_JSON
    assert len(ProjectPage.from_json_data(response.json()).packages) == 3


@pytest.mark.parametrize("accept", ["text/html", SIMPLE_JSON])
def test_stale_serial_serves_the_page_before_the_latest_change_with_a_lower_serial(
    upstream: FakeUpstream, client: httpx.Client, accept: str
) -> None:
    upstream.add(Dist("Demo_Pkg", "4.0"))
    real = upstream.project_serial("demo-pkg")
    upstream.set_fault(Fault.STALE_SERIAL)

    response = client.get(f"{upstream.simple_url}demo-pkg/", headers={"Accept": accept})
    page = get_page(client, upstream, "demo-pkg", accept=accept)
    index = client.get(upstream.simple_url)

    assert int(response.headers["x-pypi-last-serial"]) == real - 100
    if accept == SIMPLE_JSON:
        assert response.json()["meta"]["_last-serial"] == real - 100
    assert "4.0" not in {package.version for package in page.packages}
    assert int(index.headers["x-pypi-last-serial"]) == upstream.serial - 100
    upstream.clear_faults()
    assert "4.0" in {
        p.version for p in get_page(client, upstream, "demo-pkg", accept=accept).packages
    }


def test_garbage_is_labelled_json_but_is_not(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.set_fault(Fault.GARBAGE)
    response = client.get(f"{upstream.simple_url}demo-pkg/", headers={"Accept": SIMPLE_JSON})

    assert response.status_code == 200
    assert response.headers["content-type"] == SIMPLE_JSON
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_not_found_hides_everything_of_one_project(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    upstream.set_fault(Fault.NOT_FOUND, project="demo-pkg")

    for url in (
        f"{upstream.simple_url}demo-pkg/",
        upstream.file_url(WHEEL),
        upstream.file_url(WHEEL) + ".metadata",
        f"{upstream.url}/pypi/demo-pkg/json",
    ):
        assert client.get(url).status_code == 404
    assert client.get(f"{upstream.simple_url}other/").status_code == 200
    upstream.clear_fault(Fault.NOT_FOUND, project="demo-pkg")
    assert client.get(f"{upstream.simple_url}demo-pkg/").status_code == 200
