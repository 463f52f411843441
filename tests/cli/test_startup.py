"""How the command line starts: what it imports before a command runs and while a command reads
or writes the database, what it prints when its output is piped, and a first start refused
before it makes anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stilton.cli.main import GROUPS, app, app_for
from tests.support.server import CLOSED_UPSTREAM, StiltonServer, server_environ, stilton_command

# What `stilton --help` must not import: commands import them when they run.
HEAVY = (
    "stilton.runtime",
    "stilton.indexes",
    "stilton.storage",
    "stilton.mirror",
    "stilton.web",
    "sqlalchemy",
    "httpx",
    "alembic",
    "granian",
    "anyio",
)
IMPORTED = (
    "import json, sys, stilton.cli.main; "
    "print(json.dumps(sorted(name for name in sys.modules if name.startswith({heavy!r}))))"
)


# What a command working on the database of an existing data directory must not import: the
# index kinds and what proxies need, the server, the migrations (the schema is current) and
# argon2 (no password is hashed or checked). Each would add to the start of every command.
NOT_FOR_THE_DATABASE = (
    "stilton.indexes",
    "stilton.upstream",
    "stilton.mirror",
    "stilton.web",
    "httpx",
    "anyio",
    "alembic",
    "argon2",
    "granian",
    "starlette",
    "jinja2",
    "sqlalchemy.dialects.postgresql",
)
# Runs the command line in this process, then prints (on the last line) the modules it
# imported that start with any of HEAVY.
RUN_THEN_IMPORTED = (
    "import json, sys\n"
    "from stilton.cli.main import main\n"
    "sys.argv = ['stilton', *sys.argv[1:]]\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as stopped:\n"
    "    assert not stopped.code, stopped.code\n"
    "print(json.dumps(sorted(name for name in sys.modules if name.startswith({heavy!r}))))"
)


def test_the_command_line_imports_no_runtime_storage_index_or_mirror_module() -> None:
    code = IMPORTED.format(heavy=HEAVY)
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert json.loads(completed.stdout) == []


@pytest.mark.parametrize(
    "args",
    [
        *([name, *rest] for name in GROUPS for rest in ([], ["--help"], ["nonsense"])),
        ["index", "list", "--help"],
        ["index", "create"],
        ["index", "list", "--data-dir"],
        ["token", "revoke", "not-a-number"],
    ],
    ids=" ".join,
)
def test_a_group_run_alone_says_what_the_whole_command_line_says(args: list[str]) -> None:
    whole = CliRunner().invoke(app, args)
    alone = CliRunner().invoke(app_for(args), args)

    assert app_for(args) is not app
    assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory made (migrated, with the default layout) by an earlier command."""
    made = tmp_path_factory.mktemp("startup") / "data"
    subprocess.run(
        [*stilton_command(), "index", "list", "--data-dir", str(made)],
        capture_output=True,
        env=server_environ(os.environ, CLOSED_UPSTREAM),
        check=True,
        timeout=60,
    )
    return made


@pytest.mark.parametrize(
    "command",
    [
        ["index", "list"],
        ["user", "list"],
        ["token", "list"],
        ["audit", "log"],
        ["index", "create", "scratch"],
    ],
    ids=" ".join,
)
def test_a_database_command_imports_no_index_http_server_migration_or_password_module(
    data_dir: Path, command: list[str]
) -> None:
    code = RUN_THEN_IMPORTED.format(heavy=NOT_FOR_THE_DATABASE)
    completed = subprocess.run(
        [sys.executable, "-c", code, *command, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=server_environ(os.environ, CLOSED_UPSTREAM),
        check=True,
        timeout=60,
    )

    assert json.loads(completed.stdout.splitlines()[-1]) == []


def test_a_too_short_admin_password_names_the_variable_and_makes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    environ = server_environ(
        {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, default_upstream=None
    )
    environ["STILTON_ADMIN_PASSWORD"] = "short"

    completed = subprocess.run(
        [*stilton_command(), "serve", "--data-dir", str(data_dir), "--port", "9"],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 1
    assert "STILTON_ADMIN_PASSWORD" in completed.stderr
    assert "at least 8" in completed.stderr
    assert not data_dir.exists()


def test_piped_output_keeps_the_password_notice_and_install_hint_on_one_line(
    tmp_path: Path,
) -> None:
    # A long data directory makes the hint line far longer than 80 columns.
    root = tmp_path / ("a-rather-long-directory-name-" * 3)
    server = StiltonServer(root)
    with server:
        log = server.read_log()

    hint = next(line for line in log.splitlines() if "pip install --index-url" in line)
    assert hint.startswith("Stilton serving ") and f"{server.url}/simple/" in hint
    assert str(server.data_dir) in hint
    lines = log.splitlines()
    notice = next(i for i, line in enumerate(lines) if "Created the administrator" in line)
    assert "'stilton user passwd admin'):" in lines[notice]
    password = lines[notice + 1]
    assert len(password) == 24 and " " not in password  # token_urlsafe(18), whole
