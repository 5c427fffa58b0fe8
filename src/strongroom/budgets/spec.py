"""What a budget is (`BudgetSpec`), whom a request is charged to (`BudgetKeys`), and which
bucket of which budget a request falls in (`applicable`).

A budget counts one unit (requests, records disclosed, or distinct subjects) for one key
(a principal, a session, an OAuth client, a dealer organisation, an IP address or its
prefix, a role, an endpoint, or the whole service) over a sliding window of 60 s to 90 days.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from strongroom.context import Caller
from strongroom.netaddr import ip_prefix as network_prefix

UNITS: tuple[str, ...] = ("requests", "records", "subjects")
MIN_WINDOW = 60
MAX_WINDOW = 90 * 86_400


@dataclass(frozen=True)
class BudgetSpec:
    name: str
    key: str
    unit: str
    limit: int
    window_seconds: int
    shadow: bool = False
    roles: frozenset[str] | None = None
    endpoints: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("a budget needs a name")
        if self.key not in KEYS:
            raise ValueError(f"budget {self.name}: key must be one of {', '.join(KEYS)}")
        if self.unit not in UNITS:
            raise ValueError(f"budget {self.name}: unit must be one of {', '.join(UNITS)}")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"budget {self.name}: limit must be a positive integer")
        window = self.window_seconds
        if (
            isinstance(window, bool)
            or not isinstance(window, int)
            or not (MIN_WINDOW <= window <= MAX_WINDOW)
        ):
            raise ValueError(
                f"budget {self.name}: window_seconds must be an integer from "
                f"{MIN_WINDOW} (a minute) to {MAX_WINDOW} (90 days)"
            )

    def applies_to(self, keys: BudgetKeys) -> bool:
        if self.roles is not None and keys.role not in self.roles:
            return False
        return self.endpoints is None or keys.endpoint in self.endpoints


@dataclass(frozen=True)
class BudgetKeys:
    """Who and what a request is charged to, filled from the Caller (`of`). A field left
    None means budgets keyed on it do not apply (an owner has no organisation)."""

    principal: str
    session: str | None = None
    client: str | None = None
    organisation: str | None = None
    ip: str | None = None
    role: str | None = None
    unit: str | None = None
    endpoint: str | None = None

    @classmethod
    def of(cls, caller: Caller, endpoint: str) -> BudgetKeys:
        return cls(
            principal=caller.principal_id,
            session=caller.session_id,
            client=caller.client_id,
            organisation=caller.dealer_id,
            ip=caller.ip,
            role=caller.role,
            unit=caller.unit,
            endpoint=endpoint,
        )

    @property
    def ip_prefix(self) -> str | None:
        return ip_prefix(self.ip) if self.ip else None

    def value(self, kind: str) -> str | None:
        """The key value a budget of this kind is counted under."""
        value = KEY_VALUES[kind](self)
        return value if value else None


def _parse(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        # ::ffff:203.0.113.7 is the IPv4 client seen through a dual-stack socket.
        return addr.ipv4_mapped
    return addr


@lru_cache(maxsize=65_536)
def normalise_ip(ip: str) -> str:
    addr = _parse(ip)
    return str(addr) if addr is not None else ip


def ip_prefix(ip: str) -> str:
    """The network a budget pools an address into (`strongroom.netaddr`). An unparseable
    value stays its own prefix rather than escaping the budget."""
    return network_prefix(ip) or ip


# The budget keys, declared once: the policy's `key:` names one of these, and each says
# which value of a request its bucket is counted under. A new key is a line here (and a
# field of BudgetKeys, filled in `of`, if the request does not carry it yet).
KEY_VALUES: dict[str, Callable[[BudgetKeys], str | None]] = {
    "principal": lambda k: k.principal,
    "session": lambda k: k.session,
    "client": lambda k: k.client,
    "organisation": lambda k: k.organisation,
    "ip": lambda k: normalise_ip(k.ip) if k.ip else None,
    "ip_prefix": lambda k: k.ip_prefix,
    "role": lambda k: k.role,
    "unit": lambda k: k.unit,
    "endpoint": lambda k: k.endpoint,
    "global": lambda k: "*",
}
KEYS: tuple[str, ...] = tuple(KEY_VALUES)


@dataclass(frozen=True)
class Applicable:
    """One budget, applied: the spec and the key value its bucket is counted under."""

    spec: BudgetSpec
    value: str


def applicable(specs: tuple[BudgetSpec, ...], keys: BudgetKeys) -> list[Applicable]:
    out = []
    for spec in specs:
        if not spec.applies_to(keys):
            continue
        value = keys.value(spec.key)
        if value is not None:
            out.append(Applicable(spec, value))
    return out
