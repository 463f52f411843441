"""Settings: embedded defaults, then an optional TOML file, then ``STILTON_*`` variables.

Nothing is read at import time; callers pass the environment in (``Settings.from_env``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stilton.core.errors import InvalidInput
from stilton.core.names import IndexName, parse_index_name

DEFAULT_PORT = 3150
DEFAULT_HOST = "127.0.0.1"
DEFAULT_INDEX = IndexName("main")
# The standard variables of S3 clients, read when the s3_* settings are not given.
AWS_VARIABLES = {
    "s3_endpoint": "AWS_ENDPOINT_URL",
    "s3_region": "AWS_REGION",
    "s3_access_key_id": "AWS_ACCESS_KEY_ID",
    "s3_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "s3_allow_http": "AWS_ALLOW_HTTP",
}
LOG_FORMATS = ("text", "json")
METRICS_ACCESS = ("public", "authenticated", "admin", "off")
POSITIVE = (
    "database_pool_size",
    "shutdown_timeout",
    "password_checks",
    "guard_slow_after",
    "guard_lock_after",
    "guard_window",
    "guard_lockout",
    "upstream_unhealthy_after",
    "upstream_retry_interval",
)


# Set by the process that supervises a server's workers, for them (not a setting).
SUPERVISOR_PID_VARIABLE = "STILTON_SUPERVISOR_PID"


def available_cores(
    cgroup_root: Path = Path("/sys/fs/cgroup"), own_cgroup: Path = Path("/proc/self/cgroup")
) -> int:
    """The cores this process may use, not the machine's count: those it may run on (a
    cpuset), and no more than its CPU quota (``docker run --cpus``, a Kubernetes CPU limit, a
    systemd ``CPUQuota``), rounded up. A pod limited to 2 CPUs on a 64-core node gets 2 workers,
    not 64 (~100 MB each before it serves anything)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = _cpu_quota(cgroup_root, own_cgroup)
    if quota is not None:
        cores = min(cores or quota, quota)
    return max(1, cores or 1)


def _cpu_quota(cgroup_root: Path, own_cgroup: Path) -> int | None:
    """The smallest CPU quota over this process's cgroup and its parents, in whole CPUs
    (rounded up); None where there is none or it cannot be read."""
    try:
        lines = own_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits: list[float] = []
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if controllers == "" and path:  # cgroup v2: "0::/path"
            directory = cgroup_root / path.lstrip("/")
            while True:
                limits += _quota_v2(directory / "cpu.max")
                if directory == cgroup_root or cgroup_root not in directory.parents:
                    break
                directory = directory.parent
        elif "cpu" in controllers.split(","):  # cgroup v1: the container's own at the mount
            for mount in ("cpu", "cpu,cpuacct"):
                limits += _quota_v1(cgroup_root / mount)
    if not limits:
        return None
    return max(1, math.ceil(min(limits)))


def _quota_v2(path: Path) -> list[float]:
    try:
        quota, period = path.read_text().split()[:2]
        return [] if quota == "max" else [int(quota) / int(period)]
    except (OSError, ValueError, ZeroDivisionError):
        return []


