"""The ``stilton`` command line, run in-process against a real data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from stilton.cli.main import app
from stilton.runtime import open_runtime
from stilton.settings import Settings
from tests.support.dists import Dist, write_sdist, write_wheel


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def run(data_dir: Path, *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
    return result.output


def files_of(data_dir: Path, project: str) -> dict[str, tuple[bool, str | None]]:
    runtime = open_runtime(Settings.from_env({}, {"data_dir": data_dir}))
    try:
        detail = runtime.hosted("local").find_detail(project)  # type: ignore[arg-type]
        return {f.filename: (f.yanked, f.yanked_reason) for f in detail.files} if detail else {}
    finally:
        runtime.close()


def test_token_create_prints_the_token_alone_on_the_last_line(data_dir: Path) -> None:
    output = run(data_dir, "token", "create", "--index", "local", "--description", "ci")
    token = output.strip().splitlines()[-1]
    assert token.startswith("stl_") and " " not in token
    listing = run(data_dir, "token", "list")
    assert "ci" in listing and token not in listing
    run(data_dir, "token", "revoke", "1")
    assert "revoked" in run(data_dir, "token", "list")
    assert "No active token" in run(data_dir, "token", "revoke", "1", ok=False)


def test_token_for_unknown_index_fails_cleanly(data_dir: Path) -> None:
    output = run(data_dir, "token", "create", "--index", "nope", ok=False)
    assert "No index named 'nope'" in output


def test_index_create_and_list(data_dir: Path) -> None:
    run(data_dir, "index", "create", "team-a", "--kind", "hosted")
    listing = run(data_dir, "index", "list")
    assert "team-a" in listing and "local" in listing
    assert "already exists" in run(data_dir, "index", "create", "team-a", ok=False)
    assert "reserved" in run(data_dir, "index", "create", "simple", ok=False)
    assert "not a valid index name" in run(data_dir, "index", "create", "Bad/Name", ok=False)


def test_import_is_idempotent_and_reports_bad_files(data_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "packages"
    for version in ("1.0", "1.1"):
        write_wheel(Dist("imported", version), source / "nested")
        write_sdist(Dist("imported", version), source)
    (source / "README.txt").write_text("not a package")
    (source / "broken-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    first = run(data_dir, "import", str(source), ok=False)
    assert "Imported 4 file(s), 0 already present, 1 failed" in first
    assert "broken-1.0-py3-none-any.whl" in first
    (source / "broken-1.0-py3-none-any.whl").unlink()
    second = run(data_dir, "import", str(source))
    assert "Imported 0 file(s), 4 already present, 0 failed" in second
    assert len(files_of(data_dir, "imported")) == 4


def test_yank_unyank_and_delete(data_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "packages"
    write_wheel(Dist("tool", "1.0"), source)
    write_sdist(Dist("tool", "1.0"), source)
    write_wheel(Dist("tool", "2.0"), source)
    run(data_dir, "import", str(source))
    run(data_dir, "yank", "tool", "1.0", "--reason", "security issue")
    assert files_of(data_dir, "tool")["tool-1.0.tar.gz"] == (True, "security issue")
    run(data_dir, "unyank", "Tool", "--file", "tool-1.0.tar.gz")
    assert files_of(data_dir, "tool")["tool-1.0.tar.gz"] == (False, None)
    assert files_of(data_dir, "tool")["tool-1.0-py3-none-any.whl"] == (True, "security issue")
    assert "pass --yes" in run(data_dir, "delete", "tool", "1.0", ok=False)
    output = run(data_dir, "delete", "tool", "1.0", "--yes")
    assert "deleted tool-1.0-py3-none-any.whl" in output
    assert set(files_of(data_dir, "tool")) == {"tool-2.0-py3-none-any.whl"}
    assert "has no live release '1.0'" in run(data_dir, "delete", "tool", "1.0", "--yes", ok=False)
    assert "Name a release" in run(data_dir, "yank", "tool", ok=False)


def test_settings_errors_are_one_line(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("this is = = not toml")
    result = CliRunner().invoke(app, ["index", "list", "--config", str(config)])
    assert result.exit_code == 1
    assert "not valid TOML" in result.output
    assert "Traceback" not in result.output
