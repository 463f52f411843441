"""How big the public index's project pages are for the large corpus: per project, the number of
files it lists (wheels, sdists, others), of versions, and the bytes of its PEP 691 JSON page.

``python -m bench record-sizes`` fetches these facts once (network) into ``bench/page-sizes.tsv``;
``realsize`` builds its local upstream from them. Only counts and sizes are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from packaging.utils import NormalizedName, canonicalize_name
from pypi_simple import ACCEPT_JSON_ONLY, PYPI_SIMPLE_ENDPOINT, ProjectPage

from bench.corpus import BENCH_DIR, CorpusError

SIZES_PATH = BENCH_DIR / "page-sizes.tsv"
COLUMNS = ("project", "files", "wheels", "sdists", "other", "versions", "json_bytes")
HEADER = (
    "# The public index's project pages for bench/corpus-large.txt, as counted by\n"
    "# `uv run python -m bench record-sizes` (network) on {date}. Counts and sizes only.\n"
    "# json_bytes: the uncompressed PEP 691 JSON page.\n"
)
FETCH_TIMEOUT = 60.0  # seconds for one page
PAUSE = 0.2  # seconds between two pages: a polite, bounded crawl of ~100 pages


@dataclass(frozen=True, slots=True)
class PageSize:
    """What one project page lists: files by kind, versions, and the JSON page's bytes."""

    project: NormalizedName
    files: int
    wheels: int
    sdists: int
    other: int  # eggs, Windows installers and the like
    versions: int
    json_bytes: int

    def fields(self) -> tuple[str, ...]:
        counts = (self.files, self.wheels, self.sdists, self.other, self.versions, self.json_bytes)
        return (self.project, *(str(count) for count in counts))


def parse_sizes(text: str) -> dict[NormalizedName, PageSize]:
    """The facts of a ``page-sizes.tsv`` file, by project (the inverse of :func:`render_sizes`)."""
    sizes = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#") or raw.startswith(COLUMNS[0] + "\t"):
            continue
        cells = raw.split("\t")
        if len(cells) != len(COLUMNS) or not all(cell.isdigit() for cell in cells[1:]):
            raise CorpusError(f"line {number} of the page sizes is not {len(COLUMNS)} cells")
        project = canonicalize_name(cells[0])
        files, wheels, sdists, other, versions, json_bytes = (int(cell) for cell in cells[1:])
        if wheels + sdists + other != files:
            raise CorpusError(f"line {number}: wheels + sdists + other is not files")
        sizes[project] = PageSize(project, files, wheels, sdists, other, versions, json_bytes)
    return sizes


def render_sizes(sizes: Iterable[PageSize], date: str) -> str:
    ordered = sorted(sizes, key=lambda size: size.project)
    lines = ["\t".join(COLUMNS), *("\t".join(size.fields()) for size in ordered)]
    return HEADER.format(date=date) + "\n".join(lines) + "\n"


def count_page(project: NormalizedName, page: ProjectPage, json_bytes: int) -> PageSize:
    """The counts of one parsed project page."""
    kinds = [package.package_type for package in page.packages]
    wheels = kinds.count("wheel")
    sdists = kinds.count("sdist")
    versions = {package.version for package in page.packages if package.version is not None}
    return PageSize(
        project=project,
        files=len(kinds),
        wheels=wheels,
        sdists=sdists,
        other=len(kinds) - wheels - sdists,
        versions=len(versions),
        json_bytes=json_bytes,
    )


def fetch_size(client: httpx.Client, project: NormalizedName) -> PageSize:
    """Fetch one project's PEP 691 page from the public index and count it (network)."""
    url = f"{PYPI_SIMPLE_ENDPOINT}{project}/"
    try:
        response = client.get(url, headers={"Accept": ACCEPT_JSON_ONLY})
    except httpx.HTTPError as exc:
        raise CorpusError(f"the page of {project} could not be fetched: {exc}") from exc
    if response.status_code != 200:
        raise CorpusError(f"the page of {project} answered {response.status_code}")
    page = ProjectPage.from_json_data(response.json(), base_url=url)
    return count_page(project, page, len(response.content))


def record_sizes(
    projects: Sequence[NormalizedName], say: Callable[[str], None], path: Path = SIZES_PATH
) -> tuple[PageSize, ...]:
    """Fetch every project's page once, one after another, and write ``path``."""
    sizes = []
    with httpx.Client(timeout=FETCH_TIMEOUT, follow_redirects=True) as client:
        for number, project in enumerate(projects, start=1):
            size = fetch_size(client, project)
            say(f"{number}/{len(projects)} {project}: {size.files} files, {size.json_bytes} B")
            sizes.append(size)
            time.sleep(PAUSE)
    path.write_text(render_sizes(sizes, time.strftime("%Y-%m-%d", time.gmtime())))
    return tuple(sizes)
