"""Helpers of the hostile-upstream tests: a proxy index in front of a ``ScriptedServer``, simple
pages that link wherever a test wants, and a check that the server keeps answering its health
probe while (and after) it deals with an attack."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from stilton.core.model import IndexKind
from stilton.runtime import open_runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.support.dists import Dist, wheel_bytes
from tests.support.scripted import Reply

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
PROJECT = "evil"
WHEEL_DIST = Dist(PROJECT, "1.0")
WHEEL = WHEEL_DIST.wheel_filename
WHEEL_BYTES = wheel_bytes(WHEEL_DIST)
WHEEL_SHA256 = hashlib.sha256(WHEEL_BYTES).hexdigest()
PAGE_PATH = f"/simple/{PROJECT}/"


@dataclass(frozen=True)
class Link:
    filename: str
    url: str
    sha256: str | None = None
    metadata: bool = False


def page(*links: Link, name: str = PROJECT) -> bytes:
    """A PEP 691 project page listing ``links`` in order."""
    files = [
        {
            "filename": link.filename,
            "url": link.url,
            "hashes": {"sha256": link.sha256} if link.sha256 else {},
            "core-metadata": bool(link.metadata),
        }
        for link in links
    ]
    document = {"meta": {"api-version": "1.1"}, "name": name, "files": files}
    return json.dumps(document).encode()


def page_reply(*links: Link) -> Reply:
    return Reply(200, page(*links), {"Content-Type": SIMPLE_JSON})


def wheel_reply() -> Reply:
    return Reply(200, WHEEL_BYTES, {"Content-Type": "application/octet-stream"})


def wheel_link(base_url: str) -> Link:
    return Link(WHEEL, f"{base_url}/files/{WHEEL}", WHEEL_SHA256)


def settings_for(tmp_path: Path, upstream_url: str) -> Settings:
    return Settings.from_env(
        {}, {"data_dir": tmp_path / "data", "default_upstream": f"{upstream_url}/simple/"}
    )


@contextmanager
def proxy_of(settings: Settings, upstream_url: str, **config: Any) -> Iterator[TestClient]:
    """The real app with a proxy index ``up`` of ``upstream_url`` configured as asked."""
    runtime = open_runtime(settings)
    try:
        upstream = {"url": f"{upstream_url}/simple/", **config}
        runtime.create_index("up", IndexKind.PROXY, upstream)
    finally:
        runtime.close()
    with TestClient(create_app(settings)) as client:
        yield client


def answered_while_healthy(
    client: TestClient, request: Callable[[], httpx.Response]
) -> httpx.Response:
    """Run ``request`` in a thread; the health probe must answer 200 meanwhile and after."""
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(request)
        while True:
            assert client.get("/-/health").status_code == 200
            if pending.done():
                break
            time.sleep(0.05)
        response = pending.result()
    assert client.get("/-/health").status_code == 200
    return response


def seen_projects(client: TestClient) -> set[str]:
    """The projects the proxy has stored a page of."""
    listing = client.get("/up/simple/", headers=JSON).json()
    return {project["name"] for project in listing["projects"]}


def blob_files(settings: Settings) -> list[Path]:
    return [p for p in (settings.blob_dir / "sha256").rglob("*") if p.is_file()]
