"""Every "Use this index" snippet, copied from the rendered page of a private hosted index, is
run as it is shown against a real server with the real clients (pinned, through uvx): the
uploaders publish, the installers install what was published."""

from __future__ import annotations

import html
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.clients import (
    CONSUMER_PROJECT,
    FLIT,
    HATCH,
    PDM,
    PIP_VERSION,
    PIPENV,
    POETRY,
    TWINE,
    UV,
    PinnedTool,
    Workspace,
    base_python,
    uv_binary,
    venv_python,
    write_dists,
    write_project,
)
from tests.support.dists import Dist
from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth
from tests.ui.conftest import BROWSER

pytestmark = pytest.mark.e2e
INDEX = "team"
INSTALLED = Dist("snip-twine", "1.0")  # what twine publishes, and every installer installs
TOOLS: dict[str, PinnedTool] = {
    "poetry": POETRY, "pdm": PDM, "pipenv": PIPENV, "hatch": HATCH,
    "twine": TWINE, "flit": FLIT,
}  # fmt: skip


def _build(requires: str, backend: str) -> str:
    return f'[build-system]\nrequires = ["{requires}"]\nbuild-backend = "{backend}"\n'


BUILD = {
    "poetry": _build("poetry-core>=2.0", "poetry.core.masonry.api"),
    "hatch": _build("hatchling", "hatchling.build"),
    "flit": _build("flit_core>=3.11,<5", "flit_core.buildapi"),
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    server = StiltonServer(tmp_path_factory.mktemp("snippets"))
    server.start()
    try:
        server.create_index(INDEX)
        server.cli(
            "index", "permissions", INDEX, "--read", "authenticated", "--upload", "authenticated"
        )
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def token(live: StiltonServer) -> str:
    return live.create_token(INDEX)


@pytest.fixture(scope="module")
def snippets(live: StiltonServer, token: str) -> dict[str, str]:
    """The snippets as the index's page shows them (HTML entities undone, as a copy does)."""
    page = httpx.get(f"{live.url}/{INDEX}/", headers={**BROWSER, **basic_auth("__token__", token)})
    assert page.status_code == 200
    found = re.findall(r'<code data-snippet="([^"]+)">(.*?)</code>', page.text, re.S)
    return {name: html.unescape(text) for name, text in found}


def shims(workspace: Workspace) -> Path:
    """A bin directory where each client's name runs its pinned version."""
    bin_dir = workspace.directory("shims")
    # uv itself is the uv running the tests: a pinned uv fetched by `uv tool run` would be
    # looked up on the index a snippet's UV_DEFAULT_INDEX names.
    (bin_dir / "uv").write_text(f'#!/bin/sh\nexec {uv_binary()} "$@"\n')
    (bin_dir / "uv").chmod(0o755)
    for name, tool in TOOLS.items():
        script = bin_dir / name
        extra = ""
        if tool.overrides:
            overrides = workspace.root / f"{name}-overrides.txt"
            overrides.write_text("\n".join(tool.overrides) + "\n")
            extra = f" --overrides {overrides}"
        script.write_text(
            f"#!/bin/sh\nexec {uv_binary()} tool run --python {base_python()}{extra}"
            f' --from "{tool.requirement}" {tool.command} "$@"\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def run(workspace: Workspace, script: str, token: str, cwd: Path, **env: str) -> None:
    path = f"{shims(workspace)}:{workspace.environ()['PATH']}"
    environ = {"PATH": path, "STILTON_TOKEN": token, "UV_PYTHON": str(base_python())}
    environ.update(env)
    workspace.run(["bash", "-e", "-c", script], cwd=cwd, env=environ)


def a_venv(workspace: Workspace) -> Path:
    venv = workspace.root / "venv"
    workspace.tool(UV, "venv", "--python", base_python(), venv)
    workspace.tool(UV, "pip", "install", "--python", venv_python(venv), f"pip=={PIP_VERSION}")
    return venv


def imports(workspace: Workspace, python: Path) -> None:
    workspace.run([python, "-c", "import snip_twine"], cwd=workspace.directory("neutral"))


def package(text: str) -> str:
    return text.replace("PACKAGE", INSTALLED.name)


def with_token(text: str, token: str) -> str:
    return text.replace("PASTE-YOUR-TOKEN", token)


def dist_dir(workspace: Workspace, name: str) -> Path:
    project = workspace.directory(name)
    write_dists(Dist(name, "1.0"), project / "dist")
    return project


@pytest.fixture(scope="module")
def published(
    live: StiltonServer,
    token: str,
    snippets: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> set[str]:
    """Every publish snippet run once; the names the index then lists."""
    workspace = Workspace(tmp_path_factory.mktemp("publish"))
    (workspace.home / ".pypirc").write_text(with_token(snippets["twine-pypirc"], token))
    run(workspace, snippets["twine-command"], token, dist_dir(workspace, "snip-twine"))
    run(workspace, snippets["uv-publish"], token, dist_dir(workspace, "snip-uv"))
    for tool in ("poetry", "hatch", "flit"):
        dist = Dist(f"snip-{tool}", "1.0")
        project = write_project(dist, workspace.directory(dist.name), BUILD[tool])
        if tool == "hatch":
            write_dists(dist, project / "dist")
        env = {"POETRY_VIRTUALENVS_CREATE": "false"}
        run(workspace, snippets[f"{tool}-publish"], token, project, **env)
    headers = {"Accept": "application/vnd.pypi.simple.v1+json", **basic_auth("__token__", token)}
    listing = httpx.get(f"{live.url}/{INDEX}/simple/", headers=headers).json()
    return {p["name"] for p in listing["projects"]}


def test_publish_snippets(published: set[str]) -> None:
    assert {"snip-twine", "snip-uv", "snip-poetry", "snip-hatch", "snip-flit"} <= published


@pytest.mark.parametrize("snippet", ["pip-command", "pip-conf", "uv-command", "uv-env"])
def test_install_snippets_in_a_venv(
    published: set[str], token: str, snippets: dict[str, str], tmp_path: Path, snippet: str
) -> None:
    workspace = Workspace(tmp_path)
    venv = a_venv(workspace)
    # `uv pip` installs into the environment UV_PYTHON names.
    env = {"VIRTUAL_ENV": str(venv), "UV_PYTHON": str(venv_python(venv))}
    text = package(snippets[snippet])
    if snippet == "pip-conf":
        conf = workspace.root / "pip.conf"
        conf.write_text(with_token(text, token))
        env["PIP_CONFIG_FILE"] = str(conf)
        text = f"pip install --no-cache-dir {INSTALLED.name}"
    run(workspace, f'export PATH="{venv / "bin"}:$PATH"\n{text}', token, workspace.root, **env)
    imports(workspace, venv_python(venv))


@pytest.mark.parametrize("snippet", ["uv-pyproject", "uv-toml"])
def test_uv_project_snippets(
    published: set[str], token: str, snippets: dict[str, str], tmp_path: Path, snippet: str
) -> None:
    workspace = Workspace(tmp_path)
    project = workspace.directory("consumer")
    pyproject = CONSUMER_PROJECT + ("\n" + snippets[snippet] if snippet == "uv-pyproject" else "")
    (project / "pyproject.toml").write_text(pyproject)
    if snippet == "uv-toml":
        (project / "uv.toml").write_text(snippets[snippet])
    script = snippets.get("uv-credentials", "") + f"uv add --no-cache {INSTALLED.name}\n"
    run(workspace, script, token, project, UV_NO_CONFIG="false")
    imports(workspace, venv_python(project / ".venv"))


def test_poetry_snippet(
    published: set[str], token: str, snippets: dict[str, str], tmp_path: Path
) -> None:
    workspace = Workspace(tmp_path)
    project = workspace.directory("consumer")
    (project / "pyproject.toml").write_text(
        CONSUMER_PROJECT + "\n[tool.poetry]\npackage-mode = false\n"
    )
    env = {"POETRY_VIRTUALENVS_IN_PROJECT": "true"}
    run(
        workspace,
        f"poetry env use {base_python()}\n" + package(snippets["poetry-source"]),
        token,
        project,
        **env,
    )
    imports(workspace, venv_python(project / ".venv"))


def test_pdm_snippet(
    published: set[str], token: str, snippets: dict[str, str], tmp_path: Path
) -> None:
    workspace = Workspace(tmp_path)
    project = workspace.directory("consumer")
    (project / "pyproject.toml").write_text(
        CONSUMER_PROJECT + "\n[tool.pdm]\ndistribution = false\n\n" + snippets["pdm-source"]
    )
    script = f"pdm use --first {base_python()}\npdm add {INSTALLED.name}\n"
    run(workspace, script, token, project, PDM_CHECK_UPDATE="false")
    imports(workspace, venv_python(project / ".venv"))


def test_pipenv_snippet(
    published: set[str], token: str, snippets: dict[str, str], tmp_path: Path
) -> None:
    workspace = Workspace(tmp_path)
    project = workspace.directory("consumer")
    (project / "Pipfile").write_text(snippets["pipenv-source"] + "\n[packages]\n")
    env = {
        "PIPENV_VENV_IN_PROJECT": "1",
        "PIPENV_YES": "1",
        "PIPENV_NOSPIN": "1",
        "PIPENV_IGNORE_VIRTUALENVS": "1",
    }
    run(
        workspace,
        f"pipenv install --python {base_python()} {INSTALLED.name}",
        token,
        project,
        **env,
    )
    imports(workspace, venv_python(project / ".venv"))
