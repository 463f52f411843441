"""``stilton index``: create, list and configure indexes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from stilton.cli.common import ConfigFile, DataDir, opened, out
from stilton.core.index_config import IndexConfig
from stilton.core.model import IndexKind
from stilton.core.upstream import UpstreamFormat

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
CacheSize = Annotated[
    int | None,
    typer.Option("--cache-max-bytes", help="Evict least-recently-used files beyond this size."),
]


def _upstream_values(**values: Any) -> dict[str, Any]:
    """Option values as upstream settings; unset options are left out."""
    converted = {
        key: str(value) if isinstance(value, Path | UpstreamFormat) else value
        for key, value in values.items()
    }
    return {key: value for key, value in converted.items() if value is not None}


def describe_upstream(config: dict[str, Any]) -> str:
    upstream = IndexConfig.from_mapping(config).upstream
    return upstream.describe() if upstream else ""


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
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Create an index: hosted (uploads) or proxy (a cache of an upstream repository)."""
    values = _upstream_values(
        url=upstream,
        ttl=ttl,
        username=upstream_username,
        password=upstream_password,
        token=upstream_token,
        ca_bundle=ca_bundle,
        client_cert=client_cert,
        client_key=client_key,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        format=format,
        offline=offline,
        cache_max_bytes=cache_max_bytes,
    )
    with opened(data_dir, config) as runtime:
        record = runtime.create_index(name, kind, values or None)
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
    data_dir: DataDir = None,
    config: ConfigFile = None,
) -> None:
    """Change a proxy index's upstream settings (a running server picks them up)."""
    values = _upstream_values(
        url=upstream,
        ttl=ttl,
        username=upstream_username,
        password=upstream_password,
        token=upstream_token,
        ca_bundle=ca_bundle,
        client_cert=client_cert,
        client_key=client_key,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        format=format,
        offline=offline,
        cache_max_bytes=cache_max_bytes,
    )
    with opened(data_dir, config) as runtime:
        record = runtime.configure(name, upstream=values)
        out.print(
            f"{record.name}: {describe_upstream(record.config)}",
            highlight=False,
        )


@index_app.command("list")
def index_list(data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """List indexes (upstream credentials are never shown)."""
    with opened(data_dir, config) as runtime:
        table = Table("name", "kind", "simple URL path", "upstream")
        for record in runtime.list_indexes():
            upstream = ""
            if record.kind is IndexKind.PROXY:
                upstream = describe_upstream(record.config)
            table.add_row(record.name, record.kind.value, f"/{record.name}/simple/", upstream)
        out.print(table)
