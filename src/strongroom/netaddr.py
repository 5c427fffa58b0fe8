"""Network prefixes: the unit client addresses are pooled into, one definition for every
layer (budgets count an IP prefix's requests, detectors remember, group and block networks
by it). Imports nothing of Strongroom's.

IPv4 pools by /24. IPv6 pools by /56: what a subscriber typically gets. RIPE-690 (2017)
recommends a /56 as the smallest assignment to a residential customer and a /48 to a
business, and many access ISPs hand homes a /56 (some a /48, mobile networks often a
/64). So a
/56 is one household or small site, however many addresses its devices rotate through,
while a /48 can be 256 neighbouring households of one ISP: too coarse to block or to
treat as "one network" without hurting bystanders. A business on its own /48 shows as a
few /56 prefixes, which errs on the side of not pooling strangers.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

IPV4_PREFIX = 24
IPV6_PREFIX = 56


@lru_cache(maxsize=65_536)
def _prefix(ip: str) -> str | None:
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        # ::ffff:203.0.113.7 is the IPv4 client seen through a dual-stack socket.
        addr = addr.ipv4_mapped
    bits = IPV4_PREFIX if addr.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))


def ip_prefix(ip: str | None) -> str | None:
    """The network an address belongs to, as CIDR text (`203.0.113.0/24`,
    `2001:db8:1234:5600::/56`); None for None, an empty string or anything that is not an
    IP address (the caller decides what an unknown network means)."""
    if not ip:
        return None
    return _prefix(ip)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=64)
def _parsed(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs)


def in_networks(ip: str | None, cidrs: tuple[str, ...]) -> bool:
    """Whether an address lies in one of the networks (CIDR text); False for anything that
    is not an address, so an unnamed peer is never let in by a list of networks."""
    if not ip:
        return False
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == net.version and addr in net for net in _parsed(cidrs))
