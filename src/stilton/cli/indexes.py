"""``stilton index``: create, list and configure indexes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from stilton.cli.common import ConfigFile, DataDir, opened, out, table
from stilton.core.groups import parse_rule
from stilton.core.index_config import IndexConfig
from stilton.core.model import IndexKind
from stilton.core.permissions import AUTHENTICATED, Acl, parse_principals
from stilton.core.policies import Policy, UnknownUploadTime, parse_cutoff, parse_file_rule
from stilton.core.upstream import UpstreamFormat

if TYPE_CHECKING:
    from stilton.storage.upstream_health import HealthReport

index_app = typer.Typer(help="Create, list and configure indexes.", no_args_is_help=True)

Upstream = Annotated[
    str | None, typer.Option("--upstream", help="Upstream repository URL (proxy).")
]
Ttl = Annotated[
    float | None,
    typer.Option(
        "--ttl", help="Seconds a project page is reused before it is revalidated (default 600)."
    ),
]
Username = Annotated[
    str | None, typer.Option("--upstream-username", help="Basic-auth user for the upstream.")
]
Password = Annotated[
    str | None,
    typer.Option(
        "--upstream-password",
        help="Basic-auth password [env: STILTON_UPSTREAM_PASSWORD].",
        envvar="STILTON_UPSTREAM_PASSWORD",
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--upstream-token",
        help="Bearer token for the upstream [env: STILTON_UPSTREAM_TOKEN].",
        envvar="STILTON_UPSTREAM_TOKEN",
    ),
]
CaBundle = Annotated[
    Path | None, typer.Option("--ca-bundle", help="CA certificates to trust for the upstream.")
]
ClientCert = Annotated[
    Path | None, typer.Option("--client-cert", help="Client certificate (PEM) for the upstream.")
]
ClientKey = Annotated[
    Path | None, typer.Option("--client-key", help="Key of the client certificate.")
]
ConnectTimeout = Annotated[
    float | None, typer.Option("--connect-timeout", help="Seconds to connect (default 10).")
]
ReadTimeout = Annotated[
    float | None, typer.Option("--read-timeout", help="Seconds to wait for data (default 30).")
]
Format = Annotated[
    UpstreamFormat | None,
    typer.Option("--format", help="A simple repository, or one find-links page."),
]
Offline = Annotated[
    bool | None,
    typer.Option("--offline/--online", help="Serve only what is cached; never ask the upstream."),
]
Members = Annotated[
    str | None, typer.Option("--members", help="A group's members in order, comma-separated.")
]
Rules = Annotated[
    list[str] | None,
    typer.Option(
        "--rule",
        help="A group rule, repeatable: 'acme-*=only:local' routes names to one member,"
        " 'numpy=merge' combines the members' files.",
    ),
]
CacheSize = Annotated[
    int | None,
    typer.Option("--cache-max-bytes", help="Evict least-recently-used files beyond this size."),
]
FileHosts = Annotated[
    str | None,
    typer.Option(
        "--file-hosts",
        help="Hosts besides the upstream's own that serve its files, comma-separated host or"
        " host:port: reachable at any address and given the upstream's credentials. Other"
        " hosts get no credentials and must be at public addresses ('' clears the list).",
    ),
]
FileHostsOnly = Annotated[
    bool | None,
    typer.Option(
        "--file-hosts-only/--any-public-host",
        help="Reach no host but the upstream's own and its file hosts.",
    ),
]
MaxPageSize = Annotated[
    int | None,
    typer.Option(
        "--max-page-size", help="Refuse pages and documents larger once decoded (default 64 MiB)."
    ),
]
RequestDeadline = Annotated[
    float | None,
    typer.Option(
        "--request-deadline",
        help="Seconds a page, metadata, range or JSON request may take in all (default 60).",
    ),
]
DownloadMinBytes = Annotated[
    int | None,
    typer.Option(
        "--download-min-bytes",
        help="Abandon a file download when fewer bytes arrive in a download window (default"
        " 65536).",
    ),
]
DownloadWindow = Annotated[
    float | None,
    typer.Option("--download-window", help="Seconds of the download window (default 30)."),
]


# Command-line option -> upstream setting.
UPSTREAM_OPTIONS = {
    "upstream": "url",
    "ttl": "ttl",
    "upstream_username": "username",
    "upstream_password": "password",
    "upstream_token": "token",
    "ca_bundle": "ca_bundle",
    "client_cert": "client_cert",
    "client_key": "client_key",
    "connect_timeout": "connect_timeout",
    "read_timeout": "read_timeout",
    "format": "format",
    "offline": "offline",
    "cache_max_bytes": "cache_max_bytes",
    "file_hosts": "file_hosts",
    "file_hosts_only": "file_hosts_only",
    "max_page_size": "max_page_size",
    "request_deadline": "request_deadline",
    "download_min_bytes": "download_min_bytes",
    "download_window": "download_window",
}


def _upstream_values(options: dict[str, Any]) -> dict[str, Any]:
    """The upstream settings among a command's options; unset options are left out."""
    values = {setting: options[option] for option, setting in UPSTREAM_OPTIONS.items()}
    return {
        key: str(value) if isinstance(value, Path | UpstreamFormat) else value
        for key, value in values.items()
        if value is not None
    }


