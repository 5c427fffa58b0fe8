"""Budget specs are validated; keys derive the IP prefix; X-Forwarded-For is believed only
from trusted proxies."""

from __future__ import annotations

import pytest

from strongroom.budgets import BudgetKeys, BudgetSpec, client_ip, ip_prefix
from strongroom.budgets.spec import applicable

PROXIES = ("10.0.0.0/8", "2001:db8:ffff::/48")


@pytest.mark.parametrize(
    "bad",
    [
        {"key": "tenant"},
        {"unit": "bytes"},
        {"limit": 0},
        {"limit": True},
        {"window_seconds": 59},
        {"window_seconds": 90 * 86_400 + 1},
        {"name": ""},
    ],
)
def test_spec_rejects_out_of_range(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "name": "b",
        "key": "principal",
        "unit": "requests",
        "limit": 10,
        "window_seconds": 60,
    } | bad
    with pytest.raises(ValueError):
        BudgetSpec(**fields)  # type: ignore[arg-type]


def test_spec_accepts_a_minute_to_ninety_days() -> None:
    assert BudgetSpec("m", "global", "records", 1, 60).window_seconds == 60
    assert BudgetSpec("q", "global", "records", 1, 90 * 86_400).window_seconds == 7_776_000


@pytest.mark.parametrize(
    ("ip", "prefix"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("::ffff:203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:1234:5678:9abc::1", "2001:db8:1234:5600::/56"),
        ("not-an-ip", "not-an-ip"),
    ],
)
def test_ip_prefix(ip: str, prefix: str) -> None:
    assert ip_prefix(ip) == prefix


def test_ipv4_mapped_address_counts_as_ipv4() -> None:
    keys = BudgetKeys(principal="p", ip="::ffff:198.51.100.4")
    assert keys.value("ip") == "198.51.100.4"
    assert keys.value("ip_prefix") == "198.51.100.0/24"


def test_filters_and_missing_keys_decide_what_applies() -> None:
    specs = (
        BudgetSpec("all", "global", "requests", 10, 60),
        BudgetSpec("dealers", "organisation", "subjects", 10, 86_400, roles=frozenset({"dealer"})),
        BudgetSpec(
            "search",
            "endpoint",
            "requests",
            10,
            60,
            endpoints=frozenset({"POST /v1/persons/search"}),
        ),
        BudgetSpec("per_session", "session", "requests", 10, 60),
    )
    owner = BudgetKeys(principal="o", role="owner", endpoint="GET /v1/me")
    assert [a.spec.name for a in applicable(specs, owner)] == ["all"]
    dealer = BudgetKeys(
        principal="d",
        role="dealer",
        organisation="shop-1",
        session="s1",
        endpoint="POST /v1/persons/search",
    )
    got = {a.spec.name: a.value for a in applicable(specs, dealer)}
    assert got == {
        "all": "*",
        "dealers": "shop-1",
        "search": "POST /v1/persons/search",
        "per_session": "s1",
    }


def test_peer_is_the_client_when_not_a_proxy() -> None:
    # A client that writes its own X-Forwarded-For is not believed.
    assert client_ip("198.51.100.7", "1.2.3.4", PROXIES) == "198.51.100.7"
    assert client_ip("198.51.100.7", "1.2.3.4", ()) == "198.51.100.7"


def test_rightmost_untrusted_hop_behind_trusted_proxies() -> None:
    # The client forged "1.2.3.4"; our edge proxy appended the real address it saw.
    assert client_ip("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.9", PROXIES) == "198.51.100.7"
    assert client_ip("2001:db8:ffff::5", "2001:db8:1::42", PROXIES) == "2001:db8:1::42"


def test_trusted_proxy_without_header_is_the_client() -> None:
    assert client_ip("10.0.0.2", None, PROXIES) == "10.0.0.2"
    assert client_ip("10.0.0.2", "10.0.0.3, 10.0.0.4", PROXIES) == "10.0.0.3"


def test_garbage_hop_stops_at_the_last_trusted_address() -> None:
    assert client_ip("10.0.0.2", "198.51.100.7, bogus", PROXIES) == "10.0.0.2"


def test_ports_and_mapped_addresses_are_normalised() -> None:
    assert client_ip("::ffff:10.0.0.2", "198.51.100.7:4431", PROXIES) == "198.51.100.7"
    assert client_ip("10.0.0.2", "[2001:db8:1::42]:443", PROXIES) == "2001:db8:1::42"
    assert client_ip("::ffff:198.51.100.7", None, PROXIES) == "198.51.100.7"
