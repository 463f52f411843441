"""A fresh proxy under the load of a cold install of real-size pages: fifty projects whose pages
list thousands of files each, asked for all at once (a hundred first requests, JSON and HTML),
with one worker process and with two; a whole install's requests through the default group
with two; and twenty clients racing for one uncached file across two workers. Every answer is
whole and correct, and the upstream is asked once. No timings."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from pypi_simple import ACCEPT_JSON_ONLY, ProjectPage

from tests.support.connections import connections_by_process
from tests.support.page_upstream import BigProject, PageUpstream
from tests.support.server import StiltonServer

pytestmark = pytest.mark.e2e

PROJECTS = tuple(BigProject(f"scale-{number:02d}", 2000 + 60 * number) for number in range(50))
RACED = BigProject("scale-raced", 3000, padding=2 * 2**20)
RACERS = 20
FILE_DELAY = 0.5  # seconds the upstream waits before a file: the window the racers meet in
INDEX = "big"
CLIENT_TIMEOUT = 300.0  # seconds; a correct proxy answers long before


@dataclass(frozen=True, slots=True)
class Answer:
    """One client's answer: status, the filenames its page listed (if it parsed), and a hint."""

    project: str
    json: bool
    status: int
    filenames: frozenset[str]
    note: str


@pytest.fixture(scope="module")
def upstream() -> Iterator[PageUpstream]:
    with PageUpstream([*PROJECTS, RACED], file_delay=FILE_DELAY) as fake:
        yield fake


def start_proxy(root: Path, upstream: PageUpstream, workers: int) -> StiltonServer:
    """A fresh ``stilton serve --workers N`` with a proxy index of ``upstream``."""
    server = StiltonServer(root, workers=workers)
    server.start()
    server.cli(
        "index",
        "create",
        INDEX,
        "--kind",
        "proxy",
        "--upstream",
        upstream.simple_url,
        "--data-dir",
        str(server.data_dir),
    )
    return server


@pytest.fixture(params=[1, 2], ids=["workers-1", "workers-2"])
def stilton_server(
    request: pytest.FixtureRequest, tmp_path: Path, upstream: PageUpstream
) -> Iterator[StiltonServer]:
    """A fresh proxy for each test. (The e2e conftest attaches the log of the fixture of this
    name to a failure.)"""
    upstream.clear_requests()
    server = start_proxy(tmp_path / "stilton", upstream, request.param)
    try:
        yield server
    finally:
        server.stop()


def parse_answer(project: str, json: bool, response: httpx.Response) -> Answer:
    if response.status_code != 200:
        return Answer(project, json, response.status_code, frozenset(), response.text[:200])
    try:
        if json:
            page = ProjectPage.from_json_data(response.json(), str(response.url))
        else:
            page = ProjectPage.from_html(project, response.text, str(response.url))
    except ValueError as exc:
        return Answer(project, json, 200, frozenset(), f"unparsable: {exc}")
    return Answer(project, json, 200, frozenset(p.filename for p in page.packages), "")


async def ask(client: httpx.AsyncClient, index_url: str, project: str, json: bool) -> Answer:
    accept = ACCEPT_JSON_ONLY if json else "text/html"
    try:
        response = await client.get(f"{index_url}{project}/", headers={"Accept": accept})
    except httpx.HTTPError as exc:
        return Answer(project, json, 0, frozenset(), f"{type(exc).__name__}: {exc}")
    return parse_answer(project, json, response)


async def ask_all_at_once(index_url: str) -> list[Answer]:
    """Two first requests per project, one JSON and one HTML, all in flight together."""
    limits = httpx.Limits(max_connections=2 * len(PROJECTS), max_keepalive_connections=0)
    async with httpx.AsyncClient(trust_env=False, timeout=CLIENT_TIMEOUT, limits=limits) as client:
        return await asyncio.gather(
            *(ask(client, index_url, p.name, json) for p in PROJECTS for json in (True, False))
        )


def test_a_hundred_first_requests_for_big_pages_are_answered_whole(
    stilton_server: StiltonServer, upstream: PageUpstream
) -> None:
    answers = asyncio.run(ask_all_at_once(stilton_server.index_url(INDEX)))

    statuses = Counter(answer.status for answer in answers)
    wrong = [a for a in answers if a.status != 200 or a.note]
    assert not wrong, f"statuses {dict(statuses)}; first: {wrong[:3]}"
    expected = {p.name: frozenset(p.filenames()) for p in PROJECTS}
    incomplete = [
        (a.project, a.json, len(a.filenames), len(expected[a.project]))
        for a in answers
        if a.filenames != expected[a.project]
    ]
    assert not incomplete, f"pages not listing every upstream file: {incomplete[:5]}"
    # Within the page TTL (600 s by default) each page goes upstream once, whatever the format
    # or the worker that was asked.
    fetched = upstream.page_gets()
    assert {p.name: fetched.get(p.name, 0) for p in PROJECTS} == {p.name: 1 for p in PROJECTS}
    assert upstream.synthetic_requests() == []


