"""The request log of a real server under a real pip install from a private index: every
request pip made has its line, with the user who made it, and neither the password pip sent
nor the token the packages were uploaded with appears anywhere in the server's output."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.support.clients import PIP_VERSION, UV, Workspace, base_python, venv_python
from tests.support.dists import Dist, wheel_bytes
from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth, upload_fields

pytestmark = pytest.mark.e2e

INDEX = "vault"
APP = Dist("e2e-logged-app", "1.0.0", requires_dist=("e2e-logged-lib>=1",))
LIB = Dist("e2e-logged-lib", "1.2.0")
# urllib3's debug line in pip's log: "GET /vault/simple/x/ HTTP/1.1" 200 1234
PIP_REQUEST = re.compile(r'"(GET|HEAD) (\S+) HTTP/1\.1" (\d{3}) (\d+)')
ACCESS_LINE = re.compile(r'^INFO stilton\.access: (\S+) (\S+) "(\S+) (\S+)" (\d+) (\d+) ', re.M)


def upload(server: StiltonServer, token: str, dist: Dist) -> None:
    data = wheel_bytes(dist)
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        response = client.post(
            server.upload_url(INDEX),
            data=upload_fields(dist, data),
            files={"content": (dist.wheel_filename, data, "application/octet-stream")},
            headers=basic_auth("__token__", token),
        )
    assert response.status_code == 200, response.text


def test_a_pip_install_is_logged_request_by_request_without_secrets(tmp_path: Path) -> None:
    with StiltonServer(tmp_path / "server", workers=2) as server:
        secrets_used = install_from_a_private_index(server, Workspace(tmp_path / "pip"))
    # Read once the server has stopped: workers write their log in batches.
    log = server.read_log()
    asked = Counter(PIP_REQUEST.findall((tmp_path / "pip" / "pip.log").read_text()))
    assert len(asked) >= 4, asked  # two pages and two files at least
    logged = Counter(
        (method, path, status, size)
        for _client, user, method, path, status, size in ACCESS_LINE.findall(log)
        if user == "user:carol" or status == "401"
    )
    missing = asked - logged
    assert not missing, (missing, log[-3000:])
    for secret in secrets_used:
        assert secret not in log


def install_from_a_private_index(server: StiltonServer, workspace: Workspace) -> list[str]:
    """pip installs APP and LIB from a private index as carol (password in the index URL);
    returns the secrets used: the password, as sent and as typed, and the upload token."""
    server.create_index(INDEX)
    server.cli("index", "permissions", INDEX, "--private")
    password = f"pw-{secrets.token_hex(16)}"
    server.cli("user", "add", "carol", "--password-stdin", stdin=password + "\n")
    token = server.create_token(INDEX)
    for dist in (LIB, APP):
        upload(server, token, dist)
    venv = workspace.root / "venv"
    workspace.tool(UV, "venv", "--python", base_python(), venv)
    workspace.tool(UV, "pip", "install", "--python", venv_python(venv), f"pip=={PIP_VERSION}")
    index_url = server.index_url(INDEX).replace("://", f"://carol:{quote(password)}@")

    # -v: pip's log gets urllib3's line for every request it made.
    pip = ["-m", "pip", "install", "-v", "--no-cache-dir", "--log", "pip.log", APP.name]
    workspace.run([venv_python(venv), *pip], env={"PIP_INDEX_URL": index_url})
    return [password, quote(password), token]
