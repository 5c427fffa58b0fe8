import pytest

from strongroom.netaddr import ip_prefix


@pytest.mark.parametrize(
    ("ip", "prefix"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("203.0.113.0", "203.0.113.0/24"),
        (" 198.51.100.4 ", "198.51.100.0/24"),
        # An IPv4 client seen through a dual-stack socket is that IPv4 client.
        ("::ffff:203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:1234:5678:9abc::1", "2001:db8:1234:5600::/56"),
        ("2001:db8:1234:56ff:ffff:ffff:ffff:ffff", "2001:db8:1234:5600::/56"),
        ("2001:DB8::1", "2001:db8::/56"),
        ("::1", "::/56"),
    ],
)
def test_prefix_of_an_address(ip: str, prefix: str) -> None:
    assert ip_prefix(ip) == prefix


def test_one_ipv6_subscriber_is_one_prefix_and_its_neighbour_another() -> None:
    # Two addresses of one /56 site (different /64 LANs) pool; the next /56 does not.
    assert ip_prefix("2001:db8:aa:1::5") == ip_prefix("2001:db8:aa:ff::9")
    assert ip_prefix("2001:db8:aa:100::5") != ip_prefix("2001:db8:aa:1::5")


@pytest.mark.parametrize(
    "ip", [None, "", "not-an-ip", "abc.def", "203.0.113", "203.0.113.256", "2001:db8::g", "::/56"]
)
def test_no_prefix_for_what_is_not_an_address(ip: str | None) -> None:
    assert ip_prefix(ip) is None


@pytest.mark.parametrize(
    ("ip", "inside"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.9", True),  # loopback through a dual-stack socket
        ("10.1.2.3", True),
        ("10.2.0.1", False),
        ("203.0.113.5", False),
        ("testclient", False),  # a peer without an address is never inside
        ("", False),
        (None, False),
    ],
)
def test_membership_of_networks(ip: str | None, inside: bool) -> None:
    from strongroom.netaddr import in_networks

    assert in_networks(ip, ("127.0.0.0/8", "::1/128", "10.1.0.0/16")) is inside
