"""The upstream options that bound what a proxy reaches and accepts, set on ``stilton index
create`` and ``stilton index set`` and read back through the stored configuration."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stilton.cli.main import app
from stilton.core.index_config import IndexConfig
from stilton.core.upstream import HostPattern, UpstreamConfig
from stilton.runtime import open_runtime
from stilton.settings import Settings

UPSTREAM = "http://127.0.0.1:9/simple/"


def run(data_dir: Path, *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)], catch_exceptions=False)
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def upstream_of(data_dir: Path, name: str) -> UpstreamConfig:
    runtime = open_runtime(Settings.from_env({}, {"data_dir": data_dir}))
    try:
        config = IndexConfig.from_mapping(runtime.get_index_record(name).config).upstream
    finally:
        runtime.close()
    assert config is not None
    return config


def test_create_with_file_hosts_and_limits(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run(
        data_dir, "index", "create", "up", "--kind", "proxy", "--upstream", UPSTREAM,
        "--file-hosts", "files.example.org, [::1]:8080", "--file-hosts-only",
        "--max-page-size", "1048576", "--request-deadline", "5",
        "--download-min-bytes", "1000", "--download-window", "10",
    )  # fmt: skip
    config = upstream_of(data_dir, "up")
    assert config.file_hosts == (
        HostPattern("files.example.org"),
        HostPattern("::1", 8080),
    )
    assert config.file_hosts_only
    assert (config.max_page_size, config.request_deadline) == (1048576, 5.0)
    assert (config.download_min_bytes, config.download_window) == (1000, 10.0)
    shown = run(data_dir, "index", "set", "up", "--ttl", "600")  # prints the configuration
    assert "file hosts only: files.example.org, [::1]:8080" in " ".join(shown.split())


def test_set_changes_and_clears_file_hosts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run(data_dir, "index", "create", "up", "--kind", "proxy", "--upstream", UPSTREAM)
    assert upstream_of(data_dir, "up").file_hosts == ()
    run(data_dir, "index", "set", "up", "--file-hosts", "127.0.0.2:8080")
    assert upstream_of(data_dir, "up").file_hosts == (HostPattern("127.0.0.2", 8080),)
    run(data_dir, "index", "set", "up", "--file-hosts-only")
    run(data_dir, "index", "set", "up", "--any-public-host", "--request-deadline", "30")
    config = upstream_of(data_dir, "up")
    assert not config.file_hosts_only
    assert config.file_hosts == (HostPattern("127.0.0.2", 8080),)
    assert config.request_deadline == 30.0
    run(data_dir, "index", "set", "up", "--file-hosts", "")
    assert upstream_of(data_dir, "up").file_hosts == ()


def test_invalid_file_host_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run(data_dir, "index", "create", "up", "--kind", "proxy", "--upstream", UPSTREAM)
    output = run(data_dir, "index", "set", "up", "--file-hosts", "https://x.example/", ok=False)
    assert "host or host:port" in output
    output = run(data_dir, "index", "set", "up", "--max-page-size", "0", ok=False)
    assert "max_page_size" in output
