"""Which process of a server holds which client connections, read from ``/proc`` (Linux): how a
test knows that concurrent clients really reached more than one worker process.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PROC = Path("/proc")
ESTABLISHED = "01"  # the state column of /proc/net/tcp


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for stat in PROC.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += children.get(current, [])
    return found


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets ``pid`` has open."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in (PROC / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def accepted_inodes(port: int) -> set[int]:
    """Inodes of the established IPv4 connections whose local end is ``port``."""
    inodes = set()
    for line in (PROC / "net" / "tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == ESTABLISHED:
            inodes.add(int(fields[9]))
    return inodes


def connections_by_process(server_pid: int, port: int) -> dict[int, int]:
    """How many established connections on ``port`` each process of the server's tree holds
    (processes holding none are left out)."""
    accepted = accepted_inodes(port)
    counts = {}
    for pid in process_tree(server_pid):
        held = len(socket_inodes(pid) & accepted)
        if held:
            counts[pid] = held
    return counts
