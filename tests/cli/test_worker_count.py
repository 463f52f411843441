"""How many workers ``stilton serve`` starts by default: the cores the process may use, capped
by a cgroup's CPU quota (a container's CPU limit), read from a fake cgroup tree here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stilton.settings import Settings, available_cores

AFFINITY = len(os.sched_getaffinity(0))


def tree(tmp_path: Path, own: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A cgroup mount under ``tmp_path`` with ``files`` and a /proc/self/cgroup saying ``own``."""
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    root.mkdir(exist_ok=True)
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(own)
    return root, proc


@pytest.mark.parametrize(
    ("own", "files", "quota"),
    [
        ("0::/\n", {"cpu.max": "50000 100000\n"}, 1),  # half a CPU: still one worker
        ("0::/\n", {"cpu.max": "150000 100000\n"}, 2),  # rounded up
        ("0::/\n", {"cpu.max": "max 100000\n"}, None),  # no limit
        ("0::/kubepods/pod1/c1\n", {"kubepods/pod1/c1/cpu.max": "100000 100000\n"}, 1),
        # A limit on a parent (a pod, a slice) holds for its children too.
        (
            "0::/system.slice/stilton.service\n",
            {
                "system.slice/stilton.service/cpu.max": "max 100000",
                "system.slice/cpu.max": "100000 100000",
            },
            1,
        ),
        # cgroup v1: the container's own cgroup at the mount of the cpu controller.
        (
            "4:cpu,cpuacct:/docker/abc\n",
            {
                "cpu,cpuacct/cpu.cfs_quota_us": "100000\n",
                "cpu,cpuacct/cpu.cfs_period_us": "100000\n",
            },
            1,
        ),
        (
            "4:cpu,cpuacct:/\n",
            {"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"},
            None,
        ),
        ("0::/\n", {"cpu.max": "garbage"}, None),  # unreadable: no limit assumed
        ("", {}, None),
    ],
)
def test_cores_are_capped_by_the_cpu_quota(
    tmp_path: Path, own: str, files: dict[str, str], quota: int | None
) -> None:
    root, proc = tree(tmp_path, own, files)
    expected = AFFINITY if quota is None else min(AFFINITY, quota)
    assert available_cores(root, proc) == expected


def test_without_a_cgroup_file_the_affinity_counts(tmp_path: Path) -> None:
    assert available_cores(tmp_path / "none", tmp_path / "missing") == AFFINITY


def test_workers_set_win_over_the_cores() -> None:
    assert (
        Settings.from_env({"STILTON_WORKERS": "5", "STILTON_DATA_DIR": "/tmp/x"}).worker_count == 5
    )
