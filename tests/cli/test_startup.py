"""How the command line starts: what it imports before a command runs, what it prints when its
output is piped, and a first start refused before it makes anything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.server import StiltonServer, server_environ, stilton_command

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


def test_the_command_line_imports_no_runtime_storage_index_or_mirror_module() -> None:
    code = IMPORTED.format(heavy=HEAVY)
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    assert json.loads(completed.stdout) == []


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
