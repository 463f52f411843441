"""The installers other than uv, each timed against one index: ``pip install`` of the corpus into
a fresh venv (pip of the base interpreter, ``--python``, no cache, no configuration) and
``poetry lock`` of a project of about twenty dependencies with the index as its only source.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.corpus import pip_command, pip_environ
from bench.measure import MeasureError, Uv, make_venv, run_tool

POETRY = "poetry==2.5.1"
# The lock project's dependencies: every one, and all it needs on any platform, is in the
# large corpus (corpus-large.txt holds colorama and tzdata for Windows markers).
POETRY_DEPENDENCIES = (
    "fastapi",
    "uvicorn",
    "pydantic",
    "pydantic-settings",
    "sqlalchemy",
    "alembic",
    "httpx",
    "requests",
    "jinja2",
    "click",
    "rich",
    "typer",
    "pyyaml",
    "orjson",
    "structlog",
    "tenacity",
    "pyjwt",
    "python-multipart",
    "numpy",
    "pandas",
)


def pip_install_argv(python: Path, requirements: Path, index_url: str) -> list[str]:
    """``pip install --no-cache-dir`` of ``requirements`` from ``index_url`` into the venv of
    ``python`` (pip of the base interpreter, ``--python``)."""
    return [
        *pip_command(),
        "--python",
        str(python),
        "install",
        "--no-cache-dir",
        "--no-input",
        "--index-url",
        index_url,
        "-r",
        str(requirements),
    ]


def timed_pip_install(
    uv: Uv,
    venv: Path,
    requirements: Path,
    index_url: str,
    environ: Mapping[str, str],
    expected_packages: int,
    timeout: float,
) -> float:
    """Seconds of ``pip install --no-cache-dir -r requirements`` into a fresh ``venv``."""
    if venv.exists():
        shutil.rmtree(venv)
    python = make_venv(uv, venv, environ)
    argv = pip_install_argv(python, requirements, index_url)
    started = time.perf_counter()
    output = run_tool(argv, pip_environ(environ), requirements.parent, timeout)
    elapsed = time.perf_counter() - started
    found = re.search(r"^Successfully installed (.+)$", output, re.MULTILINE)
    if found is None or len(found.group(1).split()) != expected_packages:
        raise MeasureError(f"pip did not install {expected_packages} packages:\n{output[-3000:]}")
    return elapsed


def render_poetry_project(index_url: str, dependencies: Sequence[str]) -> str:
    """A non-package poetry project whose one source, primary, is ``index_url``."""
    listed = "".join(f'    "{name}",\n' for name in dependencies)
    return (
        "[project]\n"
        'name = "stilton-bench-lock"\n'
        'version = "0"\n'
        'requires-python = ">=3.11,<3.12"\n'
        f"dependencies = [\n{listed}]\n\n"
        "[tool.poetry]\n"
        "package-mode = false\n\n"
        "[[tool.poetry.source]]\n"
        'name = "bench"\n'
        f'url = "{index_url}"\n'
        'priority = "primary"\n'
    )


def poetry_argv(uv: Uv, *args: str, offline: bool = True) -> list[str]:
    """``uv tool run --from poetry==2.5.1 poetry ARGS`` (offline once poetry is installed)."""
    return [uv.path, "tool", "run", *(["--offline"] if offline else []), "--from", POETRY, *args]


def prepare_poetry(uv: Uv, environ: Mapping[str, str], workdir: Path) -> str:
    """Install the pinned poetry into uv's tool cache (network the first time); its version."""
    workdir.mkdir(parents=True, exist_ok=True)
    return run_tool(poetry_argv(uv, "poetry", "--version", offline=False), environ, workdir, 300)


def timed_poetry_lock(
    uv: Uv, project: Path, index_url: str, environ: Mapping[str, str], timeout: float
) -> float:
    """Seconds of ``poetry lock`` of the bench project against ``index_url``, with a fresh
    poetry cache so nothing is reused from another server's run."""
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(render_poetry_project(index_url, POETRY_DEPENDENCIES))
    poetry_environ = {
        **environ,
        "POETRY_CACHE_DIR": str(project / "cache"),
        "POETRY_CONFIG_DIR": str(project / "config"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    started = time.perf_counter()
    run_tool(
        poetry_argv(uv, "poetry", "lock", "--no-interaction"), poetry_environ, project, timeout
    )
    elapsed = time.perf_counter() - started
    if not (project / "poetry.lock").exists():
        raise MeasureError("poetry lock wrote no poetry.lock")
    return elapsed