@dataclass(frozen=True, slots=True)
class Download:
    status: int
    sha256: str
    note: str


async def download(client: httpx.AsyncClient, url: str) -> Download:
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        return Download(0, "", f"{type(exc).__name__}: {exc}")
    note = response.text[:200] if response.status_code != 200 else ""
    return Download(response.status_code, hashlib.sha256(response.content).hexdigest(), note)


async def race(server: StiltonServer, url: str) -> tuple[dict[int, int], list[Download]]:
    """Twenty clients, each on a connection of its own, asking for ``url`` at once. The
    connections are opened first (one health check each) so the test can tell which worker
    process holds them; returns that, and what each client received."""
    limits = httpx.Limits(max_connections=RACERS, max_keepalive_connections=RACERS)
    async with httpx.AsyncClient(trust_env=False, timeout=CLIENT_TIMEOUT, limits=limits) as client:
        await asyncio.gather(*(client.get(f"{server.url}/-/health") for _ in range(RACERS)))
        assert server.pid is not None
        held = connections_by_process(server.pid, server.port)
        return held, await asyncio.gather(*(download(client, url) for _ in range(RACERS)))


@pytest.mark.parametrize("stilton_server", [2], ids=["workers-2"], indirect=True)
def test_two_workers_racing_for_one_uncached_file_download_it_once(
    stilton_server: StiltonServer, upstream: PageUpstream
) -> None:
    page_url = f"{stilton_server.index_url(INDEX)}{RACED.name}/"
    with httpx.Client(trust_env=False, timeout=CLIENT_TIMEOUT) as client:
        response = client.get(page_url, headers={"Accept": ACCEPT_JSON_ONLY})
    assert response.status_code == 200, response.text[:500]
    page = ProjectPage.from_json_data(response.json(), page_url)
    (listed,) = [p for p in page.packages if p.filename == RACED.real.wheel_filename]
    expected = hashlib.sha256(upstream.file_bytes(listed.filename)).hexdigest()
    assert listed.digests.get("sha256") == expected

    held, downloads = asyncio.run(race(stilton_server, urljoin(page_url, listed.url)))

    assert len(held) == 2, f"the racers' connections were not spread over two workers: {held}"
    failed = [d for d in downloads if d.status != 200]
    assert not failed, f"statuses {Counter(d.status for d in downloads)}; {failed[:3]}"
    assert {d.sha256 for d in downloads} == {expected}
    assert upstream.file_gets(listed.filename) == 1


async def install_through(
    server: StiltonServer, upstream: PageUpstream
) -> tuple[list[Answer], list[Download]]:
    """What a cold install asks of ``/simple/``: every page at once (JSON and HTML), then every
    real wheel's core metadata and the wheel, all at once (twice each, as clients retrying do),
    at the URLs the group's pages give them."""
    answers = await ask_all_at_once(server.simple_url)
    urls = []
    for project in PROJECTS:
        filename = project.real.wheel_filename
        sha256 = hashlib.sha256(upstream.file_bytes(filename)).hexdigest()
        urls.append(f"{server.url}/main/files/{sha256}/{filename}")
    wanted = [url + ".metadata" for url in urls] * 2 + urls * 2
    limits = httpx.Limits(max_connections=len(PROJECTS), max_keepalive_connections=len(PROJECTS))
    async with httpx.AsyncClient(trust_env=False, timeout=CLIENT_TIMEOUT, limits=limits) as client:
        return answers, await asyncio.gather(*(download(client, url) for url in wanted))


def test_a_cold_install_through_the_default_group_asks_the_upstream_once(
    tmp_path: Path, upstream: PageUpstream
) -> None:
    """As a new user's install goes, through ``/simple/`` (``main`` over ``local`` and the
    proxy), with two workers: every answer whole, each page and wheel fetched once."""
    upstream.clear_requests()
    with StiltonServer(
        tmp_path / "stilton", workers=2, default_upstream=upstream.simple_url
    ) as server:
        answers, downloads = asyncio.run(install_through(server, upstream))

    assert [a for a in answers if a.status != 200 or a.note] == []
    expected = {p.name: frozenset(p.filenames()) for p in PROJECTS}
    assert [a.project for a in answers if a.filenames != expected[a.project]] == []
    assert [d for d in downloads if d.status != 200] == []
    digests = {
        hashlib.sha256(upstream.file_bytes(p.real.wheel_filename)).hexdigest() for p in PROJECTS
    } | {hashlib.sha256(p.real.metadata()).hexdigest() for p in PROJECTS}
    assert {d.sha256 for d in downloads} == digests
    fetched = upstream.page_gets()
    assert {p.name: fetched.get(p.name, 0) for p in PROJECTS} == {p.name: 1 for p in PROJECTS}
    assert {p.name: upstream.file_gets(p.real.wheel_filename) for p in PROJECTS} == {
        p.name: 1 for p in PROJECTS
    }
    assert upstream.synthetic_requests() == []
