"""The client address a request is budgeted under.

X-Forwarded-For is a list each proxy appends to (the de facto form of RFC 7239's `for=`):
only the entries added by proxies we run can be believed, and a client can write anything
to the left of them. So: the socket peer, unless that peer is a configured trusted proxy;
then walk X-Forwarded-For from the right, skipping our own proxies, and take the first hop
that is not one of them. A header sent by anyone else is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from strongroom.budgets.spec import normalise_ip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=64)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies)


def _address(hop: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    hop = hop.strip().strip('"')
    if hop.startswith("["):  # [2001:db8::1]:443
        hop = hop[1:].split("]", 1)[0]
    elif hop.count(":") == 1:  # 203.0.113.7:443
        hop = hop.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(hop)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _trusted(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]
) -> bool:
    return any(addr.version == net.version and addr in net for net in networks)


def client_ip(
    peer: str, headers_x_forwarded_for: str | None, trusted_proxies: Iterable[str]
) -> str:
    networks = _networks(tuple(trusted_proxies))
    peer_addr = _address(peer)
    if peer_addr is None:
        return normalise_ip(peer)
    if not networks or not _trusted(peer_addr, networks) or not headers_x_forwarded_for:
        return str(peer_addr)
    nearest = peer_addr
    for hop in reversed(headers_x_forwarded_for.split(",")):
        addr = _address(hop)
        if addr is None:
            # Our proxies write addresses; garbage here means the chain is not what we
            # think. Stop at the last address a trusted proxy vouched for: it pools every
            # client behind it into one budget, which errs on the strict side.
            return str(nearest)
        if not _trusted(addr, networks):
            return str(addr)
        nearest = addr
    # Every hop is one of ours (an internal health check): the farthest one is the client.
    return str(nearest)