def describe(config: dict[str, Any]) -> str:
    """A line for people: the upstream (without secrets), or the members and rules; the policy."""
    parsed = IndexConfig.from_mapping(config)
    parts = []
    if parsed.upstream:
        parts.append(parsed.upstream.describe())
    if parsed.members:
        parts.append(" → ".join(parsed.members))
    parts.extend(rule.describe() for rule in parsed.rules)
    if not parsed.policy.is_empty:
        parts.append(f"policy: {parsed.policy.to_mapping()}")
    return escape("; ".join(parts))  # shown by Rich: brackets are text, not markup


def _members(raw: str | None) -> list[str]:
    return [m.strip() for m in (raw or "").split(",") if m.strip()]


@index_app.command("create")
def index_create(
    name: Annotated[str, typer.Argument(help="Index name (a lowercase slug).")],
    kind: Annotated[IndexKind, typer.Option("--kind", help="Index kind.")] = IndexKind.HOSTED,
    upstream: Upstream = None,
    ttl: Ttl = None,
    upstream_username: Username = None,
    upstream_password: Password = None,
    upstream_token: Token = None,
    ca_bundle: CaBundle = None,
    client_cert: ClientCert = None,
    client_key: ClientKey = None,
    connect_timeout: ConnectTimeout = None,
    read_timeout: ReadTimeout = None,
    format: Format = None,
    offline: Offline = None,
    cache_max_bytes: CacheSize = None,
    file_hosts: FileHosts = None,
    file_hosts_only: FileHostsOnly = None,
    max_page_size: MaxPageSize = None,
    request_deadline: RequestDeadline = None,
    download_min_bytes: DownloadMinBytes = None,
    download_window: DownloadWindow = None,
    members: Members = None,
    rule: Rules = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create an index: hosted (uploads), proxy (a cache of an upstream repository) or group
    (members resolved in order; the first that has a project owns it)."""
    values = _upstream_values(locals())
    with opened(data_dir, config) as runtime:
        record = runtime.create_index(
            name, kind, values or None, _members(members), [parse_rule(r) for r in rule or ()]
        )
        out.print(
            f"Created {record.kind} index {record.name!r}: /{record.name}/simple/", highlight=False
        )


@index_app.command("set")
def index_set(
    name: Annotated[str, typer.Argument(help="The proxy index to change.")],
    upstream: Upstream = None,
    ttl: Ttl = None,
    upstream_username: Username = None,
    upstream_password: Password = None,
    upstream_token: Token = None,
    ca_bundle: CaBundle = None,
    client_cert: ClientCert = None,
    client_key: ClientKey = None,
    connect_timeout: ConnectTimeout = None,
    read_timeout: ReadTimeout = None,
    format: Format = None,
    offline: Offline = None,
    cache_max_bytes: CacheSize = None,
    file_hosts: FileHosts = None,
    file_hosts_only: FileHostsOnly = None,
    max_page_size: MaxPageSize = None,
    request_deadline: RequestDeadline = None,
    download_min_bytes: DownloadMinBytes = None,
    download_window: DownloadWindow = None,
    members: Members = None,
    rule: Rules = None,
    clear_rules: Annotated[
        bool, typer.Option("--clear-rules", help="Drop a group's rules.")
    ] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Change a proxy's upstream settings or a group's members and rules (a running server
    picks the change up within a second)."""
    values = _upstream_values(locals())
    rules = [parse_rule(r) for r in rule or ()]
    with opened(data_dir, config) as runtime:
        record = runtime.configure(
            name,
            upstream=values or None,
            members=_members(members) or None,
            rules=rules if (rules or clear_rules) else None,
        )
        out.print(
            f"{record.name}: {describe(record.config)}",
            highlight=False,
        )


@index_app.command("list")
def index_list(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List indexes (upstream credentials are never shown), then the health of each proxy's
    upstream as the server's processes last judged it."""
    with opened(data_dir, config) as runtime:
        records = runtime.list_indexes()
        reports = runtime.upstream_reports()
    grid = table("name", "kind", "simple URL path", "configuration")
    for record in records:
        grid.add_row(
            record.name, record.kind.value, f"/{record.name}/simple/", describe(record.config)
        )
    out.print(grid)
    for name, report in reports.items():
        health = describe_health(report) if report else "upstream healthy"
        out.print(escape(f"{name}: {health}"), highlight=False)


def describe_health(report: HealthReport) -> str:
    """A line for people about an upstream a process judged."""
    if report.healthy:
        return "upstream healthy"
    retry = report.retry_at.isoformat(timespec="seconds") if report.retry_at else "not planned"
    return (
        f"upstream unhealthy since {report.since.isoformat(timespec='seconds')} after"
        f" {report.failures} failure(s) in a row; next retry at {retry}; last failure:"
        f" {report.last_error}"
    )


@index_app.command("policy")
def index_policy(
    name: Annotated[str, typer.Argument(help="The index whose policy to set.")],
    allow: Annotated[
        list[str] | None, typer.Option("--allow", help="Only these projects (name or glob).")
    ] = None,
    deny: Annotated[list[str] | None, typer.Option("--deny", help="Hide these projects.")] = None,
    deny_file: Annotated[
        list[str] | None,
        typer.Option(
            "--deny-file",
            help="Hide files: 'project=numpy,versions=<1.20', 'yanked=true', 'platform=win*',"
            " 'packagetype=sdist' (conditions combine).",
        ),
    ] = None,
    cooldown_days: Annotated[
        float | None,
        typer.Option("--cooldown-days", help="Hide files uploaded less than N days ago."),
    ] = None,
    cooldown_exempt: Annotated[
        list[str] | None, typer.Option("--cooldown-exempt", help="Projects the cooldown spares.")
    ] = None,
    cutoff: Annotated[
        str | None, typer.Option("--cutoff", help="Hide everything uploaded after this ISO date.")
    ] = None,
    unknown_upload_time: Annotated[
        UnknownUploadTime | None,
        typer.Option("--unknown-upload-time", help="Files with no upload time: hide or show."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Start from an empty policy.")] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Set what an index offers: allow/deny lists, file rules, a release-age cooldown. Options
    given replace those settings; the rest are kept unless --clear."""
    with opened(data_dir, config) as runtime:
        record = runtime.get_index_record(name)
        current = {} if clear else IndexConfig.from_mapping(record.config).policy.to_mapping()
        changes: dict[str, Any] = {
            "allow_projects": allow,
            "deny_projects": deny,
            "deny_files": [parse_file_rule(r).to_mapping() for r in deny_file]
            if deny_file
            else None,
            "cooldown_days": cooldown_days,
            "cooldown_exempt": cooldown_exempt,
            "cutoff": parse_cutoff(cutoff).isoformat() if cutoff else None,
            "unknown_upload_time": unknown_upload_time.value if unknown_upload_time else None,
        }
        merged = {**current, **{k: v for k, v in changes.items() if v is not None}}
        if merged.get("cooldown_days") == 0:
            merged.pop("cooldown_days")
        record = runtime.configure(name, policy=Policy.from_mapping(merged))
        out.print(f"{record.name}: {describe(record.config) or 'no policy'}", highlight=False)


@index_app.command("permissions")
def index_permissions(
    name: Annotated[str, typer.Argument(help="The index.")],
    read: Annotated[
        list[str] | None,
        typer.Option(
            "--read",
            help="Who may read: anonymous, authenticated, user:NAME, group:NAME (repeatable;"
            " replaces the list).",
        ),
    ] = None,
    upload: Annotated[list[str] | None, typer.Option("--upload", help="Who may upload.")] = None,
    admin: Annotated[list[str] | None, typer.Option("--admin", help="Who may administer.")] = None,
    private: Annotated[
        bool, typer.Option("--private", help="Shorthand for --read authenticated.")
    ] = False,
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Show or set who may read, upload to and administer an index (administrators always may)."""
    with opened(data_dir, config) as runtime:
        record = runtime.get_index_record(name)
        acl = IndexConfig.from_mapping(record.config).acl
        if private:
            read = [*(read or []), AUTHENTICATED]
        if read is not None or upload is not None or admin is not None:
            acl = Acl(
                read=parse_principals(read) if read is not None else acl.read,
                upload=parse_principals(upload) if upload is not None else acl.upload,
                admin=parse_principals(admin) if admin is not None else acl.admin,
            )
            runtime.set_permissions(name, acl)
        for action, principals in acl.to_mapping().items():
            out.print(
                f"{action}: {', '.join(principals) or '(administrators only)'}", highlight=False
            )
