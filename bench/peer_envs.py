"""The peers' installations: each peer's pinned packages in a virtual environment of its own under
``bench/.cache/peers/<peer>/``, made with ``uv venv`` + ``uv pip install`` from the public index
the first time and reused while its pins are unchanged.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.corpus import BENCH_DIR

PEERS_DIR = BENCH_DIR / ".cache" / "peers"
INSTALL_TIMEOUT = 600.0  # seconds to make one peer's environment
PINS_FILE = "bench-pins.txt"  # written last: the environment holds exactly these pins


class PeerInstallError(RuntimeError):
    """A peer's environment could not be made; the message carries uv's output."""


@dataclass(frozen=True, slots=True)
class PeerEnv:
    """A peer's pinned requirements and the virtual environment that holds them."""

    name: str
    pins: tuple[str, ...]
    root: Path = PEERS_DIR

    @property
    def venv(self) -> Path:
        return self.root / self.name

    def bin(self, script: str) -> str:
        return str(self.venv / "bin" / script)

    @property
    def label(self) -> str:
        """The pinned versions, for the table: ``devpi-server 6.20.3, devpi-client 7.3.0``."""
        return ", ".join(pin.replace("==", " ") for pin in self.pins)


# What the table compares with; each is installed exactly as pinned here.
DEVPI = PeerEnv("devpi", ("devpi-server==6.20.3", "devpi-client==7.3.0"))
PROXPI = PeerEnv("proxpi", ("proxpi==1.3.1", "gunicorn==27.0.1"))
PYPISERVER = PeerEnv("pypiserver", ("pypiserver[cache]==2.4.2", "gunicorn==27.0.1"))


def ensure_installed(peer: PeerEnv, uv: str, environ: Mapping[str, str]) -> PeerEnv:
    """Make ``peer``'s environment unless it already holds exactly its pins (needs the network
    the first time)."""
    marker = peer.venv / PINS_FILE
    wanted = "".join(f"{pin}\n" for pin in peer.pins)
    if marker.exists() and marker.read_text() == wanted:
        return peer
    shutil.rmtree(peer.venv, ignore_errors=True)
    peer.venv.parent.mkdir(parents=True, exist_ok=True)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    _uv(uv, ["venv", "--no-config", "--python", python, str(peer.venv)], environ)
    _uv(
        uv,
        ["pip", "install", "--no-config", "--python", peer.bin("python"), *peer.pins],
        environ,
    )
    marker.write_text(wanted)
    return peer


def _uv(uv: str, args: list[str], environ: Mapping[str, str]) -> None:
    try:
        completed = subprocess.run(
            [uv, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=dict(environ),
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PeerInstallError(f"uv {args[0]} timed out after {INSTALL_TIMEOUT:.0f} s") from exc
    if completed.returncode != 0:
        raise PeerInstallError(
            f"uv {' '.join(args)} exited {completed.returncode}: {completed.stderr[-2000:]}"
        )
