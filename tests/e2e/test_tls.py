"""Stilton over HTTPS with a certificate authority made by the test: twine uploads and pip, uv
and poetry install, each trusting the CA the way that tool is told to; then mutual TLS, where
clients present a certificate from the CA and a client without one is refused at the handshake;
and ``--tls-client-cert optional``, which the server refuses to start with.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from tests.support.clients import (
    CONSUMER_PROJECT,
    PIP_VERSION,
    POETRY,
    TOKEN_USERNAME,
    TWINE,
    UV,
    Workspace,
    base_python,
    venv_python,
    write_dists,
)
from tests.support.dists import Dist
from tests.support.server import (
    CLOSED_UPSTREAM,
    HOST,
    READY_PATH,
    ServerError,
    StiltonServer,
    find_free_port,
    server_environ,
    stilton_command,
)
from tests.support.tls import CertificateAuthority, KeyPair, client_context

pytestmark = pytest.mark.e2e

INDEX = "local"
PACKAGE = Dist("e2e-tls-pkg", "1.0.0")
MTLS_PACKAGE = Dist("e2e-mtls-pkg", "1.0.0")
READY_TIMEOUT = 30.0
# requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment override a session's own
# CA (``session.verify``), so a machine that sets them would make twine's and pip's ``--cert``
# silently ignored; empty values switch them off for the requests-based clients.
NO_ENVIRONMENT_BUNDLE = {"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": ""}
REFUSAL_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Pki:
    """The test's CA with a server certificate and a client certificate it issued, and a client
    certificate from an unrelated CA."""

    ca: Path
    server: KeyPair
    client: KeyPair
    stranger: KeyPair


class TlsServer:
    """``stilton serve --tls-cert ... --tls-key ...`` (and, for mutual TLS, ``--tls-client-ca``
    with ``--tls-client-cert required``) as a subprocess of its own session, stopped by its pid.

    CLI commands go through a :class:`StiltonServer` over the same data directory, which is
    never started: only its ``cli()`` side is used.
    """

    def __init__(self, root: Path, pki: Pki, *, mutual: bool) -> None:
        self.pki = pki
        self.mutual = mutual
        self.data = StiltonServer(root)
        self.port = find_free_port()
        self.log_path = root / "server-tls.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    def index_url(self, index: str = INDEX) -> str:
        return f"{self.url}/{index}/simple/"

    def upload_url(self, index: str = INDEX) -> str:
        return f"{self.url}/{index}/"

    def client(self, *, certificate: KeyPair | None = None) -> httpx.Client:
        """An httpx client that trusts only the test CA and presents ``certificate``, or the
        test's client certificate on a mutual-TLS server when none is given."""
        if certificate is None and self.mutual:
            certificate = self.pki.client
        return httpx.Client(
            trust_env=False, timeout=10.0, verify=client_context(self.pki.ca, certificate)
        )

    def argv(self, *extra: str) -> list[str]:
        argv = [
            *stilton_command(),
            "serve",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data.data_dir),
            "--tls-cert",
            str(self.pki.server.cert),
            "--tls-key",
            str(self.pki.server.key),
        ]
        if self.mutual:
            argv += ["--tls-client-ca", str(self.pki.ca), "--tls-client-cert", "required"]
        return [*argv, *extra]

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        self.data.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # A session of its own: the group holds only the server and its Granian workers.
            self._process = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=server_environ(os.environ, CLOSED_UPSTREAM),
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        with self.client() as client:
            while time.monotonic() < deadline:
                returncode = self._process.poll()
                if returncode is not None:
                    self._process = None
                    raise ServerError(
                        "stilton serve (TLS) exited", returncode=returncode, log=self.read_log()
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get(self.url + READY_PATH).status_code == 200:
                        return
                time.sleep(0.1)
        self.stop()
        raise ServerError(
            f"stilton serve was not ready at {self.url}", returncode=None, log=self.read_log()
        )

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        # The group id is the pid of the process we started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self._process = None


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ca = CertificateAuthority.create(tmp_path_factory.mktemp("pki"))
    stranger_ca = CertificateAuthority.create(
        tmp_path_factory.mktemp("stranger-pki"), name="Unrelated CA"
    )
    return Pki(
        ca.cert, ca.issue_server(), ca.issue_client("alice"), stranger_ca.issue_client("eve")
    )


def upload_with_twine(
    tmp_path_factory: pytest.TempPathFactory, server: TlsServer, dist: Dist
) -> None:
    """twine over HTTPS: ``--cert`` names the CA, ``--client-cert`` the combined key + cert."""
    workspace = Workspace(tmp_path_factory.mktemp(f"upload-{dist.name}"))
    flags = ["--cert", str(server.pki.ca)]
    if server.mutual:
        flags += ["--client-cert", str(server.pki.client.combined)]
    files = write_dists(dist, workspace.directory("dist"))
    token = server.data.create_token(INDEX)
    completed = workspace.tool(
        TWINE,
        "upload",
        "--repository-url",
        server.upload_url(),
        "--non-interactive",
        "--disable-progress-bar",
        *flags,
        *files,
        env={"TWINE_USERNAME": TOKEN_USERNAME, "TWINE_PASSWORD": token, **NO_ENVIRONMENT_BUNDLE},
        check=False,
    )
    assert completed.returncode == 0, completed.output


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[TlsServer]:
    """HTTPS with the test CA's server certificate; ``e2e-tls-pkg`` uploaded by twine."""
    server = TlsServer(tmp_path_factory.mktemp("stilton-https"), pki, mutual=False)
    server.start()
    try:
        upload_with_twine(tmp_path_factory, server, PACKAGE)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[TlsServer]:
    """Mutual TLS: client certificates from the test CA required; ``e2e-mtls-pkg`` uploaded."""
    server = TlsServer(tmp_path_factory.mktemp("stilton-mtls"), pki, mutual=True)
    server.start()
    try:
        upload_with_twine(tmp_path_factory, server, MTLS_PACKAGE)
        yield server
    finally:
        server.stop()


# --- installers, each trusting the CA (and presenting a client certificate) its own way -------


class TlsInstaller(Protocol):
    @property
    def name(self) -> str: ...

    def install(
        self, workspace: Workspace, server: TlsServer, dist: Dist, client: KeyPair | None
    ) -> Path:
        """Install ``dist`` from ``server`` and return the interpreter it went into."""
        ...


@dataclass(frozen=True, slots=True)
class PipCert:
    """``pip --cert CA`` (and ``--client-cert KEY+CERT``)."""

    name: str = "pip"

    def install(
        self, workspace: Workspace, server: TlsServer, dist: Dist, client: KeyPair | None
    ) -> Path:
        venv = workspace.root / "venv"
        workspace.tool(UV, "venv", "--python", base_python(), venv)
        python = venv_python(venv)
        workspace.tool(UV, "pip", "install", "--python", python, f"pip=={PIP_VERSION}")
        flags = ["--cert", str(server.pki.ca)]
        if client is not None:
            flags += ["--client-cert", str(client.combined)]
        workspace.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--index-url",
                server.index_url(),
                "--no-cache-dir",
                *flags,
                dist.name,
            ],
            env=NO_ENVIRONMENT_BUNDLE,
        )
        return python