def _quota_v1(directory: Path) -> list[float]:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
        return [quota / period] if quota > 0 and period > 0 else []
    except (OSError, ValueError):
        return []


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/stilton``, else ``~/.local/share/stilton``."""
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME", "~")) / ".local/share")
    return Path(base).expanduser() / "stilton"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # Empty: SQLite at <data_dir>/stilton.sqlite3; or postgresql+psycopg://user@host/db, shared
    # by replicas. Its password never appears in a log line or a page.
    database_url: str = field(default="", repr=False)
    database_pool_size: int = 10  # PostgreSQL connections kept open per worker process
    database_max_overflow: int = 20  # connections opened beyond the pool under load
    # Empty: blobs under <data_dir>/blobs; or s3://bucket/prefix (any S3-protocol store), with
    # the endpoint, region and credentials below, else AWS_ENDPOINT_URL, AWS_REGION,
    # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_ALLOW_HTTP.
    blob_url: str = ""
    s3_endpoint: str = ""
    s3_region: str = ""
    s3_access_key_id: str = field(default="", repr=False)
    s3_secret_access_key: str = field(default="", repr=False)
    s3_allow_http: bool = False  # plain HTTP to the endpoint (a store on a private network)
    # Seconds a presigned URL of a file in the bucket stays valid; 0: files are streamed
    # through Stilton instead of answered with a redirect to such a URL.
    presigned_url_seconds: int = 0
    workers: int = 0  # worker processes; 0: one per core
    # Seconds a stopping server lets requests still running (a slow client's download) finish
    # before it ends its workers.
    shutdown_timeout: int = 30
    max_upload_size: int = 100 * 2**20  # bytes, per file (PyPI's default)
    # Seconds an upload's body may go without a byte arriving before it is abandoned (408).
    upload_idle_timeout: float = 60.0
    page_max_age: int = 30  # seconds; the visibility delay of a new upload for caching clients
    default_index: IndexName = DEFAULT_INDEX
    # The upstream of the "pypi" proxy made on first start; empty: the public index.
    default_upstream: str = ""
    generation_poll_interval: float = 1.0  # seconds between checks for changes by other processes
    page_cache_bytes: int = 64 * 2**20  # rendered pages kept in memory, per worker process
    upstream_page_bytes: int = 32 * 2**20  # parsed upstream pages kept in memory, per worker
    log_level: str = "info"
    log_format: str = "text"  # or "json": one JSON object per line, for log collectors
    access_log: bool = True  # one line per request on the logger "stilton.access", at info
    # Who may read /-/metrics: "public", "authenticated" (any valid credentials), "admin", or
    # "off" (nothing is counted).
    metrics_access: str = "public"
    # The initial administrator's password, used once on first start (else one is generated).
    admin_password: str = field(default="", repr=False)
    tls_cert: str = ""  # PEM certificate (chain): serve HTTPS
    tls_key: str = ""
    tls_client_ca: str = ""  # CA of client certificates: mutual TLS
    tls_client_cert: str = ""  # "required" with a client CA
    trusted_proxies: str = ""  # comma-separated addresses whose X-Forwarded-* headers count
    # A header in which a trusted TLS-terminating proxy passes the verified client certificate's
    # subject (e.g. X-SSL-Client-S-DN); its CN names the user.
    client_cert_header: str = ""
    # Password checks (argon2, 64 MiB each while it runs) at once per worker process; more wait
    # their turn without holding memory. Token checks are cheap and not limited.
    password_checks: int = 2
    # The brute-force guard, per client address and shared by every worker and replica: checks
    # after the first ``guard_slow_after`` failures in ``guard_window`` seconds are answered
    # slower; ``guard_lock_after`` checks in the window lock the address out for
    # ``guard_lockout`` seconds (429). A success starts the count again.
    guard_slow_after: int = 3
    guard_lock_after: int = 10
    guard_window: float = 60.0
    guard_lockout: float = 60.0
    # A proxy's upstream that fails this many times in a row (no connection, a timeout, a 5xx)
    # is marked unhealthy: not waited for, retried in the background after this many seconds
    # (doubling after each failed retry, up to 32 times as long).
    upstream_unhealthy_after: int = 3
    upstream_retry_interval: float = 10.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in POSITIVE:
            if getattr(self, name) <= 0:
                raise InvalidInput(f"Setting {name!r} must be above 0, not {getattr(self, name)}.")
        if self.metrics_access not in METRICS_ACCESS:
            raise InvalidInput(
                f"Setting 'metrics_access' is one of {', '.join(METRICS_ACCESS)}, not"
                f" {self.metrics_access!r}."
            )
        if self.log_format not in LOG_FORMATS:
            raise InvalidInput(
                f"Setting 'log_format' is 'text' or 'json', not {self.log_format!r}."
            )

    @property
    def worker_count(self) -> int:
        if self.workers > 0:
            return self.workers
        return available_cores()

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "stilton.sqlite3"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def is_sqlite(self) -> bool:
        return not self.database_url or self.database_url.startswith("sqlite")

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def metrics_dir(self) -> Path:
        """Where workers keep their counts when there are several (made afresh at start)."""
        return self.data_dir / "metrics"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Defaults < TOML file (``STILTON_CONFIG``) < environment < ``overrides`` (CLI flags)."""
        values: dict[str, Any] = {}
        config_file = (overrides or {}).get("config") or environ.get("STILTON_CONFIG")
        if config_file:
            values.update(_read_toml(Path(config_file)))
        for spec in dataclasses.fields(cls):
            raw = environ.get(f"STILTON_{spec.name.upper()}")
            if raw is not None and raw != "":
                values[spec.name] = raw
        values.update(
            {k: v for k, v in (overrides or {}).items() if v is not None and k != "config"}
        )
        values.setdefault("data_dir", default_data_dir(environ))
        for name, variable in AWS_VARIABLES.items():
            if not values.get(name) and environ.get(variable):
                values[name] = environ[variable]
        return cls._from_values(values)

    @classmethod
    def _from_values(cls, values: Mapping[str, Any]) -> Settings:
        known = {spec.name: spec for spec in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise InvalidInput(f"Unknown setting(s): {', '.join(unknown)}.")
        converted: dict[str, Any] = {}
        for name, value in values.items():
            converted[name] = _convert(name, known[name].type, value)
        return cls(**converted)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except OSError as exc:
        raise InvalidInput(f"Cannot read the configuration file {path}: {exc.strerror}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"The configuration file {path} is not valid TOML: {exc}.") from exc
    section = document.get("stilton", document)
    return {key.replace("-", "_"): value for key, value in section.items() if key != "indexes"}


def _convert(name: str, annotation: Any, value: Any) -> Any:
    kind = str(annotation)
    try:
        if kind == "Path":
            return Path(str(value)).expanduser()
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "IndexName":
            return parse_index_name(str(value))
        if kind == "str":
            return str(value)
        if kind == "bool":
            return _boolean(value)
    except ValueError as exc:
        raise InvalidInput(f"Setting {name!r} has an invalid value {value!r}: {exc}.") from exc
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")
