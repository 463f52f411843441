"""A private index driven by real clients: each installer gets in with a user's password or a read
token, handed over the way that tool takes credentials (URL, .netrc, per-index environment,
source configuration), and fails clearly without them; a user without permission is refused with
403, an anonymous reader is challenged with 401, and no password or token ever shows up in the
server's log or in a page it served.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pytest

from tests.support.clients import (
    CONSUMER_PROJECT,
    PDM,
    PIP_VERSION,
    PIPENV,
    POETRY,
    TWINE,
    UV,
    Completed,
    Workspace,
    base_python,
    venv_python,
    write_dists,
)
from tests.support.dists import Dist
from tests.support.server import (
    StiltonServer,
)

pytestmark = pytest.mark.e2e

PRIVATE = "priv"
MEMBERS = "members"  # made --private: any authenticated user reads it
UPLOADERS_GROUP = "devs"
PACKAGE = Dist("e2e-private-pkg", "1.0.0")
REALM_CHALLENGE = 'Basic realm="Stilton"'
PERMISSIONS_TIMEOUT = 15.0

# twine --verbose logs "Response from <url>:" then "<status> <reason>" for every upload.
TWINE_RESPONSE = re.compile(r"Response from \S+:\s+(\d{3})\b")


@dataclass(frozen=True, slots=True)
class Login:
    """A username and password as a client sends them (``__token__`` + token for tokens)."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class PrivateIndex:
    """The ``priv`` index of a running server, with who may and may not read it."""

    server: StiltonServer
    alice: Login  # in group "devs": reads and uploads
    bob: Login  # authenticated, in no group: may not read
    reader: Login  # ``__token__`` + a token limited to reading ``priv``
    # Every page body a test fetched, for the secrets check.
    bodies: list[str] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        return self.server.index_url(PRIVATE)

    @property
    def wrong(self) -> Login:
        return Login(self.alice.username, "not-" + self.alice.password)

    def secrets(self) -> dict[str, str]:
        return {
            "alice's password": self.alice.password,
            "bob's password": self.bob.password,
            "the wrong password": self.wrong.password,
            "the read token": self.reader.password,
        }

    def get(self, path: str, login: Login | None) -> httpx.Response:
        """GET ``path`` (relative to the server) as ``login``, keeping the body for later."""
        auth = httpx.BasicAuth(login.username, login.password) if login is not None else None
        with httpx.Client(trust_env=False, timeout=30.0, auth=auth) as client:
            response = client.get(self.server.url + path)
        self.bodies.append(response.text)
        return response


def run_stilton(server: StiltonServer, *args: str, stdin: str) -> None:
    """``stilton ARGS`` against the server's data, with ``stdin``."""
    server.cli(*args, stdin=stdin)


def add_user(server: StiltonServer, name: str, *groups: str) -> Login:
    password = f"{name}-pw-{secrets.token_hex(12)}"
    group_args = [arg for group in groups for arg in ("--group", group)]
    run_stilton(server, "user", "add", name, "--password-stdin", *group_args, stdin=password + "\n")
    return Login(name, password)


def wait_until_private(server: StiltonServer, index: str) -> None:
    """Permission changes reach a running server within about a second."""
    deadline = time.monotonic() + PERMISSIONS_TIMEOUT
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        while True:
            status = client.get(server.index_url(index)).status_code
            if status == 401:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{index} still answers {status} to anonymous readers")
            time.sleep(0.2)


def write_pypirc(workspace: Workspace, upload_url: str, login: Login) -> None:
    (workspace.home / ".pypirc").write_text(
        "[distutils]\nindex-servers =\n    stilton\n\n"
        "[stilton]\n"
        f"repository = {upload_url}\n"
        f"username = {login.username}\n"
        f"password = {login.password}\n"
    )


def twine_upload(workspace: Workspace, files: list[Path]) -> Completed:
    """``twine upload -r stilton``: URL and credentials come from the workspace's .pypirc."""
    return workspace.tool(
        TWINE,
        "upload",
        "--repository",
        "stilton",
        "--non-interactive",
        "--disable-progress-bar",
        "--verbose",
        *files,
        check=False,
    )


