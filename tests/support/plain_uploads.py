"""Each real uploader run the way its users run it -- no verbose flag -- on files the test
prepared (flit, which always builds its own, on a source tree), returning what it printed
whether it succeeded or not. The refusal tests read that output as a user would.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tests.support.clients import (
    FLIT,
    HATCH,
    PDM,
    POETRY,
    TOKEN_USERNAME,
    TWINE,
    UV,
    Completed,
    Upload,
    Workspace,
    write_project,
)
from tests.support.dists import Dist

POETRY_BUILD_SYSTEM = (
    '[build-system]\nrequires = ["poetry-core>=2.0"]\nbuild-backend = "poetry.core.masonry.api"\n'
)
PDM_BUILD_SYSTEM = '[build-system]\nrequires = ["pdm-backend"]\nbuild-backend = "pdm.backend"\n'
FLIT_BUILD_SYSTEM = (
    '[build-system]\nrequires = ["flit_core>=3.11,<5"]\nbuild-backend = "flit_core.buildapi"\n'
)
# pdm names the file it logs to (the response body among the rest) when a command fails.
PDM_LOG = re.compile(r"See (\S+) for detailed debug log")


class PlainUploader(Protocol):
    """Uploads ``files`` (prepared wheels or sdists of ``dist``) to ``upload``."""

    @property
    def name(self) -> str: ...

    def upload(
        self, workspace: Workspace, dist: Dist, files: Sequence[Path], upload: Upload
    ) -> Completed: ...


def _project_with(workspace: Workspace, dist: Dist, files: Sequence[Path], build: str) -> Path:
    """A source tree of ``dist`` whose ``dist/`` holds ``files``, as if it had built them."""
    project = write_project(dist, workspace.directory("project"), build)
    built = project / "dist"
    built.mkdir(exist_ok=True)
    for path in files:
        shutil.copy(path, built / path.name)
    return project


@dataclass(frozen=True, slots=True)
class PlainTwine:
    name: str = "twine"

    def upload(
        self, workspace: Workspace, dist: Dist, files: Sequence[Path], upload: Upload
    ) -> Completed:
        return workspace.tool(
            TWINE,
            "upload",
            "--repository-url",
            upload.url,
            "--non-interactive",
            "--disable-progress-bar",
            *files,
            env={"TWINE_USERNAME": TOKEN_USERNAME, "TWINE_PASSWORD": upload.token},
            check=False,
        )


@dataclass(frozen=True, slots=True)
class PlainUv:
    name: str = "uv"

    def upload(
        self, workspace: Workspace, dist: Dist, files: Sequence[Path], upload: Upload
    ) -> Completed:
        return workspace.tool(
            UV,
            "publish",
            "--publish-url",
            upload.url,
            "--trusted-publishing",
            "never",
            *files,
            env={"UV_PUBLISH_TOKEN": upload.token},
            check=False,
        )


@dataclass(frozen=True, slots=True)
class PlainPoetry:
    name: str = "poetry"

    def upload(
        self, workspace: Workspace, dist: Dist, files: Sequence[Path], upload: Upload
    ) -> Completed:
        # Without --build, poetry publish uploads the project's dist/ files of its version.
        project = _project_with(workspace, dist, files, POETRY_BUILD_SYSTEM)
        return workspace.tool(
            POETRY,
            "publish",
            "--repository",
            "stilton",
            "--no-interaction",
            cwd=project,
            env={
                "POETRY_REPOSITORIES_STILTON_URL": upload.url,
                "POETRY_PYPI_TOKEN_STILTON": upload.token,
                "POETRY_VIRTUALENVS_CREATE": "false",
            },
            check=False,
        )


@dataclass(frozen=True, slots=True)
class PlainPdm:
    name: str = "pdm"

    def upload(
        self, workspace: Workspace, dist: Dist, files: Sequence[Path], upload: Upload
    ) -> Completed:
        project = _project_with(
            workspace, dist, files, PDM_BUILD_SYSTEM + "\n[tool.pdm]\ndistribution = true\n"
        )
        return workspace.tool(
            PDM,
            "publish",
            "--no-build",
            "--repository",
            upload.url,
            cwd=project,
            env={
                "PDM_CHECK_UPDATE": "false",
                "PDM_PUBLISH_USERNAME": TOKEN_USERNAME,
                "PDM_PUBLISH_PASSWORD": upload.token,
            },
            check=False,
        )


@dataclass(frozen=True, slots=True)
class PlainHatch:
    name: str = "hatch"

    def upload(
        self, workspace: Workspace, dist: Dist, files: Sequence[Path], upload: Upload
    ) -> Completed:
        return workspace.tool(
            HATCH,
            "publish",
            "--repo",
            upload.url,
            "--no-prompt",
            *files,
            cwd=workspace.directory("hatch-cwd"),
            env={"HATCH_INDEX_USER": TOKEN_USERNAME, "HATCH_INDEX_AUTH": upload.token},
            check=False,
        )


@dataclass(frozen=True, slots=True)
class PlainFlit:
    """flit publish always builds (and checks the metadata of) what it uploads: ``files`` are
    ignored, and the wheel it builds from ``dist`` is uploaded first."""

    name: str = "flit"

    def upload(
        self, workspace: Workspace, dist: Dist, files: Sequence[Path], upload: Upload
    ) -> Completed:
        project = write_project(dist, workspace.directory("project"), FLIT_BUILD_SYSTEM)
        return workspace.tool(
            FLIT,
            "publish",
            cwd=project,
            env={
                "FLIT_INDEX_URL": upload.url,
                "FLIT_USERNAME": TOKEN_USERNAME,
                "FLIT_PASSWORD": upload.token,
            },
            check=False,
        )


PLAIN_UPLOADERS: tuple[PlainUploader, ...] = (
    PlainTwine(),
    PlainUv(),
    PlainPoetry(),
    PlainPdm(),
    PlainHatch(),
    PlainFlit(),
)


def pdm_debug_log(completed: Completed) -> str:
    """The debug log a failed pdm command names in its output."""
    found = PDM_LOG.search(completed.output)
    assert found is not None, completed.output
    return Path(found.group(1)).read_text()
