"""Run the real packaging clients -- uploaders and installers, at pinned versions -- against a
server, each in a scrubbed environment with a private HOME, no stdin and a timeout.

A failure raises :class:`ClientError`, which keeps the command and everything it printed.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
from packaging.utils import canonicalize_name
from pypi_simple import ACCEPT_JSON_PREFERRED, ProjectPage

from tests.support.dists import Dist, write_sdist, write_wheel

DEFAULT_TIMEOUT = 300.0
TOKEN_USERNAME = "__token__"
PIP_VERSION = "26.3"

# Configuration that would let the machine's or the user's settings leak into a client.
SCRUBBED_PREFIXES = (
    "PIP_",
    "UV_",
    "POETRY_",
    "PDM_",
    "PIPENV_",
    "HATCH_",
    "FLIT_",
    "TWINE_",
    "STILTON_",
    "CONDA_",
    "XDG_",
)
SCRUBBED_NAMES = frozenset(
    {
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONUSERBASE",
        "PYTHONSAFEPATH",
        "NETRC",
        "PYTHON_KEYRING_BACKEND",
        "PYENV_VERSION",
    }
)


@dataclass(frozen=True, slots=True)
class PinnedTool:
    """A command-line tool run with ``uv tool run --from REQUIREMENT COMMAND``."""

    command: str
    requirement: str
    # Requirement overrides for the tool's own environment (``--overrides``).
    overrides: tuple[str, ...] = ()


TWINE = PinnedTool("twine", "twine==7.0.0")
UV = PinnedTool("uv", "uv==0.13.9")
POETRY = PinnedTool("poetry", "poetry==2.5.1")
# pdm 2.29.4 asks for certifi>=2026.10.19, which the registry does not have yet; its "locked"
# extra pins the rest (an unpinned hishel breaks its HTTP cache), so only certifi is overridden.
PDM = PinnedTool("pdm", "pdm[locked]==2.29.4", overrides=("certifi>=2026.4.22",))
HATCH = PinnedTool("hatch", "hatch==1.18.2")
FLIT = PinnedTool("flit", "flit==4.2.0")
PIPENV = PinnedTool("pipenv", "pipenv==2026.10.3")


class ClientError(AssertionError):
    """A client command failed or timed out; the message carries its whole output."""

    def __init__(
        self, argv: Sequence[str], returncode: int | None, stdout: str, stderr: str
    ) -> None:
        super().__init__(" ".join(argv))
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __str__(self) -> str:
        status = "timed out" if self.returncode is None else f"exited {self.returncode}"
        return (
            f"{' '.join(self.argv)} {status}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


@dataclass(frozen=True, slots=True)
class Completed:
    """A finished client command."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@functools.cache