def twine_statuses(completed: Completed) -> list[int]:
    return [int(status) for status in TWINE_RESPONSE.findall(completed.output)]


@pytest.fixture(scope="module")
def stilton_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    """A server of this module's own (its brute-force guard and log are ours alone); named like
    the session server so a failing test's report carries its log."""
    server = StiltonServer(tmp_path_factory.mktemp("stilton-private"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def private_index(
    tmp_path_factory: pytest.TempPathFactory, stilton_server: StiltonServer
) -> PrivateIndex:
    """``priv``: read and upload by group ``devs``; alice (a dev) has uploaded
    ``e2e-private-pkg`` with twine and a .pypirc. ``members``: read by any authenticated user."""
    server = stilton_server
    server.create_index(PRIVATE)
    # "--private" lets every authenticated user read; priv is for the group alone.
    devs = f"group:{UPLOADERS_GROUP}"
    server.cli("index", "permissions", PRIVATE, "--read", devs, "--upload", devs)
    server.create_index(MEMBERS)
    server.cli("index", "permissions", MEMBERS, "--private")
    alice = add_user(server, "alice", UPLOADERS_GROUP)
    bob = add_user(server, "bob")
    completed = server.cli("token", "create", "--index", PRIVATE, "--action", "read")
    reader = Login("__token__", completed.stdout.strip().splitlines()[-1].strip())
    wait_until_private(server, PRIVATE)
    wait_until_private(server, MEMBERS)

    workspace = Workspace(tmp_path_factory.mktemp("alice-uploads"))
    write_pypirc(workspace, server.upload_url(PRIVATE), alice)
    uploaded = twine_upload(workspace, write_dists(PACKAGE, workspace.directory("dist")))
    assert uploaded.returncode == 0, uploaded.output
    return PrivateIndex(server, alice, bob, reader)


# --- installers, each given credentials the way it takes them ---------------------------------


def url_with_login(url: str, login: Login | None) -> str:
    if login is None:
        return url
    parts = urlsplit(url)
    userinfo = f"{quote(login.username, safe='')}:{quote(login.password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def pip_venv(workspace: Workspace) -> Path:
    """A venv with the pinned pip in it, made once per workspace."""
    venv = workspace.root / "venv"
    python = venv_python(venv)
    if not python.exists():
        workspace.tool(UV, "venv", "--python", base_python(), venv)
        workspace.tool(UV, "pip", "install", "--python", python, f"pip=={PIP_VERSION}")
    return python


def run_pip(workspace: Workspace, index_url: str, env: dict[str, str]) -> Completed:
    # The index URL goes through the environment, so no failure message shows a password.
    return workspace.run(
        [pip_venv(workspace), "-m", "pip", "install", "-vv", "--no-cache-dir", PACKAGE.name],
        env={"PIP_INDEX_URL": index_url, **env},
        check=False,
    )


class PrivateInstaller(Protocol):
    """Installs ``PACKAGE`` from a private index with ``login`` (or no credentials at all)."""

    @property
    def name(self) -> str: ...

    @property
    def refusal(self) -> str:
        """A regular expression the tool's output matches when the index refuses it."""
        ...

    def install(self, workspace: Workspace, index_url: str, login: Login | None) -> Completed: ...

    def python(self, workspace: Workspace) -> Path: ...


@dataclass(frozen=True, slots=True)
class PipUrlCredentials:
    """pip with ``http://user:password@host/...`` as its index URL."""

    name: str = "pip-url"
    refusal: str = r"401 Client Error: Unauthorized"

    def install(self, workspace: Workspace, index_url: str, login: Login | None) -> Completed:
        return run_pip(workspace, url_with_login(index_url, login), {})

    def python(self, workspace: Workspace) -> Path:
        return pip_venv(workspace)


@dataclass(frozen=True, slots=True)
class PipNetrc:
    """pip with a ``.netrc`` in HOME (pip reads it before the first request)."""

    name: str = "pip-netrc"
    refusal: str = r"401 Client Error: Unauthorized"

    def install(self, workspace: Workspace, index_url: str, login: Login | None) -> Completed:
        netrc = workspace.home / ".netrc"
        netrc.unlink(missing_ok=True)
        if login is not None:
            host = urlsplit(index_url).hostname
            netrc.write_text(f"machine {host}\nlogin {login.username}\npassword {login.password}\n")
            netrc.chmod(0o600)
        return run_pip(workspace, index_url, {"NETRC": str(netrc)})

    def python(self, workspace: Workspace) -> Path:
        return pip_venv(workspace)


@dataclass(frozen=True, slots=True)
class UvIndexCredentials:
    """``uv pip install --default-index stilton=URL`` with ``UV_INDEX_STILTON_USERNAME`` and
    ``UV_INDEX_STILTON_PASSWORD``."""

    name: str = "uv"
    refusal: str = r"401 Unauthorized"

    def install(self, workspace: Workspace, index_url: str, login: Login | None) -> Completed:
        python = self.python(workspace)
        if not python.exists():
            workspace.tool(UV, "venv", "--python", base_python(), python.parent.parent)
        env = (
            {
                "UV_INDEX_STILTON_USERNAME": login.username,
                "UV_INDEX_STILTON_PASSWORD": login.password,
            }
            if login is not None
            else {}
        )
        return workspace.tool(
            UV,
            "pip",
            "install",
            "--python",
            python,
            "--default-index",
            f"stilton={index_url}",
            "--no-cache",
            PACKAGE.name,
            env=env,
            check=False,
        )

    def python(self, workspace: Workspace) -> Path:
        return venv_python(workspace.root / "venv")


POETRY_ENV = {"POETRY_VIRTUALENVS_IN_PROJECT": "true"}


@dataclass(frozen=True, slots=True)
class PoetryHttpBasic:
    """poetry with a LegacyRepository source and ``POETRY_HTTP_BASIC_STILTON_*``."""

    name: str = "poetry"
    # Poetry treats 401/403 as "not found": it names no status, only the missing package.
    refusal: str = r"[Cc]ould not find a matching version of package e2e-private-pkg"

    def install(self, workspace: Workspace, index_url: str, login: Login | None) -> Completed:
        project = workspace.directory("consumer")
        if not (project / "pyproject.toml").exists():
            (project / "pyproject.toml").write_text(
                CONSUMER_PROJECT + "\n[tool.poetry]\npackage-mode = false\n\n"
                "[[tool.poetry.source]]\n"
                'name = "stilton"\n'
                f'url = "{index_url}"\n'
                'priority = "primary"\n'
            )
            workspace.tool(
                POETRY, "env", "use", base_python(), "--no-interaction", cwd=project, env=POETRY_ENV
            )
        env = dict(POETRY_ENV)
        if login is not None:
            env["POETRY_HTTP_BASIC_STILTON_USERNAME"] = login.username
            env["POETRY_HTTP_BASIC_STILTON_PASSWORD"] = login.password
        return workspace.tool(
            POETRY, "add", PACKAGE.name, "--no-interaction", cwd=project, env=env, check=False
        )

    def python(self, workspace: Workspace) -> Path:
        return venv_python(workspace.root / "consumer" / ".venv")


PDM_ENV = {"PDM_CHECK_UPDATE": "false"}


@dataclass(frozen=True, slots=True)
class PdmSourceCredentials:
    """pdm with its index as a ``[[tool.pdm.source]]`` named ``pypi`` and the credentials either
    in the source URL as ``${PDM_USER}:${PDM_PASS}`` (pdm expands variables in source URLs only,
    not in the source's ``username``/``password`` keys) or in ``PDM_PYPI_USERNAME/PASSWORD``
    (``pdm config pypi.username``/``pypi.password``, which fill in the ``pypi`` source)."""

    name: str
    in_url: bool
    refusal: str = r"Client Error\(401\): Unauthorized|credentials for \S+ are not provided"

    def install(self, workspace: Workspace, index_url: str, login: Login | None) -> Completed:
        project = workspace.directory("consumer")
        env = dict(PDM_ENV)
        url = index_url
        if login is not None and self.in_url:
            parts = urlsplit(index_url)
            url = urlunsplit(parts._replace(netloc=f"${{PDM_USER}}:${{PDM_PASS}}@{parts.netloc}"))
            env.update({"PDM_USER": login.username, "PDM_PASS": login.password})
        elif login is not None:
            env.update({"PDM_PYPI_USERNAME": login.username, "PDM_PYPI_PASSWORD": login.password})
        # A source named "pypi" replaces the default index.
        (project / "pyproject.toml").write_text(
            CONSUMER_PROJECT + "\n[tool.pdm]\ndistribution = false\n\n"
            "[[tool.pdm.source]]\n"
            'name = "pypi"\n'
            f'url = "{url}"\n'
            "verify_ssl = true\n"
        )
        if not self.python(workspace).exists():
            workspace.tool(PDM, "use", "--first", base_python(), cwd=project, env=PDM_ENV)
        # -v shows why the index gave no candidates (at normal verbosity pdm only says it
        # found none).
        return workspace.tool(PDM, "add", "-v", PACKAGE.name, cwd=project, env=env, check=False)

    def python(self, workspace: Workspace) -> Path:
        return venv_python(workspace.root / "consumer" / ".venv")


PIPENV_ENV = {
    "PIPENV_VENV_IN_PROJECT": "1",
    "PIPENV_YES": "1",
    "PIPENV_NOSPIN": "1",
    "PIPENV_IGNORE_VIRTUALENVS": "1",
}


@dataclass(frozen=True, slots=True)
class PipenvSourceVariables:
    """pipenv with ``url = "http://${PRIVATE_INDEX_USER}:${PRIVATE_INDEX_PASSWORD}@..."`` in the
    Pipfile. (Not ``${PIP_USER}``: pip would read that variable as its ``--user`` option.)"""

    name: str = "pipenv"
    # pipenv's locking hides the status even with --verbose; only the missing package shows.
    refusal: str = r"No matching distribution found for e2e-private-pkg"

    def install(self, workspace: Workspace, index_url: str, login: Login | None) -> Completed:
        project = workspace.directory("consumer")
        url = index_url
        env = dict(PIPENV_ENV)
        if login is not None:
            parts = urlsplit(index_url)
            userinfo = "${PRIVATE_INDEX_USER}:${PRIVATE_INDEX_PASSWORD}"
            url = urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))
            env.update(
                {"PRIVATE_INDEX_USER": login.username, "PRIVATE_INDEX_PASSWORD": login.password}
            )
        (project / "Pipfile").write_text(
            f'[[source]]\nname = "stilton"\nurl = "{url}"\nverify_ssl = false\n\n[packages]\n'
        )
        (project / "Pipfile.lock").unlink(missing_ok=True)
        return workspace.tool(
            PIPENV,
            "install",
            "--python",
            base_python(),
            PACKAGE.name,
            cwd=project,
            env=env,
            check=False,
        )

    def python(self, workspace: Workspace) -> Path:
        return venv_python(workspace.root / "consumer" / ".venv")


