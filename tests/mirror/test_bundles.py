"""Air-gap bundles: an index exported (a directory or a .tar, whole or since a date) and
imported into another Stilton serves the same pages and bytes, and importing again changes
nothing. A bundle with a tampered file or manifest, a path trick, or a name the index holds
with other bytes is refused before anything is stored."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from stilton.cli.main import app
from stilton.runtime import Runtime
from stilton.settings import Settings
from stilton.web.app import create_app
from tests.mirror import graph
from tests.mirror.conftest import add_mirror, sync
from tests.support.dists import Dist, write_sdist
from tests.support.server import CLOSED_UPSTREAM
from tests.support.upstream import FakeUpstream

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
PROJECTS = ("app", "base", "fancy", "left", "native", "right", "speedup")


def stilton(data_dir: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def mirrored(runtime: Runtime, upstream: FakeUpstream) -> Path:
    """A data directory whose index "mirrored" holds the closure, one file yanked."""
    add_mirror(runtime, upstream)
    sync(runtime)
    upstream.yank(Dist("left", "1.0").wheel_filename, "bad build")
    assert sync(runtime).yanked == [Dist("left", "1.0").wheel_filename]
    return runtime.settings.data_dir


def pages(data_dir: Path, index: str = "mirrored") -> dict[str, tuple[bytes, dict[str, object]]]:
    """HTML page and JSON page (without its serial) of every project."""
    settings = Settings.from_env({}, {"data_dir": data_dir, "default_upstream": CLOSED_UPSTREAM})
    found = {}
    with TestClient(create_app(settings)) as client:
        for project in PROJECTS:
            html = client.get(f"/{index}/simple/{project}/").content
            document = client.get(f"/{index}/simple/{project}/", headers=JSON).json()
            document["meta"].pop("_last-serial")
            found[project] = (html, document)
    return found


def blobs_of(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "blobs" / "sha256").rglob("*") if p.is_file()}


def test_export_then_import_serves_identical_pages_and_is_safe_to_repeat(
    mirrored: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    output = stilton(mirrored, "export", "mirrored", str(bundle))
    digest = hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    assert f"manifest sha256: {digest}" in output
    assert (bundle / "simple" / "index.html").is_file()
    other = tmp_path / "other"

    output = stilton(other, "import-bundle", str(bundle), "--manifest-sha256", digest)

    assert f"Imported {len(graph.EXPECTED)} file(s) into index 'mirrored'" in output
    assert "1 \nyank(s) set" in output or "1 yank(s) set" in output
    assert pages(other) == pages(mirrored)
    again = stilton(other, "import-bundle", str(bundle))
    assert f"Imported 0 file(s) into index 'mirrored'; {len(graph.EXPECTED)} already" in again
    assert blobs_of(other) <= blobs_of(mirrored)


def test_a_tar_bundle_and_an_incremental_one(
    mirrored: Path, tmp_path: Path, runtime: Runtime, upstream: FakeUpstream
) -> None:
    cut = datetime.now(UTC)
    upstream.add(Dist("speedup", "1.1"))
    sync(runtime)
    stilton(mirrored, "export", "mirrored", str(tmp_path / "all.tar"))
    stilton(mirrored, "export", "mirrored", str(tmp_path / "new"), "--since", cut.isoformat())
    manifest = json.loads((tmp_path / "new" / "manifest.json").read_bytes())
    assert {f["filename"] for f in manifest["files"]} == graph.files("speedup", "1.1")

    other = tmp_path / "other"
    stilton(other, "import-bundle", str(tmp_path / "all.tar"), "--index", "copy")
    assert pages(other, "copy")["speedup"][0] == pages(mirrored)["speedup"][0].replace(
        b"/mirrored/", b"/copy/"
    )


def tamper_file(bundle: Path) -> str:
    wheel = next((bundle / "files").rglob("*.whl"))
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wheel.write_bytes(bytes(data))
    return wheel.name


def rewrite_manifest(bundle: Path, change: dict[str, object], number: int = 0) -> None:
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_bytes())
    manifest["files"][number].update(change)
    path.write_text(json.dumps(manifest))


def assert_nothing_stored(data_dir: Path, output: str) -> None:
    assert "nothing was imported" in output
    assert blobs_of(data_dir) == set() if (data_dir / "blobs").exists() else True
    assert list((data_dir / "blobs" / "tmp").glob("*")) == []


def test_a_tampered_file_refuses_the_whole_bundle(mirrored: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    stilton(mirrored, "export", "mirrored", str(bundle))
    name = tamper_file(bundle)
    other = tmp_path / "other"

    output = stilton(other, "import-bundle", str(bundle), code=1)

    assert f"{name}: its sha256 or size is not what the manifest says" in output
    assert_nothing_stored(other, output)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sha256": "0" * 64}, "its path must be"),
        ({"sha256": "0" * 64, "path": None}, "its path must be"),
        ({"size": 1}, "its sha256 or size is not what the manifest says"),
        ({"filename": "../../../etc/passwd"}, "Invalid distribution file name"),
        ({"filename": "evil/../x-1.0.tar.gz"}, "Invalid distribution file name"),
        ({"path": "../outside"}, "its path must be"),
        ({"project": "other"}, "it belongs to"),
        ({"metadata_sha256": "a" * 64}, "metadata"),
    ],
)
def test_a_tampered_manifest_or_a_path_trick_is_refused(
    mirrored: Path, tmp_path: Path, change: dict[str, object], message: str
) -> None:
    bundle = tmp_path / "bundle"
    stilton(mirrored, "export", "mirrored", str(bundle))
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    wheel = next(n for n, f in enumerate(manifest["files"]) if f["filename"].endswith(".whl"))
    rewrite_manifest(bundle, change, wheel)
    other = tmp_path / "other"

    output = stilton(other, "import-bundle", str(bundle), code=1)

    assert message in output.replace("\n", "")
    assert_nothing_stored(other, output)


def test_the_manifest_sha256_given_must_match(mirrored: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    stilton(mirrored, "export", "mirrored", str(bundle))
    rewrite_manifest(bundle, {"yanked": True})  # consistent, but not what was exported
    output = stilton(
        tmp_path / "o", "import-bundle", str(bundle), "--manifest-sha256", "1" * 64, code=1
    )
    assert "the manifest's sha256 is" in output


def test_a_symbolic_link_out_of_the_bundle_is_refused(mirrored: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    stilton(mirrored, "export", "mirrored", str(bundle))
    wheel = next((bundle / "files").rglob("*.whl"))
    outside = tmp_path / "outside.whl"
    wheel.rename(outside)
    os.symlink(outside, wheel)

    output = stilton(tmp_path / "other", "import-bundle", str(bundle), code=1)

    assert "is a symbolic link or leaves the bundle" in output.replace("\n", "")


def test_a_tar_with_a_link_member_is_refused(mirrored: Path, tmp_path: Path) -> None:
    stilton(mirrored, "export", "mirrored", str(tmp_path / "b.tar"))
    evil = tmp_path / "evil.tar"
    with tarfile.open(tmp_path / "b.tar") as source, tarfile.open(evil, "w") as target:
        for member in source.getmembers():
            if member.name.endswith("-py3-none-any.whl") and "/app-" in member.name:
                link = tarfile.TarInfo(member.name)
                link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
                target.addfile(link)
            else:
                target.addfile(member, source.extractfile(member) or io.BytesIO())

    output = stilton(tmp_path / "other", "import-bundle", str(evil), code=1)

    assert "is not a regular file" in output.replace("\n", "")


def test_a_name_the_index_holds_with_other_bytes_refuses_the_bundle(
    mirrored: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    stilton(mirrored, "export", "mirrored", str(bundle))
    other = tmp_path / "other"
    local = tmp_path / "local"
    # Other bytes under one of the bundle's names.
    write_sdist(Dist("base", "2.5", summary="Other bytes under the same name."), local)
    stilton(other, "index", "create", "mirrored", "--kind", "hosted")
    stilton(other, "import", str(local), "--index", "mirrored")
    before = blobs_of(other)

    output = stilton(other, "import-bundle", str(bundle), code=1)

    assert "base-2.5.tar.gz: index 'mirrored' holds other bytes of that name" in output
    assert blobs_of(other) == before
