"""The ``suite`` scenario: one corpus (about 100 real wheels plus a synthetic project of more than
10,000 files), served by nginx as a static tree, then by Stilton (proxy and hosted) and by each
peer in turn, alone with nginx; every server measured the same way (``suite_steps.py``) and
reported in one table with Stilton's ratios, the bars it is held to, and a JSON file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import corpus as corpora
from bench import synthetic
from bench.clients import prepare_poetry
from bench.corpus import Corpus, CorpusFile
from bench.figures import INSTALL_METRICS, PEAK_PSS, PEAK_RSS, Figure, Metric, PageLoad, file_metric
from bench.load import find_wrk
from bench.measure import Uv, clean_environ, find_uv, machine_facts
from bench.peer_envs import DEVPI, PROXPI, PYPISERVER, PeerEnv, ensure_installed
from bench.proxy_install import git_revision
from bench.report import RESULTS_DIR
from bench.servers import BenchServerError, NginxUpstream, find_nginx
from bench.suite_report import Runs, bars, medians, render_bars, render_table, write_results
from bench.suite_steps import FileLoad, Plan, measure_target
from bench.targets import TargetSpec, import_hosted, target_specs
from bench.upstream import build_suite_tree, link_dists

SCENARIO = "suite"
SMALL_PROJECT = "requests"  # a one-file page of the corpus; the smoke run takes its first
FILE_SIZES = (("~1 MB", 1e6), ("~15 MB", 15e6))  # the wheels closest to these are loaded
PEERS: dict[str, PeerEnv] = {"devpi": DEVPI, "proxpi": PROXPI, "pypiserver": PYPISERVER}


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line chose for the suite."""

    runs: int = 1
    smoke: bool = False
    load_seconds: float = 5.0
    peers: bool = True
    results_dir: Path = RESULTS_DIR
    uv: str | None = None
    keep_workdir: bool = False


def load_corpora(
    options: Options, workdir: Path, environ: Mapping[str, str]
) -> tuple[Corpus, Corpus]:
    """The installed corpus and the synthetic long-page project (both cached after the first
    run; the smoke run builds tiny ones and needs no network)."""
    if options.smoke:
        return (
            corpora.smoke_corpus(workdir / "smoke-wheels"),
            synthetic.synthetic_corpus(synthetic.SMOKE_FILE_COUNT),
        )
    corpus, _ = corpora.load_corpus(corpora.LARGE_LOCK_PATH, corpora.CACHE_DIR, environ)
    return corpus, synthetic.synthetic_corpus()


def closest_file(corpus: Corpus, size: float) -> CorpusFile:
    return min(corpus.files, key=lambda file: abs(corpus.path(file).stat().st_size - size))


def page_loads(corpus: Corpus) -> tuple[PageLoad, ...]:
    projects = {file.project for file in corpus.files}
    small = SMALL_PROJECT if SMALL_PROJECT in projects else corpus.files[0].project
    return tuple(
        PageLoad(size, project, json, gzip)
        for size, project in (("small", small), ("big", synthetic.PROJECT))
        for json in (False, True)
        for gzip in (False, True)
    )


def file_loads(corpus: Corpus) -> tuple[FileLoad, ...]:
    loads = []
    for label, size in FILE_SIZES:
        file = closest_file(corpus, size)
        megabytes = corpus.path(file).stat().st_size / 1e6
        loads.append(FileLoad(f"{label} ({file.project}, {megabytes:.1f} MB)", file))
    return tuple(loads)


def metrics_of(plan: Plan) -> list[Metric]:
    pages = [page.metric for page in plan.pages]
    files = [file_metric(load.label) for load in plan.files]
    return [*pages, *files, *INSTALL_METRICS, PEAK_RSS, PEAK_PSS]


def install_peers(options: Options, uv: Uv, environ: Mapping[str, str]) -> dict[str, str]:
    """Each peer's environment; the reason for those that could not be installed."""
    failures: dict[str, str] = {}
    if options.smoke or not options.peers:
        return failures
    for name, peer in PEERS.items():
        try:
            ensure_installed(peer, uv.path, environ)
        except Exception as exc:  # a peer that will not install is a result
            failures[name] = f"install: {exc}"
    return failures


