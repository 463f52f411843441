"""``stilton verify``: a healthy store passes; a blob with other bytes, a missing one and one
cut short are each reported and make the command fail; a blob nobody refers to is listed as
harmless."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stilton.cli.main import app
from stilton.runtime import Runtime
from tests.mirror import graph
from tests.mirror.conftest import add_mirror, sync
from tests.support.upstream import FakeUpstream


def stilton(data_dir: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output.replace("\n", " ")


def blob(data_dir: Path, sha256: str) -> Path:
    return data_dir / "blobs" / "sha256" / sha256[:2] / sha256[2:4] / sha256


def test_verify_finds_every_disagreement(runtime: Runtime, upstream: FakeUpstream) -> None:
    add_mirror(runtime, upstream)
    sync(runtime)
    data_dir = runtime.settings.data_dir
    files = 2 * 8 + 8  # every file, and the metadata of each wheel
    assert f"Verified {files} blob(s)" in stilton(data_dir, "verify")
    assert "0 problem(s)" in stilton(data_dir, "verify", "mirrored")

    names = sorted(graph.EXPECTED)
    flipped, missing, short = (upstream.sha256(name) for name in names[:3])
    data = bytearray(blob(data_dir, flipped).read_bytes())
    data[10] ^= 1
    blob(data_dir, flipped).write_bytes(bytes(data))
    blob(data_dir, missing).unlink()
    blob(data_dir, short).write_bytes(blob(data_dir, short).read_bytes()[:-5])
    orphan = "f" * 64
    blob(data_dir, orphan).parent.mkdir(parents=True)
    blob(data_dir, orphan).write_bytes(b"left behind by a crash")

    output = stilton(data_dir, "verify", code=1)

    assert f"mirrored: {names[0]}: blob {flipped} holds other bytes" in output
    assert f"mirrored: {names[1]}: blob {missing} is missing from the store" in output
    assert f"mirrored: {names[2]}: blob {short} holds other bytes" in output
    assert "3 problem(s), 1 unreferenced blob(s)" in output
    assert f"unreferenced blob (a crash's leftover, harmless): {orphan}" in output


def test_verify_of_an_unknown_index_says_so(tmp_path: Path) -> None:
    assert "No index named 'nope'" in stilton(tmp_path / "data", "verify", "nope", code=1)
