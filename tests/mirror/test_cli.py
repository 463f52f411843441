"""``stilton mirror`` and friends, run in-process against a real data directory and a fake
upstream: add (making the hosted index), run with its summary and exit status, list, status."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stilton.cli.main import app
from tests.mirror import graph
from tests.support.upstream import FakeUpstream, Fault


def stilton(data_dir: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def add(
    data_dir: Path, upstream: FakeUpstream, *requirements: str, extra: tuple[str, ...] = ()
) -> str:
    reqs = [arg for r in requirements for arg in ("--require", r)]
    return stilton(
        data_dir, "mirror", "add", "m", "--upstream", upstream.simple_url, "--index", "mirrored",
        *reqs, "--with-deps", *graph.TARGET, "--latest", "1", *extra,
    )  # fmt: skip


def test_add_run_list_and_status(tmp_path: Path, upstream: FakeUpstream) -> None:
    data_dir = tmp_path / "data"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("fancy[speed]  # with its extra\n")
    output = add(data_dir, upstream, "app", extra=("--requirements", str(requirements)))
    assert "Created the hosted index 'mirrored'" in output
    assert "Added mirror 'm'" in output and "2 requirement(s)" in output

    output = stilton(data_dir, "mirror", "run", "m")
    assert "files added" in output and f"{len(graph.EXPECTED)}" in output
    assert "Mirror 'm': ok." in output

    listing = stilton(data_dir, "mirror", "list")
    assert "mirrored" in listing and "fancy[speed]" in listing.replace("\n", "")
    status = stilton(data_dir, "mirror", "status", "m")
    assert "ok" in status and f"files added {len(graph.EXPECTED)}" in status


def test_unsatisfiable_requirements_exit_1_and_say_why(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    data_dir = tmp_path / "data"
    add(data_dir, upstream, "left>=5")

    output = stilton(data_dir, "mirror", "run", "m", code=1)

    assert "left>=5: no version of left matches (the newest are 1.0)" in output
    assert "Mirror 'm': errors." in output
    assert "problem: left>=5" in stilton(data_dir, "mirror", "status", code=1)


def test_bad_arguments_are_one_line_errors(tmp_path: Path, upstream: FakeUpstream) -> None:
    data_dir = tmp_path / "data"
    assert "is not a valid requirement" in stilton(
        data_dir, "mirror", "add", "m", "--upstream", upstream.simple_url, "--index", "x",
        "--require", "a b c", code=1,
    )  # fmt: skip
    assert "--python takes a version" in stilton(
        data_dir, "mirror", "add", "m", "--upstream", upstream.simple_url, "--index", "x",
        "--require", "a", "--python", "311", code=1,
    )  # fmt: skip
    assert "No mirror named 'nope'" in stilton(data_dir, "mirror", "run", "nope", code=1)
    add(data_dir, upstream, "app")
    assert "A mirror named 'm' already exists" in stilton(
        data_dir, "mirror", "add", "m", "--upstream", upstream.simple_url, "--index", "other",
        "--require", "a", code=1,
    )  # fmt: skip
    assert "other" not in stilton(data_dir, "index", "list")
    stilton(data_dir, "index", "create", "grp", "--kind", "group", "--members", "local")
    assert "a mirror fills a hosted index" in stilton(
        data_dir, "mirror", "add", "g", "--upstream", upstream.simple_url, "--index", "grp",
        "--require", "a", code=1,
    )  # fmt: skip


def test_an_upstream_that_is_down_fails_the_run(tmp_path: Path, upstream: FakeUpstream) -> None:
    data_dir = tmp_path / "data"
    add(data_dir, upstream, "app")
    upstream.set_fault(Fault.RESET)

    output = stilton(data_dir, "mirror", "run", "m", code=1)

    assert "problem: app:" in output and "Mirror 'm': errors." in output
