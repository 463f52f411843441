"""The legacy upload form as twine sends it, for driving the upload API directly in tests."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import httpx

from tests.support.dists import Dist, wheel_bytes


def basic_auth(username: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def upload_fields(
    dist: Dist, data: bytes, *, sdist: bool = False, **overrides: Any
) -> dict[str, Any]:
    """Form fields twine 7 would send for ``data`` (a wheel unless ``sdist``)."""
    fields: dict[str, Any] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.3",
        "name": dist.name,
        "version": dist.version,
        "filetype": "sdist" if sdist else "bdist_wheel",
        "pyversion": "source" if sdist else "py3",
        "summary": dist.summary,
        "sha256_digest": hashlib.sha256(data).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(data, digest_size=32).hexdigest(),
    }
    if dist.requires_python:
        fields["requires_python"] = dist.requires_python
    if dist.requires_dist:
        fields["requires_dist"] = list(dist.requires_dist)
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def multipart_body(fields: dict[str, object], filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body of ``fields`` and the file part, and its boundary."""
    boundary = uuid.uuid4().hex
    parts = []
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            disposition = f'Content-Disposition: form-data; name="{key}"'
            parts.append(f"--{boundary}\r\n{disposition}\r\n\r\n{item}\r\n".encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), boundary


def send_wheel(
    client: httpx.Client, token: str, dist: Dist, index: str = "local", base_url: str = ""
) -> httpx.Response:
    """Upload ``dist``'s wheel through the legacy API with an upload token, whatever comes of
    it (``base_url`` for a client that has none; the client's own timeout applies)."""
    data = wheel_bytes(dist)
    response: httpx.Response = client.post(
        f"{base_url}/{index}/",
        data=upload_fields(dist, data),
        files={"content": (dist.wheel_filename, data, "application/octet-stream")},
        headers=basic_auth("__token__", token),
    )
    return response


def post_wheel(client: httpx.Client, token: str, dist: Dist, index: str = "local") -> str:
    """Upload ``dist``'s wheel through the legacy API (asserting a 200); returns its sha256."""
    response = send_wheel(client, token, dist, index)
    assert response.status_code == 200, response.text
    return hashlib.sha256(wheel_bytes(dist)).hexdigest()