@dataclass(frozen=True, slots=True)
class UvSslCertFile:
    """uv with ``SSL_CERT_FILE=CA`` (and ``SSL_CLIENT_CERT=KEY+CERT``)."""

    name: str = "uv"

    def install(
        self, workspace: Workspace, server: TlsServer, dist: Dist, client: KeyPair | None
    ) -> Path:
        venv = workspace.root / "venv"
        workspace.tool(UV, "venv", "--python", base_python(), venv)
        python = venv_python(venv)
        env = {"SSL_CERT_FILE": str(server.pki.ca)}
        if client is not None:
            env["SSL_CLIENT_CERT"] = str(client.combined)
        workspace.tool(
            UV,
            "pip",
            "install",
            "--python",
            python,
            "--default-index",
            server.index_url(),
            "--no-cache",
            dist.name,
            env=env,
        )
        return python


@dataclass(frozen=True, slots=True)
class PoetryCertificates:
    """poetry with ``certificates.stilton.cert`` (and ``.client-cert``) from the environment."""

    name: str = "poetry"

    def install(
        self, workspace: Workspace, server: TlsServer, dist: Dist, client: KeyPair | None
    ) -> Path:
        project = workspace.directory("consumer")
        (project / "pyproject.toml").write_text(
            CONSUMER_PROJECT + "\n[tool.poetry]\npackage-mode = false\n\n"
            "[[tool.poetry.source]]\n"
            'name = "stilton"\n'
            f'url = "{server.index_url()}"\n'
            'priority = "primary"\n'
        )
        env = {
            **NO_ENVIRONMENT_BUNDLE,
            "POETRY_VIRTUALENVS_IN_PROJECT": "true",
            "POETRY_CERTIFICATES_STILTON_CERT": str(server.pki.ca),
        }
        if client is not None:
            env["POETRY_CERTIFICATES_STILTON_CLIENT_CERT"] = str(client.combined)
        workspace.tool(
            POETRY, "env", "use", base_python(), "--no-interaction", cwd=project, env=env
        )
        workspace.tool(POETRY, "add", dist.name, "--no-interaction", cwd=project, env=env)
        return venv_python(project / ".venv")


