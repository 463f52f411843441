"""Group, policy, proxy and audit commands against a real data directory and a fake upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stilton.cli.main import app
from tests.support.dists import Dist, write_wheel
from tests.support.upstream import FakeUpstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.add(Dist("acme-utils", "9.0"))
        fake.add(Dist("requests-ish", "1.0"))
        yield fake


def run(data_dir: Path, upstream: FakeUpstream, *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(
        app,
        [*args, "--data-dir", str(data_dir)],
        env={"STILTON_DEFAULT_UPSTREAM": upstream.simple_url, "COLUMNS": "200"},
        catch_exceptions=False,
    )
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def test_default_layout(tmp_path: Path, upstream: FakeUpstream) -> None:
    listing = run(tmp_path, upstream, "index", "list")
    for name in ("local", "pypi", "main"):
        assert name in listing


def test_group_create_set_and_rules(tmp_path: Path, upstream: FakeUpstream) -> None:
    run(tmp_path, upstream, "index", "create", "team", "--kind", "hosted")
    out = run(
        tmp_path,
        upstream,
        "index", "create", "safe", "--kind", "group", "--members", "team,local,pypi",
        "--rule", "acme-*=only:team", "--rule", "numpy=merge",
    )  # fmt: skip
    assert "Created group index 'safe'" in out
    listing = run(tmp_path, upstream, "index", "list")
    assert "acme-*: only team" in listing
    out = run(
        tmp_path, upstream, "index", "set", "safe", "--clear-rules", "--members", "local,pypi"
    )
    assert "acme-*" not in out
    assert "not a member" in run(
        tmp_path, upstream, "index", "set", "safe", "--rule", "x=only:team", ok=False
    )
    assert "at least one member" in run(
        tmp_path, upstream, "index", "create", "empty", "--kind", "group", ok=False
    )


def test_policy_command(tmp_path: Path, upstream: FakeUpstream) -> None:
    out = run(
        tmp_path,
        upstream,
        "index", "policy", "main", "--cooldown-days", "7", "--cooldown-exempt", "certifi",
        "--deny", "evil-*", "--deny-file", "project=numpy,versions=<1.20",
        "--unknown-upload-time", "hide",
    )  # fmt: skip
    assert "cooldown_days" in out
    assert "evil-*" in out
    assert "'versions': '<1.20'" in out
    cleared = run(tmp_path, upstream, "index", "policy", "main", "--clear")
    assert "policy" not in cleared
    assert "not a version specifier" in run(
        tmp_path, upstream, "index", "policy", "main", "--deny-file", "versions=bad!!", ok=False
    )


def test_proxy_set_and_cache_commands(tmp_path: Path, upstream: FakeUpstream) -> None:
    out = run(tmp_path, upstream, "index", "set", "pypi", "--offline", "--ttl", "60")
    assert "offline" in out
    assert "ttl 60s" in out
    stats = run(tmp_path, upstream, "cache", "stats")
    assert "pypi" in stats
    pruned = run(tmp_path, upstream, "cache", "prune", "--max-bytes", "0")
    assert "evicted 0 file(s)" in pruned
    assert "only proxies" in run(
        tmp_path, upstream, "index", "set", "local", "--ttl", "5", ok=False
    )


def test_secrets_are_never_listed(tmp_path: Path, upstream: FakeUpstream) -> None:
    run(
        tmp_path,
        upstream,
        "index", "create", "private-up", "--kind", "proxy",
        "--upstream", upstream.simple_url.replace("http://", "http://user:hunter2@"),
    )  # fmt: skip
    listing = run(tmp_path, upstream, "index", "list")
    assert "hunter2" not in listing
    assert "credentials" in listing


def test_audit_collisions(tmp_path: Path, upstream: FakeUpstream) -> None:
    packages = tmp_path / "packages"
    write_wheel(Dist("acme-utils", "1.0"), packages)
    write_wheel(Dist("acme-private-only", "1.0"), packages)
    run(tmp_path, upstream, "import", str(packages))
    report = run(tmp_path, upstream, "audit", "collisions")
    assert "acme-utils" in report
    assert "acme-private-only" not in report
    assert "1 collision(s)." in report
    run(
        tmp_path, upstream, "index", "create", "risky", "--kind", "group", "--members", "pypi,local"
    )
    risky = run(tmp_path, upstream, "audit", "collisions", "risky")
    assert "│ pypi" in risky or " pypi " in risky
