"""Every supported uploader publishes to a real Stilton server and every supported installer
installs from it, each real tool at its pinned version in a clean environment; plus the
re-upload rules that uploaders' ``--skip-existing`` depends on.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests.support.clients import (
    INSTALLERS,
    PIP_VERSION,
    PUBLISHERS,
    SKIPPING_PUBLISHERS,
    UV,
    ClientError,
    Completed,
    Installer,
    Publisher,
    SkippingPublisher,
    Twine,
    Upload,
    UvPip,
    Workspace,
    base_python,
    fetch_project_page,
    page_sha256s,
    venv_python,
    write_dists,
)
from tests.support.dists import Dist
from tests.support.server import StiltonServer

pytestmark = pytest.mark.e2e

INSTALLABLE = "e2e-installable"
INSTALLABLE_RELEASES = ("1.0.0", "1.2.0")
LIB_RELEASES = ("0.9.0", "1.1.0", "2.0.0")
APP = Dist("e2e-app", "1.0.0", requires_dist=("e2e-lib>=1.0,<2",))

CHANGED_BODY = '__version__ = "changed"\n'

# twine --verbose logs "Response from <url>:" then "<status> <reason>" for every upload.
TWINE_RESPONSE = re.compile(r"Response from \S+:\s+(\d{3})\b")


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def twine_statuses(completed: Completed) -> list[int]:
    return [int(status) for status in TWINE_RESPONSE.findall(completed.output)]


def assert_listed(server: StiltonServer, project: str, files: list[Path]) -> None:
    """Each of ``files`` is on the project's page with its sha256, and downloads byte for byte."""
    page = fetch_project_page(server.index_url("local"), project)
    listed = page_sha256s(page)
    expected = {path.name: sha256_of(path) for path in files}
    assert {name: listed.get(name) for name in expected} == expected, listed
    urls = {package.filename: package.url for package in page.packages}
    with httpx.Client(trust_env=False, timeout=30.0, follow_redirects=True) as client:
        for path in files:
            response = client.get(urls[path.name])
            assert response.status_code == 200, (urls[path.name], response.status_code)
            assert response.content == path.read_bytes(), urls[path.name]


def publish_with_twine(workspace: Workspace, upload: Upload, dists: list[Dist]) -> None:
    twine = Twine()
    for dist in dists:
        twine.publish(workspace, dist, upload)


@pytest.fixture(scope="module")
def installable(
    tmp_path_factory: pytest.TempPathFactory, stilton_server: StiltonServer, upload: Upload
) -> str:
    """``e2e-installable`` in two releases, uploaded once for every installer test."""
    workspace = Workspace(tmp_path_factory.mktemp("installable"))
    publish_with_twine(
        workspace, upload, [Dist(INSTALLABLE, version) for version in INSTALLABLE_RELEASES]
    )
    return INSTALLABLE


@pytest.fixture(scope="module")
def dependency_tree(
    tmp_path_factory: pytest.TempPathFactory, stilton_server: StiltonServer, upload: Upload
) -> Dist:
    """``e2e-app`` and the ``e2e-lib`` releases it can and cannot use, uploaded once."""
    workspace = Workspace(tmp_path_factory.mktemp("dependency-tree"))
    publish_with_twine(
        workspace, upload, [*(Dist("e2e-lib", version) for version in LIB_RELEASES), APP]
    )
    return APP


@pytest.mark.parametrize("publisher", PUBLISHERS, ids=lambda publisher: publisher.name)
def test_publisher_uploads_wheel_and_sdist(
    publisher: Publisher, workspace: Workspace, stilton_server: StiltonServer, upload: Upload
) -> None:
    dist = Dist(f"e2e-{publisher.name}-pkg", "1.0.0")

    files = publisher.publish(workspace, dist, upload)

    assert sorted(path.suffix for path in files) == [".gz", ".whl"]
    assert_listed(stilton_server, dist.name, files)
    python = UvPip().install(workspace, stilton_server.index_url("local"), dist.name)
    assert workspace.imported_version(python, dist.module) == dist.version


@pytest.mark.parametrize("installer", INSTALLERS, ids=lambda installer: installer.name)
def test_installer_installs_latest_release(
    installer: Installer, workspace: Workspace, stilton_server: StiltonServer, installable: str
) -> None:
    python = installer.install(workspace, stilton_server.simple_url, installable)

    module = Dist(installable, INSTALLABLE_RELEASES[-1]).module
    assert workspace.imported_version(python, module) == INSTALLABLE_RELEASES[-1]


