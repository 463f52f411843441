"""What kind of address an IP address is, for deciding where a proxy may connect: only public
(globally routable) addresses and stand-ins for them are reachable without the operator naming
the host. Pure: the caller resolves names; this module only classifies the addresses it got.

Stand-ins are the documentation and benchmarking ranges. No registry assigns them to a host,
on the internet or inside a network, so no internal service lives there; but sandboxes and
fake-IP DNS proxies answer public names with them (every public name resolving to one address
of 203.0.113.0/24, or each to its own of 198.18.0.0/15), and refusing them would refuse the
public index's own file host on such a network."""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

IPAddress = IPv4Address | IPv6Address


class AddressKind(StrEnum):
    PUBLIC = "public"
    LOOPBACK = "loopback"
    PRIVATE = "private"  # RFC 1918, IPv6 unique local (RFC 4193), site-local, local-use NAT64
    SHARED = "shared"  # RFC 6598 carrier-grade NAT space
    LINK_LOCAL = "link-local"
    UNSPECIFIED = "unspecified"
    MULTICAST = "multicast"
    METADATA = "cloud-metadata"
    STAND_IN = "stand-in"  # documentation and benchmarking: public names on some networks
    RESERVED = "reserved"  # IETF, future use, "this network", unparsable

    @property
    def reachable(self) -> bool:
        """Whether a proxy may connect to it without the operator naming the host."""
        return self in (AddressKind.PUBLIC, AddressKind.STAND_IN)

    def describe(self) -> str:
        """'a loopback address', for messages."""
        return DESCRIPTIONS[self]


DESCRIPTIONS = {
    AddressKind.PUBLIC: "a public address",
    AddressKind.LOOPBACK: "a loopback address",
    AddressKind.PRIVATE: "a private address",
    AddressKind.SHARED: "a shared (carrier-grade NAT) address",
    AddressKind.LINK_LOCAL: "a link-local address",
    AddressKind.UNSPECIFIED: "the unspecified address",
    AddressKind.MULTICAST: "a multicast address",
    AddressKind.METADATA: "a cloud metadata address",
    AddressKind.STAND_IN: "a documentation or benchmarking address",
    AddressKind.RESERVED: "a reserved (not publicly routed) address",
}


# Instance-metadata and platform services of the big clouds. Most sit in link-local or private
# space anyway; Azure's wire server (168.63.129.16) does not, so it is named here.
METADATA_ADDRESSES = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.0.23",  # Tencent Cloud
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server
        "192.0.0.192",  # Oracle Cloud (legacy)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
    )
)

# Checked in order: the first network that holds the address decides (IANA special-purpose
# registries, RFC 6890 and successors).
IPV4_NETWORKS: tuple[tuple[IPv4Network, AddressKind], ...] = tuple(
    (IPv4Network(network), kind)
    for network, kind in (
        ("0.0.0.0/32", AddressKind.UNSPECIFIED),
        ("0.0.0.0/8", AddressKind.RESERVED),  # "this network"
        ("10.0.0.0/8", AddressKind.PRIVATE),
        ("100.64.0.0/10", AddressKind.SHARED),
        ("127.0.0.0/8", AddressKind.LOOPBACK),
        ("169.254.0.0/16", AddressKind.LINK_LOCAL),
        ("172.16.0.0/12", AddressKind.PRIVATE),
        ("192.0.0.0/24", AddressKind.RESERVED),  # IETF protocol assignments
        ("192.0.2.0/24", AddressKind.STAND_IN),  # documentation
        ("192.88.99.0/24", AddressKind.RESERVED),  # former 6to4 relay anycast
        ("192.168.0.0/16", AddressKind.PRIVATE),
        ("198.18.0.0/15", AddressKind.STAND_IN),  # benchmarking
        ("198.51.100.0/24", AddressKind.STAND_IN),  # documentation
        ("203.0.113.0/24", AddressKind.STAND_IN),  # documentation
        ("224.0.0.0/4", AddressKind.MULTICAST),
        ("240.0.0.0/4", AddressKind.RESERVED),  # future use and the broadcast address
    )
)
IPV6_NETWORKS: tuple[tuple[IPv6Network, AddressKind], ...] = tuple(
    (IPv6Network(network), kind)
    for network, kind in (
        ("::/128", AddressKind.UNSPECIFIED),
        ("::1/128", AddressKind.LOOPBACK),
        ("64:ff9b:1::/48", AddressKind.PRIVATE),  # local-use NAT64 (RFC 8215)
        ("100::/64", AddressKind.RESERVED),  # discard-only
        ("2001::/23", AddressKind.RESERVED),  # IETF protocol assignments, Teredo, ORCHID
        ("2001:db8::/32", AddressKind.STAND_IN),  # documentation
        ("3fff::/20", AddressKind.STAND_IN),  # documentation (RFC 9637)
        ("fc00::/7", AddressKind.PRIVATE),  # unique local
        ("fe80::/10", AddressKind.LINK_LOCAL),
        ("fec0::/10", AddressKind.PRIVATE),  # site-local (deprecated)
        ("ff00::/8", AddressKind.MULTICAST),
    )
)
GLOBAL_UNICAST = IPv6Network("2000::/3")  # all other IPv6 space is not routed publicly
NAT64 = IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address


def parse_address(text: str) -> IPAddress | None:
    """An address as a resolver prints it (an IPv6 zone such as ``%eth0`` is dropped)."""
    try:
        return ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def classify_address(address: str | IPAddress) -> AddressKind:
    """The kind of ``address``; anything unparsable is RESERVED, so never public by mistake."""
    parsed = parse_address(address) if isinstance(address, str) else address
    if parsed is None:
        return AddressKind.RESERVED
    embedded = _embedded_ipv4(parsed)
    if embedded is not None:
        return classify_address(embedded)
    if parsed in METADATA_ADDRESSES:
        return AddressKind.METADATA
    if isinstance(parsed, IPv4Address):
        return next((kind for net, kind in IPV4_NETWORKS if parsed in net), AddressKind.PUBLIC)
    kind = next((kind for net, kind in IPV6_NETWORKS if parsed in net), None)
    if kind is not None:
        return kind
    return AddressKind.PUBLIC if parsed in GLOBAL_UNICAST else AddressKind.RESERVED


def _embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped (a dual-stack socket connects
    to it), NAT64 (the translator does) and 6to4."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def first_unreachable(addresses: list[str]) -> tuple[str, AddressKind] | None:
    """The first address of a resolved name that a proxy may not reach unnamed, with its kind;
    None when every address is reachable (a name that resolved to nothing has none)."""
    if not addresses:
        return "(no address)", AddressKind.RESERVED
    for address in addresses:
        kind = classify_address(address)
        if not kind.reachable:
            return address, kind
    return None
