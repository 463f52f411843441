"""The ``proxy-install`` scenario: ``uv pip install`` of the whole corpus into a fresh venv,
directly from the local static upstream and through a Stilton proxy index of it, cold (a fresh
Stilton data directory) and warm (the same server, second install), compared as ratios.

Each run does, in order: direct, Stilton cold, Stilton warm; the median and minimum of the runs
are reported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import corpus as corpora
from bench.corpus import Corpus
from bench.measure import (
    PINNED_UV_VERSION,
    Sample,
    Summary,
    Uv,
    clean_environ,
    find_uv,
    install_scratch,
    machine_facts,
    make_venv,
    process_tree_cpu,
    timed_install,
)
from bench.report import RESULTS_DIR, Row, render_table, write_results
from bench.servers import ServerKind, StiltonProxy, Upstream, open_upstream
from bench.upstream import build_tree

SCENARIO = "proxy-install"
DIRECT, COLD, WARM = "direct", "stilton cold", "stilton warm"


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line chose for this scenario."""

    runs: int = 3
    smoke: bool = False
    upstream_server: ServerKind = ServerKind.AUTO
    results_dir: Path = RESULTS_DIR
    uv: str | None = None
    keep_workdir: bool = False


@dataclass(slots=True)
class Context:
    """Everything a run needs, built once: the installer, its environment and the corpus."""

    uv: Uv
    environ: dict[str, str]
    corpus: Corpus
    requirements: Path
    workdir: Path
    upstream: Upstream
    upstream_label: str
    installs: Path  # the venvs, and the installer's temporary files (``install_scratch``)
    problems: list[str] = field(default_factory=list)

    @property
    def install_environ(self) -> dict[str, str]:
        return {**self.environ, "TMPDIR": str(self.installs / "tmp")}