@pytest.mark.parametrize("installer", INSTALLERS, ids=lambda installer: installer.name)
def test_installer_resolves_dependencies_from_the_index(
    installer: Installer, workspace: Workspace, stilton_server: StiltonServer, dependency_tree: Dist
) -> None:
    python = installer.install(workspace, stilton_server.index_url("local"), dependency_tree.name)

    assert workspace.imported_version(python, dependency_tree.module) == dependency_tree.version
    assert workspace.imported_version(python, "e2e_lib") == "1.1.0"


def test_identical_reupload_is_accepted(
    workspace: Workspace, stilton_server: StiltonServer, upload: Upload
) -> None:
    files = write_dists(Dist("e2e-reupload-pkg", "1.0.0"), workspace.directory("dist"))
    twine = Twine()
    first = twine.upload(workspace, files, upload)
    assert first.returncode == 0, first.output

    again = twine.upload(workspace, files, upload)

    assert again.returncode == 0, again.output
    assert twine_statuses(again) == [200, 200], again.output
    assert_listed(stilton_server, "e2e-reupload-pkg", files)


def test_twine_different_file_under_existing_name_is_rejected(
    workspace: Workspace, stilton_server: StiltonServer, upload: Upload
) -> None:
    original = Dist("e2e-conflict-pkg", "1.0.0")
    changed = replace(original, module_body=CHANGED_BODY)
    files = write_dists(original, workspace.directory("original"))
    changed_files = write_dists(changed, workspace.directory("changed"))
    assert [path.name for path in files] == [path.name for path in changed_files]
    twine = Twine()
    first = twine.upload(workspace, files, upload)
    assert first.returncode == 0, first.output

    rejected = twine.upload(workspace, changed_files, upload)

    assert rejected.returncode != 0, rejected.output
    assert "File already exists" in rejected.output, rejected.output
    assert twine_statuses(rejected)[:1] == [400], rejected.output
    assert_listed(stilton_server, original.name, files)


@pytest.mark.parametrize("publisher", SKIPPING_PUBLISHERS, ids=lambda publisher: publisher.name)
def test_skip_existing_skips_a_different_file_under_an_existing_name(
    publisher: SkippingPublisher,
    workspace: Workspace,
    stilton_server: StiltonServer,
    upload: Upload,
) -> None:
    original = Dist(f"e2e-skip-{publisher.name}-pkg", "1.0.0")
    changed = replace(original, module_body=CHANGED_BODY)
    files = publisher.publish(Workspace(workspace.directory("original")), original, upload)

    publisher.publish(
        Workspace(workspace.directory("skipped")), changed, upload, skip_existing=True
    )
    with pytest.raises(ClientError, match="File already exists"):
        publisher.publish(Workspace(workspace.directory("rejected")), changed, upload)

    assert_listed(stilton_server, original.name, files)


def test_upload_to_legacy_alias(
    workspace: Workspace, stilton_server: StiltonServer, upload: Upload
) -> None:
    files = write_dists(Dist("e2e-legacy-alias-pkg", "1.0.0"), workspace.directory("dist"))

    completed = Twine().upload(workspace, files, Upload(upload.url + "legacy/", upload.token))

    assert completed.returncode == 0, completed.output
    assert_listed(stilton_server, "e2e-legacy-alias-pkg", files)


def test_upload_with_a_wrong_token_is_refused(
    workspace: Workspace, stilton_server: StiltonServer, upload: Upload
) -> None:
    files = write_dists(Dist("e2e-wrong-token-pkg", "1.0.0"), workspace.directory("dist"))

    completed = Twine().upload(workspace, files, Upload(upload.url, "not-a-stilton-token"))

    assert completed.returncode != 0, completed.output
    assert twine_statuses(completed)[:1] == [403], completed.output
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        page = client.get(stilton_server.index_url("local") + "e2e-wrong-token-pkg/")
    assert page.status_code == 404, page.text


def test_clients_ignore_the_machines_packaging_configuration(workspace: Workspace) -> None:
    """The installs above prove something only if no find-links, extra index or cache leaks in."""
    environ = workspace.environ()
    ours = {"PIP_CONFIG_FILE", "PIP_NO_INPUT", "PIP_DISABLE_PIP_VERSION_CHECK"}
    assert {key for key in environ if key.startswith("PIP_")} == ours
    assert "VIRTUAL_ENV" not in environ
    venv = workspace.root / "venv"
    workspace.tool(UV, "venv", "--python", base_python(), venv)
    workspace.tool(UV, "pip", "install", "--python", venv_python(venv), f"pip=={PIP_VERSION}")

    listed = workspace.run([venv_python(venv), "-m", "pip", "config", "list"]).stdout

    assert all(line.startswith(":env:.") for line in listed.splitlines()), listed
