"""The measurements of one server in one run of the suite, in order: uv install cold and warm,
pip install warm, poetry lock, the warm page loads (peak memory sampled meanwhile) and the warm
file loads. A step that fails becomes a ``failed: reason`` figure; the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
from pypi_simple import ProjectPage

from bench.clients import timed_pip_install, timed_poetry_lock
from bench.corpus import Corpus, CorpusFile
from bench.figures import (
    PEAK_PSS,
    PEAK_RSS,
    PIP_WARM,
    POETRY_LOCK,
    UV_COLD,
    UV_WARM,
    Figure,
    Metric,
    PageLoad,
    file_metric,
)
from bench.load import PeakRss, run_wrk
from bench.measure import Uv, make_venv, timed_install
from bench.targets import Target

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html"
PRIME_TIMEOUT = 120.0  # seconds for the request that warms a proxy's cache
INSTALL_STEP_TIMEOUT = 600.0  # seconds for one install or lock


@dataclass(frozen=True, slots=True)
class FileLoad:
    """A wheel of the corpus fetched under load, and how the table names it."""

    label: str
    file: CorpusFile


@dataclass(frozen=True, slots=True)
class Plan:
    """What every server is put through, the same for all: set once per suite."""

    uv: Uv
    environ: dict[str, str]
    corpus: Corpus
    requirements: Path
    pages: tuple[PageLoad, ...]
    files: tuple[FileLoad, ...]
    load_seconds: float
    wrk: str | None
    poetry: bool


Figures = dict[Metric, Figure]


def attempt(step: Callable[[], Figure]) -> Figure:
    """The step's figure, or a failure figure carrying the reason."""
    try:
        return step()
    except Exception as exc:  # a failed step is a result, not a crash
        return Figure.failed(f"{type(exc).__name__}: {exc}")


def measure_target(plan: Plan, target: Target, workdir: Path) -> Figures:
    """Every figure of ``target`` in this run, in the order the suite defines."""
    figures: Figures = {}
    for metric, step in installs(plan, target, workdir):
        figures[metric] = attempt(step)
    if plan.wrk is None:
        return figures
    with PeakRss(target.pid) as memory:
        for page in plan.pages:
            figures[page.metric] = attempt(partial(page_load, plan, target, page))
    for metric, peak in ((PEAK_RSS, memory.peak), (PEAK_PSS, memory.peak_pss)):
        figures[metric] = Figure(peak / 1e6) if peak else Figure.not_applicable("no /proc")
    for load in plan.files:
        figures[file_metric(load.label)] = attempt(partial(file_load, plan, target, load))
    return figures


def installs(
    plan: Plan, target: Target, workdir: Path
) -> list[tuple[Metric, Callable[[], Figure]]]:
    """The install steps, cold first: the server has served nothing before them."""
    expected = len(plan.corpus.files)

    def uv(label: str) -> Figure:
        python = make_venv(plan.uv, workdir / "venvs" / label, plan.environ)
        timing = timed_install(
            plan.uv,
            python,
            plan.requirements,
            target.index_url,
            plan.environ,
            expected,
            INSTALL_STEP_TIMEOUT,
        )
        return Figure(timing.seconds)

    def pip() -> Figure:
        venv = workdir / "venvs" / "pip"
        return Figure(
            timed_pip_install(
                plan.uv,
                venv,
                plan.requirements,
                target.index_url,
                plan.environ,
                expected,
                INSTALL_STEP_TIMEOUT,
            )
        )

    def poetry() -> Figure:
        if not plan.poetry:
            return Figure.not_applicable("poetry not run (smoke)")
        project = workdir / "poetry"
        return Figure(
            timed_poetry_lock(
                plan.uv, project, target.index_url, plan.environ, INSTALL_STEP_TIMEOUT
            )
        )

    return [
        (UV_COLD, lambda: uv("uv-cold")),
        (UV_WARM, lambda: uv("uv-warm")),
        (PIP_WARM, pip),
        (POETRY_LOCK, poetry),
    ]


def page_headers(page: PageLoad) -> dict[str, str]:
    return {
        "Accept": JSON_TYPE if page.json else HTML_TYPE,
        "Accept-Encoding": "gzip" if page.gzip else "identity",
    }


def page_load(plan: Plan, target: Target, page: PageLoad) -> Figure:
    """Warm the page with one request, check what came back, then put it under load."""
    assert plan.wrk is not None
    url = target.page_url(page.project, page.json)
    headers = page_headers(page)
    with httpx.Client(trust_env=False, timeout=PRIME_TIMEOUT) as client:
        response = client.get(url, headers=headers)
    if response.status_code != 200:
        return Figure.failed(f"HTTP {response.status_code} for {url}")
    content_type = response.headers.get("content-type", "")
    if page.json and "json" not in content_type:
        return Figure.not_applicable(f"no JSON ({content_type.split(';')[0]})")
    notes = []
    if page.gzip and response.headers.get("content-encoding") != "gzip":
        notes.append("answered uncompressed")
    result = run_wrk(plan.wrk, url, headers, plan.load_seconds, plan.environ)
    if not result.requests_per_second:
        return Figure.failed(f"no response under load ({result.errors} wrk errors)")
    if result.errors:
        notes.append(f"{result.errors} wrk errors")
    return Figure(result.requests_per_second, result.p99_ms, "; ".join(notes))


def find_file_url(target: Target, file: CorpusFile) -> str:
    """The URL the server's own project page gives for ``file``."""
    url = target.page_url(file.project, json=False)
    with httpx.Client(trust_env=False, timeout=PRIME_TIMEOUT) as client:
        response = client.get(url, headers={"Accept": HTML_TYPE})
    response.raise_for_status()
    page = ProjectPage.from_html(file.project, response.text, base_url=str(response.url))
    for package in page.packages:
        if package.filename == file.filename:
            return str(package.url).split("#", 1)[0]
    raise LookupError(f"{file.filename} is not on {url}")


def file_load(plan: Plan, target: Target, load: FileLoad) -> Figure:
    """Fetch the file once (a proxy caches it), then put it under load; MB/s."""
    assert plan.wrk is not None
    url = find_file_url(target, load.file)
    with httpx.Client(trust_env=False, timeout=PRIME_TIMEOUT, follow_redirects=True) as client:
        response = client.get(url)
    if response.status_code != 200:
        return Figure.failed(f"HTTP {response.status_code} for {url}")
    notes = [] if response.url == url else [f"redirected to {response.url.host}"]
    result = run_wrk(plan.wrk, url, {}, plan.load_seconds, plan.environ)
    if not result.requests_per_second:
        return Figure.failed(f"no response under load ({result.errors} wrk errors)")
    if result.errors:
        notes.append(f"{result.errors} wrk errors")
    return Figure(result.bytes_per_second / 1e6, result.p99_ms, "; ".join(notes))