TLS_INSTALLERS: tuple[TlsInstaller, ...] = (PipCert(), UvSslCertFile(), PoetryCertificates())


# --- HTTPS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("installer", TLS_INSTALLERS, ids=lambda installer: installer.name)
def test_installer_trusts_the_test_ca(
    installer: TlsInstaller, workspace: Workspace, https_server: TlsServer
) -> None:
    python = installer.install(workspace, https_server, PACKAGE, None)

    assert workspace.imported_version(python, PACKAGE.module) == PACKAGE.version


def test_twine_upload_over_https_is_listed(https_server: TlsServer) -> None:
    with https_server.client() as client:
        page = client.get(https_server.index_url() + f"{PACKAGE.name}/")

    assert page.status_code == 200, page.text
    assert PACKAGE.wheel_filename in page.text
    assert PACKAGE.sdist_filename in page.text


def test_uv_without_the_ca_is_refused(workspace: Workspace, https_server: TlsServer) -> None:
    venv = workspace.root / "venv"
    workspace.tool(UV, "venv", "--python", base_python(), venv)

    completed = workspace.tool(
        UV,
        "pip",
        "install",
        "--python",
        venv_python(venv),
        "--default-index",
        https_server.index_url(),
        "--no-cache",
        PACKAGE.name,
        check=False,
    )

    assert completed.returncode != 0, completed.output
    assert "certificate" in completed.output.lower(), completed.output


def test_plain_http_is_not_served(https_server: TlsServer) -> None:
    with (
        httpx.Client(trust_env=False, timeout=10.0) as client,
        pytest.raises(httpx.TransportError),
    ):
        client.get(f"http://{HOST}:{https_server.port}{READY_PATH}")


# --- mutual TLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("installer", TLS_INSTALLERS, ids=lambda installer: installer.name)
def test_installer_presents_a_client_certificate(
    installer: TlsInstaller, workspace: Workspace, mtls_server: TlsServer
) -> None:
    python = installer.install(workspace, mtls_server, MTLS_PACKAGE, mtls_server.pki.client)

    assert workspace.imported_version(python, MTLS_PACKAGE.module) == MTLS_PACKAGE.version


def test_client_certificate_opens_the_index(mtls_server: TlsServer) -> None:
    with mtls_server.client() as client:
        page = client.get(mtls_server.index_url() + f"{MTLS_PACKAGE.name}/")

    assert page.status_code == 200, page.text
    assert MTLS_PACKAGE.wheel_filename in page.text


def assert_handshake_refused(server: TlsServer, certificate: KeyPair | None) -> None:
    """The TLS handshake fails: with TLS 1.3 the client may only learn it on its first read,
    from the server's alert, so connect and read errors both count, but never a response."""
    context = client_context(server.pki.ca, certificate)
    with (
        httpx.Client(trust_env=False, timeout=10.0, verify=context) as client,
        pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)) as info,
    ):
        client.get(server.index_url())
    assert "certificate" in str(info.value).lower() or "alert" in str(info.value).lower(), str(
        info.value
    )


def test_client_without_a_certificate_is_refused_at_the_handshake(mtls_server: TlsServer) -> None:
    assert_handshake_refused(mtls_server, None)


def test_client_certificate_from_another_ca_is_refused(mtls_server: TlsServer) -> None:
    assert_handshake_refused(mtls_server, mtls_server.pki.stranger)


def test_optional_client_certificates_refuse_to_start(tmp_path: Path, pki: Pki) -> None:
    server = TlsServer(tmp_path, pki, mutual=False)
    argv = server.argv("--tls-client-ca", str(pki.ca), "--tls-client-cert", "optional")
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=server_environ(os.environ, CLOSED_UPSTREAM),
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=REFUSAL_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"stilton serve started with --tls-client-cert optional:\n{output}")

    assert process.returncode != 0, output
    message = " ".join(output.split())  # rich wraps long lines
    assert "Optional client certificates are not supported" in message, output
    assert "required" in message, output
