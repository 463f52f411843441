"""The ``realsize`` scenario: a cold install of the large corpus through a fresh Stilton proxy,
when the upstream's pages are as big as the public index's (``page-sizes.tsv``: ~89,000 files
over 99 pages), against the same install straight from that upstream (nginx).

Each run does, in order: uv direct; for each worker count (1, then 2), a fresh ``stilton serve``
with a proxy index of nginx, then uv cold and uv warm (``--warm`` times); then, unless
``--no-peers``, a fresh proxpi and devpi of nginx, uv cold and one uv warm each; and in the first
``--pip-runs`` runs, pip direct and pip cold and warm through one more fresh Stilton.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import corpus as corpora
from bench.corpus import Corpus
from bench.install_probe import Installer, Outcome, Tool, measure_install
from bench.measure import clean_environ, find_uv, install_scratch, machine_facts
from bench.page_sizes import SIZES_PATH, parse_sizes
from bench.peer_envs import DEVPI, PROXPI, PeerInstallError, ensure_installed
from bench.peers import DevpiMirror, PeerServer, Proxpi
from bench.proxy_install import git_revision
from bench.realsize_report import (
    DIRECT,
    PEERS,
    Run,
    cold_key,
    render_report,
    server_key,
    warm_key,
    write_results,
)
from bench.realsize_tree import Tree, build_realsize_tree, smoke_sizes
from bench.report import RESULTS_DIR
from bench.servers import BenchServerError, NginxUpstream, StiltonProxy, find_nginx
from tests.support.server import ServerError

SCENARIO = "realsize"
SMOKE_FILES = 2000  # entries per page in a smoke run
WORKER_COUNTS = (1, 2)


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line chose for this scenario."""

    runs: int = 5
    warm: int = 2  # warm installs after each cold one
    pip_runs: int = 1
    gzip: bool = True
    smoke: bool = False
    install_timeout: float = 600.0
    results_dir: Path = RESULTS_DIR
    uv: str | None = None
    keep_workdir: bool = False
    # Install through the default group (``/simple/``: ``main`` over ``local`` and the ``pypi``
    # proxy), as a new user does; or straight from a proxy index of the upstream.
    through_group: bool = True
    peers: bool = True  # proxpi and devpi of the same upstream, in every run (not in a smoke run)
    # Pages of this many files each instead of the public index's sizes: a control that leaves
    # only the cost of a proxy's requests and bytes, without the work of big pages.
    page_files: int | None = None
    html: bool = False  # nginx serves the HTML pages only, as a plain static mirror does


@dataclass(frozen=True, slots=True)
class Bench:
    """What every install of a run needs: the installer, the upstream and a work directory."""

    installer: Installer
    upstream: NginxUpstream
    workdir: Path
    problems: list[str]
    environ: Mapping[str, str]  # the servers'
    venvs: Path
    through_group: bool = True
    peers: tuple[str, ...] = ()  # the peers installed for this benchmark

    def install(
        self, tool: Tool, label: str, index_url: str, pid: int, log: Path | None = None
    ) -> Outcome:
        venv = self.venvs / label.replace(" ", "-")
        access_log = self.upstream.access_log
        try:
            return measure_install(self.installer, tool, venv, index_url, pid, access_log, log)
        finally:
            shutil.rmtree(venv, ignore_errors=True)


def load(options: Options, workdir: Path, environ: Mapping[str, str]) -> tuple[Corpus, Tree]:
    """The corpus and its real-size tree (tiny wheels and made-up sizes for a smoke run)."""
    if options.smoke:
        corpus = corpora.smoke_corpus(workdir / "smoke-wheels")
        sizes = smoke_sizes(corpus, options.page_files or SMOKE_FILES)
    else:
        corpus, _ = corpora.load_corpus(corpora.LARGE_LOCK_PATH, corpora.CACHE_DIR, environ)
        if options.page_files is None:
            sizes = parse_sizes(SIZES_PATH.read_text())
        else:
            sizes = smoke_sizes(corpus, options.page_files)
    return corpus, build_realsize_tree(corpus, sizes, workdir / "tree")


def through_stilton(bench: Bench, tool: Tool, workers: int, root: Path, warm: int) -> Run:
    """A fresh Stilton (``workers`` processes): one cold install, then ``warm`` warm ones."""
    keys = [cold_key(tool, workers), *(warm_key(tool, workers, n) for n in range(1, warm + 1))]
    try:
        with StiltonProxy(
            root, bench.upstream.index_url, bench.environ,
            workers=workers, through_group=bench.through_group,
        ) as proxy:  # fmt: skip
            log = proxy.server.log_path
            run = {key: bench.install(tool, key, proxy.index_url, proxy.pid, log) for key in keys}
            problems = proxy.log_problems()
    except (BenchServerError, ServerError) as exc:
        reason = f"stilton did not start: {str(exc).splitlines()[0]}"
        return {key: Outcome.not_run(tool, reason) for key in keys}
    finally:
        shutil.rmtree(root / "data", ignore_errors=True)
    bench.problems.extend(f"{server_key(tool, workers)}: {line}" for line in problems)
    return run


PEER_SERVERS: dict[str, Callable[[Path, str, Mapping[str, str]], PeerServer]] = {
    "proxpi": Proxpi,
    "devpi": DevpiMirror,
}


