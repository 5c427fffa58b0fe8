"""Which hosts the posture tools may talk to.

The drill sends attack traffic and the audit fetches documents, so both refuse any target
that is not loopback (127.0.0.0/8, ::1, `localhost`) or named in an allow-list, unless the
operator passes `--allow-remote`. The check looks at the URL only, before any socket is
opened: a host name other than `localhost` is not resolved (resolving it would already be
traffic, and DNS can change between the check and the connection), so it counts as remote.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from strongroom.errors import BadRequest

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


class TargetRefused(BadRequest):
    slug = "target-refused"
    title = "Target refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, reason="target_refused")


def host_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"only http(s) URLs are supported, not {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise TargetRefused(f"no host in URL {url!r}")
    return parts.hostname.lower()


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_target(url: str, *, allow_remote: bool = False, allow_hosts: Iterable[str] = ()) -> str:
    """Return the URL's host if it may be contacted, else raise `TargetRefused`."""
    host = host_of(url)
    if allow_remote or is_loopback(host) or host in {h.lower() for h in allow_hosts}:
        return host
    raise TargetRefused(
        f"{host} is not a loopback address: the posture tools only talk to 127.0.0.0/8, "
        "::1, localhost or an allow-listed host unless --allow-remote is given "
        "(and you are authorized to test that deployment)"
    )