PRIVATE_INSTALLERS: tuple[PrivateInstaller, ...] = (
    PipUrlCredentials(),
    PipNetrc(),
    UvIndexCredentials(),
    PoetryHttpBasic(),
    PdmSourceCredentials("pdm-source-url", in_url=True),
    PdmSourceCredentials("pdm-config", in_url=False),
    PipenvSourceVariables(),
)


def assert_refused(installer: PrivateInstaller, completed: Completed) -> None:
    assert completed.returncode != 0, completed.output
    assert re.search(installer.refusal, completed.output), completed.output


def assert_installed(
    installer: PrivateInstaller, workspace: Workspace, completed: Completed
) -> None:
    assert completed.returncode == 0, completed.output
    python = installer.python(workspace)
    assert workspace.imported_version(python, PACKAGE.module) == PACKAGE.version


# --- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("installer", PRIVATE_INSTALLERS, ids=lambda installer: installer.name)
def test_installer_needs_a_users_credentials(
    installer: PrivateInstaller, workspace: Workspace, private_index: PrivateIndex
) -> None:
    # Failures first, then the success, which also clears the brute-force guard's count.
    anonymous = installer.install(workspace, private_index.url, None)
    wrong = installer.install(workspace, private_index.url, private_index.wrong)
    right = installer.install(workspace, private_index.url, private_index.alice)

    assert_refused(installer, anonymous)
    assert_refused(installer, wrong)
    assert_installed(installer, workspace, right)


