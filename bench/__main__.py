"""``python -m bench``: parse the command line and run one benchmark scenario (or lock the
corpus). The scenarios live in their own modules; this file only reads arguments."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import corpus, ops, page_sizes, proxy_install, realsize, replicas, suite
from bench.corpus import CorpusError
from bench.measure import MeasureError
from bench.report import RESULTS_DIR
from bench.servers import BenchServerError, ServerKind


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    install = commands.add_parser(
        proxy_install.SCENARIO,
        help="uv pip install of the corpus: direct vs through a Stilton proxy, cold and warm",
        description=proxy_install.__doc__,
    )
    install.add_argument(
        "--runs", type=positive, help="runs of each measurement (default 3; 1 with --smoke)"
    )
    install.add_argument(
        "--smoke",
        action="store_true",
        help="three tiny locally built wheels and one run; needs no network",
    )
    install.add_argument(
        "--upstream-server",
        type=ServerKind,
        choices=list(ServerKind),
        default=ServerKind.AUTO,
        help="what serves the static upstream (auto: nginx if installed, else python)",
    )
    install.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes"
    )
    install.add_argument("--uv", help="the uv executable (default: $UV, else uv on PATH)")
    install.add_argument(
        "--keep-workdir", action="store_true", help="keep venvs, tree and logs for inspection"
    )

    add_suite(commands)
    add_realsize(commands)
    scale = commands.add_parser(
        replicas.SCENARIO,
        help="warm installs and page throughput through nginx: 1 replica vs 3 (PostgreSQL + S3)",
        description=replicas.__doc__,
    )
    scale.add_argument("--runs", type=positive, default=3, help="warm installs per layout")
    scale.add_argument("--seconds", type=positive, default=5, help="seconds of page load")
    add_ops(commands)

    commands.add_parser(
        "record-sizes",
        help="count the files of each large-corpus project's page on the public index "
        "(network, ~100 requests) and rewrite bench/page-sizes.tsv",
    )

    lock = commands.add_parser(
        "lock", help="resolve the corpus with pip (network) and rewrite bench/corpus.txt"
    )
    lock.add_argument("--lock-file", type=Path, help="default: corpus.txt, or corpus-large.txt")
    lock.add_argument(
        "--large", action="store_true", help="the web + data corpus of the `suite` scenario"
    )
    return top


def add_suite(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    everything = commands.add_parser(
        suite.SCENARIO,
        help="every server (nginx, Stilton proxy and hosted, devpi, proxpi, pypiserver), "
        "every figure, one table",
        description=suite.__doc__,
    )
    everything.add_argument("--runs", type=positive, default=1, help="runs of everything")
    everything.add_argument(
        "--load-seconds",
        type=positive,
        help="seconds of wrk per page or file load (default 5; 1 with --smoke)",
    )
    everything.add_argument(
        "--smoke",
        action="store_true",
        help="tiny local corpus, nginx and Stilton only, 1 s loads; needs no network",
    )
    everything.add_argument("--no-peers", action="store_true", help="nginx and Stilton only")
    everything.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes"
    )
    everything.add_argument("--uv", help="the uv executable (default: $UV, else uv on PATH)")
    everything.add_argument(
        "--keep-workdir", action="store_true", help="keep venvs, tree and logs for inspection"
    )


def add_realsize(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    real = commands.add_parser(
        realsize.SCENARIO,
        help="cold and warm installs through a fresh Stilton proxy of an upstream whose pages "
        "are as big as the public index's",
        description=realsize.__doc__,
    )
    real.add_argument("--runs", type=positive, help="runs (default 5; 1 with --smoke)")
    real.add_argument("--warm", type=positive, default=2, help="warm installs per server")
    real.add_argument(
        "--pip-runs", type=int, default=1, help="runs that also install with pip (default 1)"
    )
    real.add_argument("--no-gzip", action="store_true", help="nginx serves pages uncompressed")
    real.add_argument(
        "--html-upstream",
        action="store_true",
        help="nginx serves only the HTML pages, as a plain static mirror does (no JSON)",
    )
    real.add_argument(
        "--no-peers", action="store_true", help="leave out proxpi and devpi (measured by default)"
    )
    real.add_argument(
        "--proxy-index",
        action="store_true",
        help="install from a proxy index of the upstream instead of through the default group "
        "(/simple/, as a new user does)",
    )
    real.add_argument(
        "--page-files",
        type=positive,
        help="pages of this many files each instead of the public index's sizes (a control: "
        "what a cold install costs without big pages)",
    )
    real.add_argument(
        "--smoke",
        action="store_true",
        help=f"three tiny local wheels, pages of {realsize.SMOKE_FILES} files, one run; "
        "needs no network",
    )
    real.add_argument(
        "--install-timeout", type=positive, default=600, help="seconds before an install fails"
    )
    real.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    real.add_argument("--uv", help="the uv executable (default: $UV, else uv on PATH)")
    real.add_argument(
        "--keep-workdir", action="store_true", help="keep venvs, tree and logs for inspection"
    )


def add_ops(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    figures = commands.add_parser(
        ops.SCENARIO,
        help="pages/s with the request log on and off, stilton verify MiB/s, CLI start-up",
        description=ops.__doc__,
    )
    figures.add_argument("--runs", type=positive, default=3, help="runs of each page load")
    figures.add_argument("--seconds", type=positive, default=5, help="seconds of wrk per run")
    figures.add_argument("--workers", type=positive, default=2, help="server workers")
    figures.add_argument("--verify-files", type=positive, default=400, help="wheels to verify")


def run_realsize(args: argparse.Namespace, environ: dict[str, str]) -> None:
    options = realsize.Options(
        runs=args.runs or (1 if args.smoke else 5),
        warm=args.warm,
        pip_runs=args.pip_runs,
        gzip=not args.no_gzip,
        smoke=args.smoke,
        install_timeout=float(args.install_timeout),
        results_dir=args.results_dir,
        uv=args.uv,
        keep_workdir=args.keep_workdir,
        through_group=not args.proxy_index,
        peers=not args.no_peers,
        page_files=args.page_files,
        html=args.html_upstream,
    )
    realsize.run(options, environ, lambda line: print(line, flush=True))


def run_suite(args: argparse.Namespace, environ: dict[str, str]) -> None:
    options = suite.Options(
        runs=args.runs,
        smoke=args.smoke,
        load_seconds=args.load_seconds or (1 if args.smoke else 5),
        peers=not args.no_peers,
        results_dir=args.results_dir,
        uv=args.uv,
        keep_workdir=args.keep_workdir,
    )
    suite.run(options, environ, lambda line: print(line, flush=True))


def record_sizes() -> None:
    files = corpus.parse_lock(corpus.LARGE_LOCK_PATH.read_text())
    projects = [file.project for file in files]
    sizes = page_sizes.record_sizes(projects, lambda line: print(line, flush=True))
    print(f"recorded {len(sizes)} pages into {page_sizes.SIZES_PATH}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    environ = dict(os.environ)
    try:
        if args.command == "lock":
            requirements = (
                corpus.LARGE_REQUIREMENTS if args.large else corpus.TOP_LEVEL_REQUIREMENTS
            )
            default_path = corpus.LARGE_LOCK_PATH if args.large else corpus.LOCK_PATH
            lock_path = args.lock_file or default_path
            files = corpus.lock_corpus(requirements, lock_path, corpus.CACHE_DIR, environ)
            print(f"locked {len(files)} wheels into {lock_path}")
            return 0
        if args.command == replicas.SCENARIO:
            replicas.run(args.runs, args.seconds)
            return 0
        if args.command == "record-sizes":
            record_sizes()
            return 0
        if args.command == realsize.SCENARIO:
            run_realsize(args, environ)
            return 0
        if args.command == suite.SCENARIO:
            run_suite(args, environ)
            return 0
        if args.command == ops.SCENARIO:
            figures = ops.Options(args.runs, args.seconds, args.workers, args.verify_files)
            ops.run(figures, environ, lambda line: print(line, flush=True))
            return 0
        options = proxy_install.Options(
            runs=args.runs or (1 if args.smoke else 3),
            smoke=args.smoke,
            upstream_server=args.upstream_server,
            results_dir=args.results_dir,
            uv=args.uv,
            keep_workdir=args.keep_workdir,
        )
        proxy_install.run(options, environ, lambda line: print(line, flush=True))
    except (CorpusError, MeasureError, BenchServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