def run(options: Options, environ: Mapping[str, str], say: Callable[[str], None]) -> Path:
    """Run the suite, print the table through ``say`` and return the JSON results path."""
    uv = find_uv(environ, options.uv)
    nginx = find_nginx(environ)
    if nginx is None:
        raise BenchServerError("the suite needs nginx (apt-get install nginx)")
    wrk = find_wrk(environ)
    clean = clean_environ(environ)
    workdir = Path(tempfile.mkdtemp(prefix="stilton-suite-"))
    workdir.chmod(0o755)  # nginx's workers run as another user and must read the tree
    try:
        facts = machine_facts(uv)
        say(" ".join(f"{key}={value}" for key, value in facts.items() if key != "uv_path"))
        say(f"load average before: {_load()}")
        corpus, big = load_corpora(options, workdir, environ)
        say(
            f"corpus: {len(corpus.files)} wheels, {corpus.total_bytes / 1e6:.1f} MB; "
            f"{synthetic.PROJECT}: {len(big.files)} files"
        )
        failures = install_peers(options, uv, environ)
        poetry = not options.smoke
        if poetry:
            say(prepare_poetry(uv, clean, workdir / "poetry-prepare").strip())
        if wrk is None:
            say("wrk is not installed: no page or file loads")
        plan = _plan(options, uv, clean, corpus, workdir, wrk, poetry)
        runs, details = measure(options, plan, nginx, big, workdir, failures, say)
        metrics = metrics_of(plan)
        table = medians(runs)
        found = bars(table, metrics)
        say("")
        say(render_table(table, metrics))
        say("")
        say(render_bars(found))
        for name, label in details["servers"].items():
            say(f"server {name}: {label}")
        say(f"load average after: {_load()}")
        facts_all = {
            "machine": facts,
            **details,
            "load_average_after": _load(),
            "options": {
                "runs": options.runs,
                "smoke": options.smoke,
                "load_seconds": options.load_seconds,
            },
        }
        path = write_results(options.results_dir, runs, metrics, found, facts_all)
        say(f"results: {path}")
        return path
    finally:
        if options.keep_workdir:
            say(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _plan(
    options: Options,
    uv: Uv,
    environ: dict[str, str],
    corpus: Corpus,
    workdir: Path,
    wrk: str | None,
    poetry: bool,
) -> Plan:
    requirements = workdir / "requirements.txt"
    requirements.write_text(corpus.requirements())
    return Plan(
        uv=uv,
        environ=environ,
        corpus=corpus,
        requirements=requirements,
        pages=page_loads(corpus),
        files=file_loads(corpus),
        load_seconds=options.load_seconds,
        wrk=wrk,
        poetry=poetry,
    )


def measure(
    options: Options,
    plan: Plan,
    nginx: str,
    big: Corpus,
    workdir: Path,
    failures: Mapping[str, str],
    say: Callable[[str], None],
) -> tuple[Runs, dict[str, Any]]:
    """Serve the tree with nginx, import the hosted index, and measure every server per run."""
    tree = build_suite_tree([plan.corpus, big], workdir / "tree")
    dists = link_dists([plan.corpus, big], workdir / "dists")
    hosted_root = workdir / "stilton-hosted"
    import_seconds = import_hosted(hosted_root, dists, plan.environ)
    wheels = len(plan.corpus.files) + len(big.files)
    say(f"stilton import of {wheels} wheels: {import_seconds:.1f} s")
    runs: Runs = {}
    labels: dict[str, str] = {}
    stilton_label = f"stilton {git_revision(corpora.BENCH_DIR)}"
    with NginxUpstream(nginx, tree, workdir / "nginx", plan.environ) as upstream:
        specs = target_specs(
            upstream,
            hosted_root,
            dists,
            plan.environ,
            stilton_label,
            not options.smoke and options.peers,
        )
        for number in range(1, options.runs + 1):
            for spec in specs:
                figures = _measure_one(
                    spec,
                    plan,
                    workdir / f"{number}-{spec.name.replace(' ', '-')}",
                    failures,
                    labels,
                )
                for metric, figure in figures.items():
                    runs.setdefault(spec.name, {}).setdefault(metric, []).append(figure)
                say(f"run {number}/{options.runs} {spec.name}: {_progress(figures)}")
    labels.update({name: PEERS[name].label for name in failures})
    details = {
        "servers": labels,
        "peer_failures": dict(failures),
        "stilton_import_seconds": import_seconds,
        "corpus": {
            "wheels": len(plan.corpus.files),
            "bytes": plan.corpus.total_bytes,
            "files": [file.filename for file in plan.corpus.files],
            "synthetic_project": synthetic.PROJECT,
            "synthetic_files": len(big.files),
        },
    }
    return runs, details


def _measure_one(
    spec: TargetSpec,
    plan: Plan,
    root: Path,
    failures: Mapping[str, str],
    labels: dict[str, str],
) -> dict[Metric, Figure]:
    metrics = metrics_of(plan)
    if spec.name in failures:
        return {metric: Figure.failed(failures[spec.name]) for metric in metrics}
    try:
        with spec.open(root) as target:
            labels[spec.name] = target.label
            figures = measure_target(plan, target, root)
    except Exception as exc:  # a server that will not start is a result
        return {metric: Figure.failed(f"start: {type(exc).__name__}: {exc}") for metric in metrics}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return figures


def _progress(figures: Mapping[Metric, Figure]) -> str:
    parts: Sequence[str] = [
        f"{metric.key} {figure.value:.2f}"
        if figure.value is not None
        else f"{metric.key} {figure.note}"
        for metric, figure in figures.items()
        if metric in INSTALL_METRICS
    ]
    return ", ".join(parts)