@pytest.mark.parametrize(
    "installer",
    [PipUrlCredentials(), UvIndexCredentials()],
    ids=lambda installer: installer.name,
)
def test_installer_reads_with_a_read_token(
    installer: PrivateInstaller, workspace: Workspace, private_index: PrivateIndex
) -> None:
    completed = installer.install(workspace, private_index.url, private_index.reader)

    assert_installed(installer, workspace, completed)


def test_uv_reports_403_for_a_user_without_read_permission(
    workspace: Workspace, private_index: PrivateIndex
) -> None:
    completed = UvIndexCredentials().install(workspace, private_index.url, private_index.bob)

    assert completed.returncode != 0, completed.output
    assert "403 Forbidden" in completed.output, completed.output


def test_anonymous_reader_is_challenged(private_index: PrivateIndex) -> None:
    project = f"/{PRIVATE}/simple/{PACKAGE.name}/"
    for path in (f"/{PRIVATE}/simple/", project, f"/{PRIVATE}/pypi/{PACKAGE.name}/json"):
        response = private_index.get(path, None)

        assert response.status_code == 401, (path, response.text)
        assert response.headers.get("www-authenticate", "").startswith(REALM_CHALLENGE), path


def test_private_index_is_read_by_any_authenticated_user(private_index: PrivateIndex) -> None:
    anonymous = private_index.get(f"/{MEMBERS}/simple/", None)
    bob = private_index.get(f"/{MEMBERS}/simple/", private_index.bob)

    assert anonymous.status_code == 401, anonymous.text
    assert bob.status_code == 200, bob.text


