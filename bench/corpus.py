"""The package corpus a benchmark installs: exact wheels named in a committed lock file, kept in a
local cache that pip fills once from the public index, or three tiny wheels built on the spot.

The lock file (``bench/corpus.txt``) holds one wheel per line, ``<filename> sha256=<hex>``; every
cached file is checked against that hash before it is served.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import NormalizedName, parse_wheel_filename
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from tests.support.dists import Dist, write_wheel

BENCH_DIR = Path(__file__).resolve().parent
LOCK_PATH = BENCH_DIR / "corpus.txt"
LARGE_LOCK_PATH = BENCH_DIR / "corpus-large.txt"  # the `suite` corpus (~100 wheels)
CACHE_DIR = BENCH_DIR / ".cache" / "wheels"

# What `python -m bench lock` resolves: a typical web/CLI/test stack, pure Python where possible.
TOP_LEVEL_REQUIREMENTS = (
    "requests",
    "urllib3",
    "idna",
    "charset-normalizer",
    "certifi",
    "click",
    "rich",
    "pygments",
    "markdown-it-py",
    "mdurl",
    "jinja2",
    "markupsafe",
    "pydantic",
    "pydantic-core",
    "typing-extensions",
    "annotated-types",
    "attrs",
    "packaging",
    "pyyaml",
    "python-dateutil",
    "six",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "sniffio",
    "starlette",
    "itsdangerous",
    "werkzeug",
    "flask",
    "blinker",
    "sqlalchemy",
    "greenlet",
    "tomli",
    "iniconfig",
    "pluggy",
    "pytest",
    "colorama",
    "tqdm",
)

# What `python -m bench lock --large` resolves: a web + data project (about 100 wheels, ~190 MB).
# colorama and tzdata are dependencies on Windows only: poetry's universal lock needs them.
LARGE_REQUIREMENTS = (
    # the web stack
    "fastapi",
    "uvicorn[standard]",
    "gunicorn",
    "starlette",
    "pydantic",
    "pydantic-settings",
    "sqlalchemy",
    "alembic",
    "psycopg[binary]",
    "redis",
    "celery",
    "httpx",
    "requests",
    "flask",
    "jinja2",
    "python-multipart",
    "orjson",
    "email-validator",
    "pyjwt",
    "cryptography",
    "structlog",
    "sentry-sdk",
    "tenacity",
    "pyyaml",
    "rich",
    "typer",
    "tqdm",
    "attrs",
    "beautifulsoup4",
    "lxml",
    "pytest",
    "colorama",
    "tzdata",
    # the data stack
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "openpyxl",
)

# The one platform the corpus is locked for: CPython 3.11 on manylinux x86_64, wheels only.
PIP_TARGET = (
    "--only-binary=:all:",
    "--implementation",
    "cp",
    "--python-version",
    "3.11",
    "--abi",
    "cp311",
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux_2_17_x86_64",
    "--platform",
    "manylinux2014_x86_64",
)
LOCK_HEADER = (
    "# A benchmark corpus: exact wheels for CPython 3.11 on manylinux x86_64.\n"
    "# Written by `uv run python -m bench lock` (needs the network); one wheel per line:\n"
    "# <filename> sha256=<hex>\n"
)
PIP_TIMEOUT = 900.0  # seconds for one pip download of the whole corpus


class CorpusError(RuntimeError):
    """The lock file is malformed, or a wheel could not be fetched or failed its hash."""


@dataclass(frozen=True, slots=True)
class CorpusFile:
    """One locked wheel: its exact filename and the sha256 of its bytes."""

    filename: str
    sha256: str

    @property
    def project(self) -> NormalizedName:
        return parse_wheel_filename(self.filename)[0]

    @property
    def version(self) -> str:
        return str(parse_wheel_filename(self.filename)[1])

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version}"


@dataclass(frozen=True, slots=True)
class Corpus:
    """The wheels to install and the directory that holds them, each checked against its hash."""

    files: tuple[CorpusFile, ...]
    directory: Path

    def path(self, file: CorpusFile) -> Path:
        return self.directory / file.filename

    @property
    def total_bytes(self) -> int:
        return sum(self.path(file).stat().st_size for file in self.files)

    def requirements(self) -> str:
        """A requirements file pinning every project of the corpus to its locked version."""
        return "".join(f"{file.requirement}\n" for file in self.files)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_lock(text: str) -> tuple[CorpusFile, ...]:
    """The wheels of a lock file; comments and blank lines are skipped."""
    files = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        filename, _, digest = line.partition(" sha256=")
        if not digest or not filename.endswith(".whl") or len(digest.strip()) != 64:
            raise CorpusError(f"line {number} of the lock file is not '<wheel> sha256=<hex>'")
        files.append(CorpusFile(filename.strip(), digest.strip().lower()))
    return tuple(files)


def render_lock(files: Iterable[CorpusFile]) -> str:
    """The lock file text of ``files``, sorted by filename (the inverse of :func:`parse_lock`)."""
    ordered = sorted(files, key=lambda file: file.filename)
    return LOCK_HEADER + "".join(f"{file.filename} sha256={file.sha256}\n" for file in ordered)


def pip_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without pip's settings, and pip told to read no configuration file."""
    cleaned = {key: value for key, value in environ.items() if not key.startswith("PIP_")}
    cleaned.update({"PIP_CONFIG_FILE": "/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return cleaned


def pip_command() -> list[str]:
    """pip of the interpreter this virtual environment was made from (uv venvs have none)."""
    base = Path(sys.base_prefix) / "bin"
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3"):
        if (base / name).exists():
            return [str(base / name), "-m", "pip"]
    return [sys.executable, "-m", "pip"]


def _pip_download(args: Sequence[str], destination: Path, environ: Mapping[str, str]) -> None:
    argv = [
        *pip_command(),
        "download",
        "--index-url",
        PYPI_SIMPLE_ENDPOINT,
        *PIP_TARGET,
        "--dest",
        str(destination),
        *args,
    ]
    completed = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=pip_environ(environ),
        timeout=PIP_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0:
        raise CorpusError(
            f"pip download failed (exit {completed.returncode}):\n"
            f"{completed.stdout[-4000:]}{completed.stderr[-4000:]}"
        )


def lock_corpus(
    requirements: Sequence[str], lock_path: Path, cache_dir: Path, environ: Mapping[str, str]
) -> tuple[CorpusFile, ...]:
    """Resolve ``requirements`` with pip into the cache and write the lock file (network)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stilton-bench-lock-") as scratch:
        _pip_download(requirements, Path(scratch), environ)
        files = []
        for path in sorted(Path(scratch).glob("*.whl")):
            files.append(CorpusFile(path.name, file_sha256(path)))
            shutil.move(path, cache_dir / path.name)
    lock_path.write_text(render_lock(files))
    return tuple(files)


def _fetch_missing(
    files: Sequence[CorpusFile], cache_dir: Path, environ: Mapping[str, str]
) -> None:
    """Download the exact wheels in ``files`` into the cache: pip picks them by their hash."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stilton-bench-fetch-") as scratch:
        pinned = Path(scratch) / "pinned.txt"
        pinned.write_text(
            "".join(f"{file.requirement} --hash=sha256:{file.sha256}\n" for file in files)
        )
        downloads = Path(scratch) / "downloads"
        _pip_download(["--no-deps", "--require-hashes", "-r", str(pinned)], downloads, environ)
        for file in files:
            fetched = downloads / file.filename
            if not fetched.exists():
                raise CorpusError(f"pip did not download {file.filename}")
            shutil.move(fetched, cache_dir / file.filename)


def load_corpus(lock_path: Path, cache_dir: Path, environ: Mapping[str, str]) -> tuple[Corpus, int]:
    """The locked corpus in the cache, fetching what is missing; also how many were fetched."""
    files = parse_lock(lock_path.read_text())
    if not files:
        raise CorpusError(f"{lock_path} lists no wheels; run `python -m bench lock`")
    missing = [file for file in files if not (cache_dir / file.filename).exists()]
    if missing:
        _fetch_missing(missing, cache_dir, environ)
    for file in files:
        actual = file_sha256(cache_dir / file.filename)
        if actual != file.sha256:
            raise CorpusError(
                f"{file.filename} in {cache_dir} has sha256 {actual}, the lock says {file.sha256}"
            )
    return Corpus(files, cache_dir), len(missing)


def smoke_corpus(directory: Path) -> Corpus:
    """Three tiny wheels built locally (a chain of dependencies), for a run with no network."""
    dists = (
        Dist("stilton-bench-app", "1.0", requires_dist=("stilton-bench-lib>=1",)),
        Dist("stilton-bench-lib", "1.0", requires_dist=("stilton-bench-util",)),
        Dist("stilton-bench-util", "1.0", requires_python=">=3.8"),
    )
    paths = [write_wheel(dist, directory) for dist in dists]
    return Corpus(tuple(CorpusFile(p.name, file_sha256(p)) for p in paths), directory)