def git_revision(cwd: Path) -> str:
    """The commit being measured, with ``-dirty`` when the work tree has changes."""
    completed = subprocess.run(
        ["git", "describe", "--always", "--dirty", "--abbrev=12"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return completed.stdout.strip() or "unknown"


def load(
    options: Options, workdir: Path, environ: Mapping[str, str], say: Callable[[str], None]
) -> Corpus:
    """The corpus: three tiny local wheels for a smoke run, else the locked one (cached)."""
    if options.smoke:
        return corpora.smoke_corpus(workdir / "smoke-wheels")
    corpus, fetched = corpora.load_corpus(corpora.LOCK_PATH, corpora.CACHE_DIR, environ)
    if fetched:
        say(f"fetched {fetched} missing wheels into {corpora.CACHE_DIR}")
    return corpus


def install(context: Context, label: str, index_url: str, server_pid: int) -> Sample:
    """One timed install of the corpus into a fresh venv, with what it cost the server it
    talked to (``server_pid``) and the static upstream."""
    venv = context.installs / "venvs" / label.replace(" ", "-")
    if venv.exists():
        shutil.rmtree(venv)
    python = make_venv(context.uv, venv, context.environ)
    upstream = context.upstream
    requests_before = upstream.requests_served()
    server_before = process_tree_cpu(server_pid)
    upstream_before = process_tree_cpu(upstream.pid)
    try:
        timing = timed_install(
            context.uv,
            python,
            context.requirements,
            index_url,
            context.install_environ,
            len(context.corpus.files),
        )
    finally:
        shutil.rmtree(venv, ignore_errors=True)
    return Sample(
        seconds=timing.seconds,
        client_cpu=timing.cpu,
        server_cpu=process_tree_cpu(server_pid) - server_before,
        upstream_cpu=process_tree_cpu(upstream.pid) - upstream_before,
        upstream_requests=upstream.requests_served() - requests_before,
    )


def one_run(context: Context, number: int) -> dict[str, Sample]:
    """Direct, then a fresh Stilton proxy cold and warm."""
    upstream = context.upstream
    samples = {DIRECT: install(context, DIRECT, upstream.index_url, upstream.pid)}
    root = context.workdir / f"stilton-{number}"
    with StiltonProxy(root, upstream.index_url, context.environ) as proxy:
        samples[COLD] = install(context, COLD, proxy.index_url, proxy.pid)
        samples[WARM] = install(context, WARM, proxy.index_url, proxy.pid)
        context.problems += proxy.log_problems()
    shutil.rmtree(root / "data", ignore_errors=True)
    return samples


def run(options: Options, environ: Mapping[str, str], say: Callable[[str], None]) -> Path:
    """Run the scenario, print the table through ``say`` and return the JSON results path."""
    uv = find_uv(environ, options.uv)
    workdir = Path(tempfile.mkdtemp(prefix="stilton-bench-"))
    workdir.chmod(0o755)  # nginx's workers run as another user and must read the tree
    scratch = install_scratch("stilton-bench-installs-")
    installs = scratch or workdir / "installs"
    try:
        corpus = load(options, workdir, environ, say)
        facts = machine_facts(uv)
        say(" ".join(f"{key}={value}" for key, value in facts.items() if key != "uv_path"))
        say(f"uv: {uv.version} at {uv.path}")
        if not uv.pinned:
            say(f"note: the pinned uv is {PINNED_UV_VERSION}; pass --uv to use it")
        size = f"{corpus.total_bytes / 1e6:.1f} MB{' (smoke)' if options.smoke else ''}"
        say(f"corpus: {len(corpus.files)} wheels, {size}")
        say(f"installs (venvs, the installer's temporary files) in {installs}")
        context, runs = measure(options, uv, corpus, clean_environ(environ), workdir, installs, say)
        rows = summarize(runs)
        say("")
        say(render_table(rows))
        for problem in context.problems:
            say(f"stilton log: {problem}")
        details = {"machine": facts, **describe(options, context)}
        path = write_results(options.results_dir, SCENARIO, rows, details)
        say(f"results: {path}")
        return path
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        if options.keep_workdir:
            say(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(
    options: Options,
    uv: Uv,
    corpus: Corpus,
    environ: dict[str, str],
    workdir: Path,
    installs: Path,
    say: Callable[[str], None],
) -> tuple[Context, list[dict[str, Sample]]]:
    """Serve the corpus as a static upstream and do ``options.runs`` runs against it."""
    (installs / "tmp").mkdir(parents=True, exist_ok=True)
    tree = build_tree(corpus, workdir / "upstream-tree")
    requirements = workdir / "requirements.txt"
    requirements.write_text(corpus.requirements())
    with open_upstream(options.upstream_server, tree, workdir / "upstream", environ) as upstream:
        say(f"upstream: {upstream.label} at {upstream.index_url}")
        context = Context(
            uv, environ, corpus, requirements, workdir, upstream, upstream.label, installs
        )
        runs = []
        for number in range(1, options.runs + 1):
            samples = one_run(context, number)
            runs.append(samples)
            timings = ", ".join(f"{name} {got.seconds:.3f} s" for name, got in samples.items())
            say(f"run {number}/{options.runs}: {timings}")
    return context, runs


def summarize(runs: list[dict[str, Sample]]) -> list[Row]:
    """One row per scenario; the Stilton rows compared with direct."""
    summaries = {name: Summary(tuple(run[name] for run in runs)) for name in (DIRECT, COLD, WARM)}
    direct = summaries[DIRECT]
    return [
        Row(DIRECT, direct),
        Row(COLD, summaries[COLD], direct),
        Row(WARM, summaries[WARM], direct),
    ]


def describe(options: Options, context: Context) -> dict[str, Any]:
    """What the JSON results record besides the rows and the machine."""
    corpus = context.corpus
    return {
        "stilton_revision": git_revision(corpora.BENCH_DIR),
        "upstream_server": context.upstream_label,
        "corpus": {
            "smoke": options.smoke,
            "wheels": len(corpus.files),
            "bytes": corpus.total_bytes,
            "files": [file.filename for file in corpus.files],
        },
        "runs": options.runs,
        "load_1min_at_end": round(os.getloadavg()[0], 2),
        "stilton_log_problems": context.problems,
    }