def test_wrong_password_is_challenged_again(private_index: PrivateIndex) -> None:
    response = private_index.get(f"/{PRIVATE}/simple/", private_index.wrong)

    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate", "").startswith(REALM_CHALLENGE)


def test_user_without_read_permission_is_forbidden_with_a_reason(
    private_index: PrivateIndex,
) -> None:
    response = private_index.get(f"/{PRIVATE}/simple/{PACKAGE.name}/", private_index.bob)

    assert response.status_code == 403, response.text
    assert "bob" in response.text, response.text
    assert PRIVATE in response.text, response.text


@pytest.mark.parametrize("who", ["alice", "reader"])
def test_every_read_route_accepts_credentials(private_index: PrivateIndex, who: str) -> None:
    login = private_index.alice if who == "alice" else private_index.reader
    page = private_index.get(f"/{PRIVATE}/simple/{PACKAGE.name}/", login)
    assert page.status_code == 200, page.text
    urls = re.findall(r'href="([^"]+)"', page.text)
    wheel = next(url for url in urls if PACKAGE.wheel_filename in url).split("#")[0]
    wheel_path = urlsplit(wheel).path if wheel.startswith("http") else wheel

    listing = private_index.get(f"/{PRIVATE}/simple/", login)
    json_api = private_index.get(f"/{PRIVATE}/pypi/{PACKAGE.name}/json", login)
    with httpx.Client(
        trust_env=False, timeout=30.0, auth=httpx.BasicAuth(login.username, login.password)
    ) as client:
        file = client.get(httpx.URL(page.url).join(wheel_path))
        metadata = client.get(httpx.URL(page.url).join(wheel_path + ".metadata"))

    assert listing.status_code == 200, listing.text
    assert json_api.status_code == 200, json_api.text
    assert file.status_code == 200, file.text
    assert file.headers["content-type"] != "text/html"
    assert metadata.status_code == 200, metadata.text
    assert f"Name: {PACKAGE.name}" in metadata.text
    for response in (listing, json_api, metadata):
        private_index.bodies.append(response.text)


