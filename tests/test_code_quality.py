"""The code checks CI relies on (ruff, ruff format, mypy --strict, import layers), run as tests
so that the one test command covers them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

CHECKS = {
    "ruff": [str(BIN / "ruff"), "check", "src", "tests", "bench"],
    "ruff-format": [str(BIN / "ruff"), "format", "--check", "src", "tests", "bench"],
    "mypy": [str(BIN / "mypy")],
    "import-layers": [str(BIN / "lint-imports")],
}


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_code_check(check: str) -> None:
    result = subprocess.run(
        CHECKS[check], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{check} failed:\n{result.stdout}\n{result.stderr}"