def uv_binary() -> str:
    """The uv executable: the one ``uv run`` announces in ``$UV``, else the first on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        raise RuntimeError("uv is needed to run the pinned clients but is not on PATH")
    return found


@functools.cache
def shared_uv_cache() -> str:
    """The machine's real uv cache, so ``uv tool run`` downloads each pinned tool once."""
    completed = subprocess.run(
        [uv_binary(), "cache", "dir"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return completed.stdout.strip()


def base_python() -> Path:
    """The interpreter behind the test venv; new environments are made from it."""
    base = Path(sys.base_prefix) / "bin"
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3"):
        if (base / name).exists():
            return base / name
    return Path(sys.executable)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _clean_path(path: str) -> str:
    """PATH with the interpreter's own bin first and no virtual environment's bin."""
    prefixes = [sys.prefix, os.environ.get("VIRTUAL_ENV") or sys.prefix]
    venvs = {str(Path(prefix) / "bin") for prefix in prefixes}
    venvs.discard(str(Path(sys.base_prefix) / "bin"))
    kept = [entry for entry in path.split(os.pathsep) if entry and entry not in venvs]
    return os.pathsep.join([str(base_python().parent), *kept])


class Workspace:
    """A per-test directory holding a fake HOME and whatever the clients build or install.

    Credentials go to clients through the environment, never argv, so that no failure message
    (which shows argv and output) carries a token.
    """

    def __init__(self, root: Path, base_environ: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.home = root / "home"
        for directory in ("config", "cache", "data", "state", "config-dirs", "data-dirs"):
            (self.home / directory).mkdir(parents=True, exist_ok=True)
        self._base = dict(os.environ if base_environ is None else base_environ)

    def directory(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The base environment, scrubbed of client configuration, plus ``extra``."""
        environ = {
            key: value
            for key, value in self._base.items()
            if key not in SCRUBBED_NAMES and not key.startswith(SCRUBBED_PREFIXES)
        }
        environ.update(
            {
                "PATH": _clean_path(self._base.get("PATH", os.defpath)),
                "HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.home / "config"),
                "XDG_CACHE_HOME": str(self.home / "cache"),
                "XDG_DATA_HOME": str(self.home / "data"),
                "XDG_STATE_HOME": str(self.home / "state"),
                "XDG_CONFIG_DIRS": str(self.home / "config-dirs"),
                "XDG_DATA_DIRS": str(self.home / "data-dirs"),
                # pip loads no configuration file at all when this is os.devnull.
                "PIP_CONFIG_FILE": os.devnull,
                "PIP_NO_INPUT": "1",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "UV_CACHE_DIR": shared_uv_cache(),
                "UV_NO_CONFIG": "1",
                "UV_PYTHON_DOWNLOADS": "never",
                "UV_NO_PROGRESS": "1",
                "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
                "CI": "true",
                "NO_COLOR": "1",
                "TERM": "dumb",
                # Wide enough that rich never wraps a server message across lines.
                "COLUMNS": "300",
            }
        )
        environ.update(extra or {})
        return environ

    def run(
        self,
        argv: Sequence[str | Path],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
    ) -> Completed:
        """Run ``argv`` in the scrubbed environment; raise :class:`ClientError` on failure."""
        command = tuple(str(arg) for arg in argv)
        # A session of its own lets a timeout end the tool and everything it spawned.
        process = subprocess.Popen(
            command,
            cwd=cwd or self.root,
            env=self.environ(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            raise ClientError(command, None, stdout, stderr) from None
        if check and process.returncode != 0:
            raise ClientError(command, process.returncode, stdout, stderr)
        return Completed(command, process.returncode, stdout, stderr)

    def tool(
        self,
        tool: PinnedTool,
        *args: str | Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
    ) -> Completed:
        """Run a pinned tool through ``uv tool run`` (``uvx``) on the base interpreter."""
        argv: list[str | Path] = [uv_binary(), "tool", "run", "--python", base_python()]
        if tool.overrides:
            overrides = self.root / f"{tool.command}-overrides.txt"
            overrides.write_text("\n".join(tool.overrides) + "\n")
            argv += ["--overrides", overrides]
        argv += ["--from", tool.requirement, tool.command, *args]
        return self.run(argv, cwd=cwd, env=env, timeout=timeout, check=check)

    def imported_version(self, python: Path, module: str) -> str:
        """``module.__version__`` as the environment of ``python`` imports it (isolated mode)."""
        code = (
            f"import {module}, sys; "
            f"assert {module}.__file__.startswith(sys.prefix), {module}.__file__; "
            f"print({module}.__version__)"
        )
        completed = self.run([python, "-I", "-c", code], cwd=self.directory("neutral"))
        return completed.stdout.strip()


@dataclass(frozen=True, slots=True)
class Upload:
    """Where and how to upload: the legacy upload URL and an upload token."""

    url: str
    token: str = field(repr=False)


def write_dists(dist: Dist, directory: Path) -> list[Path]:
    """A wheel and an sdist of ``dist`` in ``directory``."""
    return [write_wheel(dist, directory), write_sdist(dist, directory)]


def fetch_project_page(index_url: str, project: str) -> ProjectPage:
    """The simple-API page of ``project`` (PEP 691 JSON preferred, PEP 503 HTML accepted)."""
    url = f"{index_url.rstrip('/')}/{canonicalize_name(project)}/"
    with httpx.Client(trust_env=False, timeout=30.0, follow_redirects=True) as client:
        response = client.get(url, headers={"Accept": ACCEPT_JSON_PREFERRED})
    response.raise_for_status()
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("application/vnd.pypi.simple.v1+json"):
        return ProjectPage.from_json_data(response.json(), base_url=str(response.url))
    return ProjectPage.from_html(project, response.content, base_url=str(response.url))


def page_sha256s(page: ProjectPage) -> dict[str, str]:
    """Filename to sha256 for every file on a project page."""
    return {package.filename: package.digests.get("sha256", "") for package in page.packages}


# --- uploaders ---------------------------------------------------------------------------------


class Publisher(Protocol):
    """An upload client: publishes ``dist`` to ``upload`` and returns the files it uploaded."""

    @property
    def name(self) -> str: ...

    def publish(self, workspace: Workspace, dist: Dist, upload: Upload) -> list[Path]: ...


@dataclass(frozen=True, slots=True)
class Twine:
    name: str = "twine"

    def upload(
        self, workspace: Workspace, files: Sequence[Path], upload: Upload, *flags: str
    ) -> Completed:
        """``twine upload`` of prepared files; returns even when it fails."""
        return workspace.tool(
            TWINE,
            "upload",
            "--repository-url",
            upload.url,
            "--non-interactive",
            "--disable-progress-bar",
            "--verbose",
            *flags,
            *files,
            env={"TWINE_USERNAME": TOKEN_USERNAME, "TWINE_PASSWORD": upload.token},
            check=False,
        )

    def publish(self, workspace: Workspace, dist: Dist, upload: Upload) -> list[Path]:
        files = write_dists(dist, workspace.directory("dist"))
        completed = self.upload(workspace, files, upload)
        if completed.returncode != 0:
            raise ClientError(
                completed.argv, completed.returncode, completed.stdout, completed.stderr
            )
        return files


@dataclass(frozen=True, slots=True)
class UvPublish:
    name: str = "uv"

    def publish(self, workspace: Workspace, dist: Dist, upload: Upload) -> list[Path]:
        files = write_dists(dist, workspace.directory("dist"))
        workspace.tool(
            UV,
            "publish",
            "--publish-url",
            upload.url,
            "--trusted-publishing",
            "never",
            *files,
            env={"UV_PUBLISH_TOKEN": upload.token},
        )
        return files


@dataclass(frozen=True, slots=True)
class HatchPublish:
    name: str = "hatch"

    def publish(self, workspace: Workspace, dist: Dist, upload: Upload) -> list[Path]:
        files = write_dists(dist, workspace.directory("dist"))
        workspace.tool(
            HATCH,
            "publish",
            "--repo",
            upload.url,
            "--no-prompt",
            *files,
            cwd=workspace.directory("hatch-cwd"),
            env={"HATCH_INDEX_USER": TOKEN_USERNAME, "HATCH_INDEX_AUTH": upload.token},
        )
        return files


def _module_with_docstring(dist: Dist) -> str:
    return f'"""{dist.summary}"""\n\n' + dist.module_source().decode()


def write_project(dist: Dist, directory: Path, build_system: str, tool_table: str = "") -> Path:
    """A source tree for ``dist`` (flat layout) built by ``build_system``."""
    directory.mkdir(parents=True, exist_ok=True)
    dependencies = ", ".join(f'"{requirement}"' for requirement in dist.requires_dist)
    (directory / "pyproject.toml").write_text(
        f"{build_system}\n"
        "[project]\n"
        f'name = "{dist.name}"\n'
        f'version = "{dist.version}"\n'
        f'description = "{dist.summary}"\n'
        f'requires-python = "{dist.requires_python or ">=3.9"}"\n'
        f"dependencies = [{dependencies}]\n"
        f"{tool_table}"
    )
    package = directory / dist.module
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text(_module_with_docstring(dist))
    return directory


def built_files(project: Path) -> list[Path]:
    return sorted((project / "dist").iterdir())


@dataclass(frozen=True, slots=True)
class PoetryPublish:
    name: str = "poetry"

    def publish(
        self, workspace: Workspace, dist: Dist, upload: Upload, *, skip_existing: bool = False
    ) -> list[Path]:
        project = write_project(
            dist,
            workspace.directory("project"),
            '[build-system]\nrequires = ["poetry-core>=2.0"]\n'
            'build-backend = "poetry.core.masonry.api"\n',
        )
        env = {
            "POETRY_REPOSITORIES_STILTON_URL": upload.url,
            "POETRY_PYPI_TOKEN_STILTON": upload.token,
            "POETRY_VIRTUALENVS_CREATE": "false",
        }
        workspace.tool(POETRY, "build", "--no-interaction", cwd=project, env=env)
        flags = ["--skip-existing"] if skip_existing else []
        workspace.tool(
            POETRY,
            "publish",
            "--repository",
            "stilton",
            "--no-interaction",
            *flags,
            cwd=project,
            env=env,
        )
        return built_files(project)


@dataclass(frozen=True, slots=True)
class PdmPublish:
    name: str = "pdm"

    def publish(
        self, workspace: Workspace, dist: Dist, upload: Upload, *, skip_existing: bool = False
    ) -> list[Path]:
        project = write_project(
            dist,
            workspace.directory("project"),
            '[build-system]\nrequires = ["pdm-backend"]\nbuild-backend = "pdm.backend"\n',
            "\n[tool.pdm]\ndistribution = true\n",
        )
        workspace.tool(
            PDM,
            "publish",
            # -vv logs the server's response body, where the reason for a rejection is.
            "-vv",
            "--repository",
            upload.url,
            *(["--skip-existing"] if skip_existing else []),
            cwd=project,
            env={
                "PDM_CHECK_UPDATE": "false",
                "PDM_PUBLISH_USERNAME": TOKEN_USERNAME,
                "PDM_PUBLISH_PASSWORD": upload.token,
            },
        )
        return built_files(project)


@dataclass(frozen=True, slots=True)
class FlitPublish:
    name: str = "flit"

    def publish(self, workspace: Workspace, dist: Dist, upload: Upload) -> list[Path]:
        project = write_project(
            dist,
            workspace.directory("project"),
            '[build-system]\nrequires = ["flit_core>=3.11,<5"]\n'
            'build-backend = "flit_core.buildapi"\n',
        )
        workspace.tool(
            FLIT,
            "publish",
            cwd=project,
            env={
                "FLIT_INDEX_URL": upload.url,
                "FLIT_USERNAME": TOKEN_USERNAME,
                "FLIT_PASSWORD": upload.token,
            },
        )
        return built_files(project)


class SkippingPublisher(Publisher, Protocol):
    """An upload client whose ``--skip-existing`` works against any index, not only PyPI
    (twine 7 refuses the flag for other repository URLs)."""

    def publish(
        self, workspace: Workspace, dist: Dist, upload: Upload, *, skip_existing: bool = False
    ) -> list[Path]: ...


SKIPPING_PUBLISHERS: tuple[SkippingPublisher, ...] = (PoetryPublish(), PdmPublish())

PUBLISHERS: tuple[Publisher, ...] = (
    Twine(),
    UvPublish(),
    PoetryPublish(),
    PdmPublish(),
    HatchPublish(),
    FlitPublish(),
)


# --- installers --------------------------------------------------------------------------------


class Installer(Protocol):
    """An install client: installs ``requirement`` from ``index_url`` into a new environment and
    returns that environment's interpreter."""

    @property
    def name(self) -> str: ...

    def install(self, workspace: Workspace, index_url: str, requirement: str) -> Path: ...


@dataclass(frozen=True, slots=True)
class Pip:
    name: str = "pip"

    def install(self, workspace: Workspace, index_url: str, requirement: str) -> Path:
        venv = workspace.root / "venv"
        workspace.tool(UV, "venv", "--python", base_python(), venv)
        python = venv_python(venv)
        # pip itself comes from the public index (through the shared uv cache), then pip alone
        # talks to our server, with no cache of its own.
        workspace.tool(UV, "pip", "install", "--python", python, f"pip=={PIP_VERSION}")
        workspace.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--index-url",
                index_url,
                "--no-cache-dir",
                requirement,
            ]
        )
        return python


@dataclass(frozen=True, slots=True)
class UvPip:
    name: str = "uv"

    def install(self, workspace: Workspace, index_url: str, requirement: str) -> Path:
        venv = workspace.root / "venv"
        workspace.tool(UV, "venv", "--python", base_python(), venv)
        python = venv_python(venv)
        workspace.tool(
            UV,
            "pip",
            "install",
            "--python",
            python,
            "--index-url",
            index_url,
            "--no-cache",
            requirement,
        )
        return python


CONSUMER_PROJECT = (
    "[project]\n"
    'name = "e2e-consumer"\n'
    'version = "0.1.0"\n'
    f'requires-python = ">={sys.version_info.major}.{sys.version_info.minor}"\n'
    "dependencies = []\n"
)


@dataclass(frozen=True, slots=True)
class PoetryAdd:
    name: str = "poetry"

    def install(self, workspace: Workspace, index_url: str, requirement: str) -> Path:
        project = workspace.directory("consumer")
        # A primary source replaces the implicit public index, so every package comes from ours.
        (project / "pyproject.toml").write_text(
            CONSUMER_PROJECT + "\n[tool.poetry]\npackage-mode = false\n\n"
            "[[tool.poetry.source]]\n"
            'name = "stilton"\n'
            f'url = "{index_url}"\n'
            'priority = "primary"\n'
        )
        env = {"POETRY_VIRTUALENVS_IN_PROJECT": "true"}
        workspace.tool(
            POETRY, "env", "use", base_python(), "--no-interaction", cwd=project, env=env
        )
        workspace.tool(POETRY, "add", requirement, "--no-interaction", cwd=project, env=env)
        return venv_python(project / ".venv")


@dataclass(frozen=True, slots=True)
class PdmAdd:
    name: str = "pdm"

    def install(self, workspace: Workspace, index_url: str, requirement: str) -> Path:
        project = workspace.directory("consumer")
        # pdm: a source named "pypi" replaces the default index.
        (project / "pyproject.toml").write_text(
            CONSUMER_PROJECT + "\n[tool.pdm]\ndistribution = false\n\n"
            "[[tool.pdm.source]]\n"
            'name = "pypi"\n'
            f'url = "{index_url}"\n'
            "verify_ssl = true\n"
        )
        env = {"PDM_CHECK_UPDATE": "false"}
        workspace.tool(PDM, "use", "--first", base_python(), cwd=project, env=env)
        workspace.tool(PDM, "add", requirement, cwd=project, env=env)
        return venv_python(project / ".venv")


@dataclass(frozen=True, slots=True)
class PipenvInstall:
    name: str = "pipenv"

    def install(self, workspace: Workspace, index_url: str, requirement: str) -> Path:
        project = workspace.directory("consumer")
        (project / "Pipfile").write_text(
            f'[[source]]\nname = "stilton"\nurl = "{index_url}"\nverify_ssl = false\n\n[packages]\n'
        )
        env = {
            "PIPENV_VENV_IN_PROJECT": "1",
            "PIPENV_YES": "1",
            "PIPENV_NOSPIN": "1",
            "PIPENV_IGNORE_VIRTUALENVS": "1",
        }
        workspace.tool(
            PIPENV, "install", "--python", base_python(), requirement, cwd=project, env=env
        )
        return venv_python(project / ".venv")


INSTALLERS: tuple[Installer, ...] = (Pip(), UvPip(), PoetryAdd(), PdmAdd(), PipenvInstall())