def through_peer(bench: Bench, peer: str, root: Path) -> Run:
    """A fresh peer proxy of the upstream: one cold uv install, then one warm."""
    keys = [f"{Tool.UV} {peer} cold", f"{Tool.UV} {peer} warm 1"]
    try:
        with PEER_SERVERS[peer](root, bench.upstream.index_url, bench.environ) as server:
            return {key: bench.install(Tool.UV, key, server.index_url, server.pid) for key in keys}
    except BenchServerError as exc:
        reason = f"{peer} did not start: {str(exc).splitlines()[0]}"
        return {key: Outcome.not_run(Tool.UV, reason) for key in keys}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def install_peers(
    options: Options, uv: str, environ: Mapping[str, str], say: Callable[[str], None]
) -> tuple[str, ...]:
    """The peers to measure, installed in their own venvs (the network, the first time)."""
    if not options.peers or options.smoke:
        return ()
    try:
        for peer in (PROXPI, DEVPI):
            ensure_installed(peer, uv, environ)
    except PeerInstallError as exc:
        say(f"peers left out: {exc}")
        return ()
    say(f"peers: {PROXPI.label}; {DEVPI.label}")
    return PEERS


def one_run(bench: Bench, options: Options, number: int) -> Run:
    upstream = bench.upstream
    run = {DIRECT[Tool.UV]: bench.install(Tool.UV, "uv direct", upstream.index_url, upstream.pid)}
    for workers in WORKER_COUNTS:
        root = bench.workdir / f"stilton-{number}-w{workers}"
        run |= through_stilton(bench, Tool.UV, workers, root, options.warm)
    for peer in bench.peers:
        run |= through_peer(bench, peer, bench.workdir / f"{peer}-{number}")
    if number <= options.pip_runs:
        direct = bench.install(Tool.PIP, "pip direct", upstream.index_url, upstream.pid)
        run[DIRECT[Tool.PIP]] = direct
        root = bench.workdir / f"stilton-{number}-pip"
        run |= through_stilton(bench, Tool.PIP, 1, root, 1)
    return run


def measure(options: Options, bench: Bench, say: Callable[[str], None]) -> list[Run]:
    runs = []
    for number in range(1, options.runs + 1):
        run = one_run(bench, options, number)
        runs.append(run)
        cells = [
            f"{key} {'failed' if got.seconds is None else f'{got.seconds:.1f} s'}"
            for key, got in run.items()
        ]
        say(f"run {number}/{options.runs}: " + ", ".join(cells))
    return runs


def describe(options: Options, corpus: Corpus, tree: Tree) -> dict[str, Any]:
    """What the JSON results record of the corpus and the pages."""
    return {
        "runs": options.runs,
        "warm_installs": options.warm,
        "corpus": {"smoke": options.smoke, "wheels": len(corpus.files)},
        "page_files": options.page_files,  # None: the public index's page sizes
        "pages": {"files": tree.listed_files, "json_bytes": tree.json_bytes},
        "load_1min_at_end": round(os.getloadavg()[0], 2),
    }


def run(options: Options, environ: Mapping[str, str], say: Callable[[str], None]) -> Path:
    """Run the scenario, print the table through ``say`` and return the JSON results path."""
    nginx = find_nginx(environ)
    if nginx is None:
        raise BenchServerError("realsize needs nginx (apt-get install nginx)")
    workdir = Path(tempfile.mkdtemp(prefix="stilton-realsize-"))
    workdir.chmod(0o755)  # nginx's workers run as another user and must read the tree
    scratch = install_scratch("stilton-realsize-installs-")
    try:
        return run_in(workdir, scratch or workdir / "installs", nginx, options, environ, say)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        if options.keep_workdir:
            say(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run_in(
    workdir: Path,
    installs: Path,
    nginx: str,
    options: Options,
    environ: Mapping[str, str],
    say: Callable[[str], None],
) -> Path:
    uv = find_uv(environ, options.uv)
    corpus, tree = load(options, workdir, environ)
    facts = machine_facts(uv)
    say(" ".join(f"{key}={value}" for key, value in facts.items() if key != "uv_path"))
    say(
        f"corpus: {len(corpus.files)} wheels, {corpus.total_bytes / 1e6:.1f} MB; pages list "
        f"{tree.listed_files} files, {tree.json_bytes / 1e6:.1f} MB of JSON"
        f"{' (smoke)' if options.smoke else ''}"
    )
    env = clean_environ(environ)
    requirements = workdir / "requirements.txt"
    requirements.write_text(corpus.requirements())
    (installs / "tmp").mkdir(parents=True, exist_ok=True)
    say(f"installs (venvs, the installer's temporary files) in {installs}")
    installer_env = {**env, "TMPDIR": str(installs / "tmp")}
    installer = Installer(
        uv, installer_env, requirements, len(corpus.files), options.install_timeout
    )
    upstream = NginxUpstream(
        nginx, tree.root, workdir / "nginx", env, gzip=options.gzip, negotiate=not options.html
    )
    with upstream:
        pages = "HTML only" if options.html else "JSON to whoever asks for it"
        say(f"upstream: {upstream.label} at {upstream.index_url}, gzip {options.gzip}, {pages}")
        source = "the default group, /simple/" if options.through_group else "a proxy index"
        say(f"stilton: installs from {source}")
        peers = install_peers(options, uv.path, env, say)
        bench = Bench(
            installer, upstream, workdir, [], env, installs / "venvs", options.through_group, peers
        )
        runs = measure(options, bench, say)
    say("")
    say(render_report(runs, tree.projects, bench.problems))
    details = {
        "machine": facts,
        "stilton_revision": git_revision(corpora.BENCH_DIR),
        "upstream": {"server": upstream.label, "gzip": options.gzip, "html_only": options.html},
        "stilton_index": "main group (/simple/)" if options.through_group else "proxy index",
        "peers": {peer.name: peer.label for peer in (PROXPI, DEVPI) if peer.name in bench.peers},
        "installs_dir": str(installs),
        **describe(options, corpus, tree),
        "stilton_log_problems": bench.problems,
    }
    path = write_results(options.results_dir, SCENARIO, runs, tree.projects, details)
    say(f"results: {path}")
    return path
