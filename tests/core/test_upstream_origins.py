"""Which hosts a proxy may reach and which get its upstream credentials, as decided by
``UpstreamConfig`` from the upstream URL and the operator's file hosts. Pure: the addresses are
given, nothing is resolved or contacted."""

from __future__ import annotations

import pytest

from stilton.core.errors import InvalidInput
from stilton.core.upstream import HostPattern, HostRefused, UpstreamConfig, origin_of

UPSTREAM = "https://repo.example.org/simple/"


def config(**values: object) -> UpstreamConfig:
    return UpstreamConfig.from_mapping({"url": UPSTREAM, **values})


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("files.example.org", "files.example.org", None),
        ("Files.Example.ORG.", "files.example.org", None),
        ("files.example.org:8443", "files.example.org", 8443),
        ("127.0.0.2:8080", "127.0.0.2", 8080),
        ("[::1]:8080", "::1", 8080),
        ("[::1]", "::1", None),
        ("::1", "::1", None),
        ("bücher.example", "xn--bcher-kva.example", None),
    ],
)
def test_file_host_patterns(text: str, host: str, port: int | None) -> None:
    pattern = HostPattern.parse(text)
    assert (pattern.host, pattern.port) == (host, port)
    assert HostPattern.parse(str(pattern)) == pattern


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "https://files.example.org",
        "files.example.org/path",
        "user@host",
        "h:0",
        "h:x",
        "h:70000",
        "[::1]x",
        ":8080",
    ],
)
def test_invalid_file_hosts_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        HostPattern.parse(text)


def test_international_names_compare_as_they_go_on_the_wire() -> None:
    upstream = UpstreamConfig.from_mapping({"url": "https://bücher.example/simple/"})
    upstream.check_host("xn--bcher-kva.example", 443, ["10.0.0.1"])  # its own host
    assert upstream.sends_credentials_to("https://BÜCHER.example/files/a.whl")
    assert config(file_hosts=["dateien.bücher.example"]).names_host(
        "dateien.xn--bcher-kva.example", 443
    )


def test_file_hosts_from_a_list_or_a_comma_separated_string() -> None:
    listed = config(file_hosts=["a.example", "b.example:444"])
    assert config(file_hosts="a.example, b.example:444").file_hosts == listed.file_hosts
    assert listed.to_mapping()["file_hosts"] == ["a.example", "b.example:444"]
    assert UpstreamConfig.from_mapping(listed.to_mapping()) == listed
    with pytest.raises(InvalidInput):
        config(file_hosts=[7])


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://repo.example.org/files/a.whl", True),
        ("https://REPO.example.org:443/files/a.whl", True),
        ("http://repo.example.org/files/a.whl", False),  # another scheme: another origin
        ("https://repo.example.org:8443/files/a.whl", False),  # another port
        ("https://files.example.org/a.whl", True),  # a named file host
        ("http://files.example.org/a.whl", False),  # ... but not downgraded to http
        ("https://cdn.example.net/a.whl", False),
        ("https://pinned.example.net:9000/a.whl", True),
        ("https://pinned.example.net:9001/a.whl", False),
        ("file:///etc/passwd", False),
        ("javascript:alert(1)", False),
    ],
)
def test_credentials_go_to_the_origin_and_the_file_hosts(url: str, sent: bool) -> None:
    upstream = config(file_hosts=["files.example.org", "pinned.example.net:9000"])
    assert upstream.sends_credentials_to(url) is sent


@pytest.mark.parametrize(
    ("host", "port", "addresses"),
    [
        ("repo.example.org", 443, ["10.0.0.5"]),  # the upstream's own host: any address
        ("repo.example.org", 8080, ["127.0.0.1"]),  # ... on any port
        ("files.internal", 443, ["192.168.0.9"]),  # a named file host
        ("cdn.example.net", 443, ["8.8.8.8", "2606:4700:4700::1111"]),  # public, unnamed
    ],
)
def test_allowed_hosts(host: str, port: int, addresses: list[str]) -> None:
    config(file_hosts=["files.internal"]).check_host(host, port, addresses)


@pytest.mark.parametrize(
    ("addresses", "address", "words"),
    [
        (["127.0.0.1"], "127.0.0.1", "a loopback address"),
        (["8.8.8.8", "10.1.2.3"], "10.1.2.3", "a private address"),
        (["169.254.169.254"], "169.254.169.254", "a cloud metadata address"),
        (["fd00:ec2::254"], "fd00:ec2::254", "a cloud metadata address"),
        (["100.64.1.1"], "100.64.1.1", "carrier-grade NAT"),
        (["0.0.0.0"], "0.0.0.0", "the unspecified address"),
    ],
)
def test_unnamed_hosts_at_non_public_addresses_are_refused(
    addresses: list[str], address: str, words: str
) -> None:
    with pytest.raises(HostRefused) as refused:
        config().check_host("cdn.example.net", 443, addresses)
    assert refused.value.address == address
    assert words in refused.value.message
    assert "file_hosts" in refused.value.message
    assert "--file-hosts cdn.example.net:443" in refused.value.message


def test_file_hosts_only_refuses_even_public_hosts() -> None:
    exclusive = config(file_hosts=["files.example.org"], file_hosts_only=True)
    exclusive.check_host("files.example.org", 443, ["10.0.0.1"])
    with pytest.raises(HostRefused) as refused:
        exclusive.check_host("cdn.example.net", 443, ["8.8.8.8"])
    assert "file_hosts_only" in refused.value.message
    assert "file hosts only: files.example.org" in exclusive.describe()


def test_refusal_names_the_url_without_its_credentials() -> None:
    refusal = HostRefused("[::1]:8080", "::1").at("http://user:s3cret@[::1]:8080/a.whl")
    assert "s3cret" not in refusal.message
    assert "[::1]:8080" in refusal.message


@pytest.mark.parametrize(
    "values",
    [
        {"max_page_size": 0},
        {"request_deadline": 0},
        {"download_window": -1},
        {"download_min_bytes": -1},
        {"ttl": -1},
        {"max_page_size": "lots"},
        {"request_deadline": "nan"},
        {"download_window": None},
    ],
)
def test_limits_must_be_sensible(values: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        config(**values)


def test_limits_round_trip() -> None:
    limited = config(max_page_size=1024, request_deadline=2.5, download_min_bytes=10)
    limited = limited.with_changes(download_window=3.0)
    assert UpstreamConfig.from_mapping(limited.to_mapping()) == limited


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/x", ("https", "a.example", 443)),
        ("HTTP://A.Example:80/x", ("http", "a.example", 80)),
        ("http://[::1]:8080/", ("http", "::1", 8080)),
        ("ftp://a.example/", None),
        ("http:///nohost", None),
        ("http://a.example:99999/", None),
        ("http://[::1/", None),
    ],
)
def test_origins(url: str, expected: tuple[str, str, int] | None) -> None:
    origin = origin_of(url)
    assert (None if origin is None else (origin.scheme, origin.host, origin.port)) == expected