def test_file_download_needs_credentials(private_index: PrivateIndex) -> None:
    page = private_index.get(f"/{PRIVATE}/simple/{PACKAGE.name}/", private_index.alice)
    wheel = next(
        url for url in re.findall(r'href="([^"]+)"', page.text) if PACKAGE.wheel_filename in url
    ).split("#")[0]
    file_url = httpx.URL(page.url).join(wheel)
    assert file_url.host == "127.0.0.1", file_url  # files are served from the same origin

    response = private_index.get(file_url.raw_path.decode(), None)

    assert response.status_code == 401, response.text
    assert response.headers.get("www-authenticate", "").startswith(REALM_CHALLENGE)


def test_upload_by_a_user_outside_the_uploaders_is_refused(
    workspace: Workspace, private_index: PrivateIndex
) -> None:
    write_pypirc(workspace, private_index.server.upload_url(PRIVATE), private_index.bob)
    dist = Dist("e2e-private-bob-pkg", "1.0.0")

    completed = twine_upload(workspace, write_dists(dist, workspace.directory("dist")))

    assert completed.returncode != 0, completed.output
    assert twine_statuses(completed)[:1] == [403], completed.output
    assert "isn't allowed to upload" in completed.output, completed.output
    page = private_index.get(f"/{PRIVATE}/simple/{dist.name}/", private_index.alice)
    assert page.status_code == 404, page.text


def test_upload_with_a_wrong_password_is_refused_with_a_reason(
    workspace: Workspace, private_index: PrivateIndex
) -> None:
    write_pypirc(workspace, private_index.server.upload_url(PRIVATE), private_index.wrong)
    dist = Dist("e2e-private-wrong-pkg", "1.0.0")

    completed = twine_upload(workspace, write_dists(dist, workspace.directory("dist")))

    assert completed.returncode != 0, completed.output
    assert twine_statuses(completed)[:1] == [403], completed.output
    assert "Invalid or non-existent authentication information" in completed.output


def test_anonymous_upload_is_refused_with_a_reason(
    workspace: Workspace, private_index: PrivateIndex
) -> None:
    dist = Dist("e2e-private-anonymous-pkg", "1.0.0")
    wheel = write_dists(dist, workspace.directory("dist"))[0]
    form = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": dist.name,
        "version": dist.version,
        "metadata_version": "2.3",
        "filetype": "bdist_wheel",
        "pyversion": "py3",
    }
    files = {"content": (wheel.name, wheel.read_bytes(), "application/octet-stream")}
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        response = client.post(private_index.server.upload_url(PRIVATE), data=form, files=files)
    private_index.bodies.append(response.text)

    assert response.status_code == 403, response.text
    assert "authentication" in response.text, response.text


def test_read_token_cannot_upload(workspace: Workspace, private_index: PrivateIndex) -> None:
    write_pypirc(workspace, private_index.server.upload_url(PRIVATE), private_index.reader)
    dist = Dist("e2e-private-token-pkg", "1.0.0")

    completed = twine_upload(workspace, write_dists(dist, workspace.directory("dist")))

    assert completed.returncode != 0, completed.output
    assert twine_statuses(completed)[:1] == [403], completed.output


def test_passwords_and_tokens_never_appear_in_logs_or_pages(
    workspace: Workspace, private_index: PrivateIndex
) -> None:
    """Run at the end of a worker's share of this module: exercise every credential path once
    more (so this test stands alone under xdist), then search everything the server wrote."""
    for login in (None, private_index.wrong, private_index.bob, private_index.alice):
        private_index.get(f"/{PRIVATE}/simple/{PACKAGE.name}/", login)
    private_index.get(f"/{PRIVATE}/pypi/{PACKAGE.name}/json", private_index.reader)
    installed = PipUrlCredentials().install(workspace, private_index.url, private_index.alice)
    assert installed.returncode == 0, installed.output
    write_pypirc(workspace, private_index.server.upload_url(PRIVATE), private_index.bob)
    twine_upload(workspace, write_dists(Dist("e2e-private-leak-pkg", "1.0.0"), workspace.root))

    log = private_index.server.read_log()
    assert log, "the server wrote no log at all"
    for label, secret in private_index.secrets().items():
        assert secret not in log, f"{label} is in the server log"
        for body in private_index.bodies:
            assert secret not in body, f"{label} is in a page: {body[:300]}"
