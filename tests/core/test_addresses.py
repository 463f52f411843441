"""Address kinds, the rule behind which hosts a proxy may reach without being told: a table of
addresses (IPv4, IPv6, and IPv4 hidden inside IPv6) and their kinds. Pure: nothing here touches
the network."""

from __future__ import annotations

import pytest

from stilton.core.addresses import AddressKind, classify_address, first_unreachable

K = AddressKind

TABLE = [
    # Public unicast.
    ("8.8.8.8", K.PUBLIC),
    ("1.1.1.1", K.PUBLIC),
    ("9.9.9.9", K.PUBLIC),
    ("100.63.255.255", K.PUBLIC),  # just below carrier-grade NAT space
    ("100.128.0.0", K.PUBLIC),  # just above it
    ("172.15.255.255", K.PUBLIC),
    ("172.32.0.0", K.PUBLIC),
    ("223.255.255.255", K.PUBLIC),
    ("2606:4700:4700::1111", K.PUBLIC),
    ("2a00:1450:4001::1", K.PUBLIC),
    ("2002:808:808::1", K.PUBLIC),  # 6to4 of a public IPv4 address
    ("64:ff9b::808:808", K.PUBLIC),  # NAT64 of a public IPv4 address
    # Loopback.
    ("127.0.0.1", K.LOOPBACK),
    ("127.0.0.2", K.LOOPBACK),
    ("127.255.255.254", K.LOOPBACK),
    ("::1", K.LOOPBACK),
    ("::ffff:127.0.0.1", K.LOOPBACK),  # IPv4-mapped
    ("64:ff9b::7f00:1", K.LOOPBACK),  # NAT64
    ("2002:7f00:1::", K.LOOPBACK),  # 6to4
    # Private: RFC 1918, unique local, site-local, local-use NAT64.
    ("10.0.0.1", K.PRIVATE),
    ("10.255.255.255", K.PRIVATE),
    ("172.16.0.1", K.PRIVATE),
    ("172.31.255.255", K.PRIVATE),
    ("192.168.1.1", K.PRIVATE),
    ("::ffff:10.1.2.3", K.PRIVATE),
    ("fc00::1", K.PRIVATE),
    ("fd12:3456:789a::1", K.PRIVATE),
    ("fec0::1", K.PRIVATE),
    ("64:ff9b:1::1", K.PRIVATE),
    # Carrier-grade NAT.
    ("100.64.0.1", K.SHARED),
    ("100.127.255.254", K.SHARED),
    # Link-local.
    ("169.254.1.1", K.LINK_LOCAL),
    ("fe80::1", K.LINK_LOCAL),
    ("fe80::1%eth0", K.LINK_LOCAL),
    # Unspecified.
    ("0.0.0.0", K.UNSPECIFIED),
    ("::", K.UNSPECIFIED),
    ("::ffff:0.0.0.0", K.UNSPECIFIED),
    # Multicast.
    ("224.0.0.1", K.MULTICAST),
    ("239.255.255.250", K.MULTICAST),
    ("ff02::1", K.MULTICAST),
    # Cloud metadata services, in whatever space they sit.
    ("169.254.169.254", K.METADATA),
    ("169.254.170.2", K.METADATA),
    ("100.100.100.200", K.METADATA),
    ("168.63.129.16", K.METADATA),
    ("192.0.0.192", K.METADATA),
    ("fd00:ec2::254", K.METADATA),
    ("::ffff:169.254.169.254", K.METADATA),
    ("::ffff:a9fe:a9fe", K.METADATA),
    ("64:ff9b::a9fe:a9fe", K.METADATA),
    ("2002:a9fe:a9fe::", K.METADATA),
    # Stand-ins for public addresses: documentation and benchmarking ranges, which sandboxes
    # and fake-IP DNS proxies hand out for public names.
    ("192.0.2.1", K.STAND_IN),
    ("198.18.0.1", K.STAND_IN),
    ("198.19.255.254", K.STAND_IN),
    ("198.51.100.1", K.STAND_IN),
    ("203.0.113.80", K.STAND_IN),
    ("2001:db8::1", K.STAND_IN),
    ("3fff::1", K.STAND_IN),
    ("::ffff:203.0.113.80", K.STAND_IN),
    # Reserved: "this network", IETF, future use, broadcast.
    ("0.1.2.3", K.RESERVED),
    ("192.0.0.8", K.RESERVED),
    ("240.0.0.1", K.RESERVED),
    ("255.255.255.255", K.RESERVED),
    ("::127.0.0.1", K.RESERVED),  # IPv4-compatible (deprecated)
    ("100::1", K.RESERVED),
    ("2001::1", K.RESERVED),  # Teredo
    ("4000::1", K.RESERVED),  # outside global unicast space
    # Not an address at all: never public.
    ("", K.RESERVED),
    ("localhost", K.RESERVED),
    ("127.1", K.RESERVED),
    ("0x7f000001", K.RESERVED),
    ("999.1.1.1", K.RESERVED),
]


@pytest.mark.parametrize(("address", "kind"), TABLE)
def test_address_kind(address: str, kind: AddressKind) -> None:
    assert classify_address(address) is kind
    assert kind.reachable is (kind in (K.PUBLIC, K.STAND_IN))
    assert kind.describe().endswith("address")


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        (["8.8.8.8"], None),
        (["8.8.8.8", "2606:4700:4700::1111"], None),
        (["8.8.8.8", "10.0.0.1"], ("10.0.0.1", K.PRIVATE)),
        (["169.254.169.254", "8.8.8.8"], ("169.254.169.254", K.METADATA)),
        (["203.0.113.80"], None),  # a sandbox's stand-in for every public name
        (["198.18.0.7", "10.0.0.1"], ("10.0.0.1", K.PRIVATE)),
        ([], ("(no address)", K.RESERVED)),
    ],
)
def test_every_resolved_address_must_be_reachable(
    addresses: list[str], expected: tuple[str, AddressKind] | None
) -> None:
    assert first_unreachable(addresses) == expected
