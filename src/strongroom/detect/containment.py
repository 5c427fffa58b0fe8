"""Containments (what the ladder decided), the actions the gate journals, and the
`ContainmentStore` seam every worker reads them through.

A containment is scoped to a principal, a session or an IP prefix; the engine keeps an
in-process index of the active ones so `check()` costs a few dict lookups, and re-reads
the store every `sync_seconds` to see other workers' decisions and lifts.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from strongroom.errors import Conflict, NotFound

# Severity of blocking containments: check() returns the most severe that applies.
BLOCKING = {"step_up": 1, "suspend_session": 2, "suspend_principal": 3, "block_ip_prefix": 4}
# The risk family of honey-record reads (detect/honey.py): nobody's task needs one, so a
# containment it set off is lifted only with a second administrator's approval.
HONEY_FAMILY = "honey"


@dataclass(frozen=True)
class Containment:
    id: str
    action: str
    principal: str
    created_at: float
    session: str | None = None
    ip_prefix: str | None = None
    expires_at: float | None = None
    risk: float = 0.0
    families: tuple[str, ...] = ()
    factor: float = 1.0
    lifted_at: float | None = None
    lifted_by: str | None = None
    lifted_why: str | None = None

    @property
    def scope(self) -> str:
        if self.action == "block_ip_prefix":
            return "ip_prefix"
        return "session" if self.action == "suspend_session" else "principal"

    @property
    def four_eyes(self) -> bool:
        """Whether lifting it takes two administrators: a honey read set it off."""
        return HONEY_FAMILY in self.families

    def active(self, now: float) -> bool:
        return self.lifted_at is None and (self.expires_at is None or now < self.expires_at)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["families"] = list(self.families)
        out["scope"] = self.scope
        out["four_eyes"] = self.four_eyes
        return out


@dataclass(frozen=True)
class LiftRequest:
    """A first administrator's request to lift a four-eyes containment, waiting for a
    second one's approval (the containment's own row records who approved)."""

    containment: str
    requested_by: str
    requested_at: float
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Action:
    """One decision of the engine (a ladder rung fired, or a containment lifted), ready to
    be journaled: `to_entry()` uses only journal keys and carries no PII value."""

    action: str
    principal: str
    ts: float
    risk: float = 0.0
    families: tuple[str, ...] = ()
    shadow: bool = False
    role: str | None = None
    session: str | None = None
    ip: str | None = None
    containment: Containment | None = None
    by: str = "detector"
    why: str | None = None

    @property
    def contains(self) -> bool:
        return self.containment is not None and not self.shadow and self.action != "lift"

    def to_entry(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "action": self.action,
            "target": self.principal,
            "risk": round(self.risk, 2),
            "families": list(self.families),
            "by": self.by,
            "shadow": self.shadow,
        }
        if self.containment is not None:
            detail["containment"] = self.containment.id
            if self.containment.ip_prefix:
                detail["ip_prefix"] = self.containment.ip_prefix
            if self.containment.expires_at is not None:
                detail["expires_at"] = self.containment.expires_at
        if self.why:
            detail["why"] = self.why
        if self.action == "lift":
            reason = "containment_lifted"
        elif self.contains:
            reason = f"contained:{self.action}"
        else:
            reason = f"detect:{'shadow:' if self.shadow else ''}{self.action}"
        entry: dict[str, Any] = {
            "v": 1,
            "ts": self.ts,
            "kind": "admin" if self.action == "lift" else "security",
            "principal": self.principal,
            "endpoint": "detect",
            "outcome": "contained" if self.contains else "allowed",
            "reason": reason,
            "subjects": [],
            "fields": [],
            "records": 0,
            "detail": detail,
        }
        for key in ("role", "session", "ip"):
            if getattr(self, key) is not None:
                entry[key] = getattr(self, key)
        return entry


def new_containment(action: str, principal: str, now: float, **kw: Any) -> Containment:
    return Containment(
        id=str(uuid.uuid4()), action=action, principal=principal, created_at=now, **kw
    )


class ContainmentStore(Protocol):
    def add(self, containment: Containment) -> None: ...
    def active(self, now: float) -> list[Containment]: ...
    def list(self, *, include_lifted: bool = True, limit: int = 1000) -> list[Containment]: ...
    def get(self, containment_id: str) -> Containment | None: ...
    def lift(self, containment_id: str, *, by: str, why: str, now: float) -> Containment: ...
    def request_lift(self, request: LiftRequest) -> LiftRequest: ...
    def lift_requests(self) -> dict[str, LiftRequest]: ...


class MemoryContainmentStore:
    """One process; for the embedded default with one worker and for tests."""

    def __init__(self) -> None:
        self._items: dict[str, Containment] = {}
        self._requests: dict[str, LiftRequest] = {}
        self._lock = threading.Lock()

    def add(self, containment: Containment) -> None:
        with self._lock:
            self._items[containment.id] = containment

    def active(self, now: float) -> list[Containment]:
        with self._lock:
            return [c for c in self._items.values() if c.active(now)]

    def list(self, *, include_lifted: bool = True, limit: int = 1000) -> list[Containment]:
        with self._lock:
            items = sorted(self._items.values(), key=lambda c: c.created_at, reverse=True)
        return [c for c in items if include_lifted or c.lifted_at is None][:limit]

    def get(self, containment_id: str) -> Containment | None:
        with self._lock:
            return self._items.get(containment_id)

    def lift(self, containment_id: str, *, by: str, why: str, now: float) -> Containment:
        with self._lock:
            found = self._items.get(containment_id)
            if found is None:
                raise NotFound("no such containment")
            if found.lifted_at is not None:
                raise Conflict("this containment was already lifted")
            lifted = replace(found, lifted_at=now, lifted_by=by, lifted_why=why)
            self._items[containment_id] = lifted
            return lifted

    def request_lift(self, request: LiftRequest) -> LiftRequest:
        with self._lock:
            pending = self._requests.setdefault(request.containment, request)
        if pending is not request:
            raise Conflict(
                f"a lift was already requested by {pending.requested_by}: a second "
                "administrator approves it",
                reason="lift_pending",
            )
        return request

    def lift_requests(self) -> dict[str, LiftRequest]:
        with self._lock:
            return dict(self._requests)


class ContainmentIndex:
    """The active containments by scope key, for O(1) checks."""

    __slots__ = ("by_principal", "by_session", "by_prefix", "throttles")

    def __init__(self, items: list[Containment] | None = None) -> None:
        self.by_principal: dict[str, Containment] = {}
        self.by_session: dict[str, Containment] = {}
        self.by_prefix: dict[str, Containment] = {}
        self.throttles: dict[str, Containment] = {}
        for c in items or ():
            self.put(c)

    def put(self, c: Containment) -> None:
        if c.action == "throttle":
            table, key = self.throttles, c.principal
        elif c.action == "block_ip_prefix":
            table, key = self.by_prefix, c.ip_prefix or ""
        elif c.action == "suspend_session":
            table, key = self.by_session, c.session or ""
        else:
            table, key = self.by_principal, c.principal
        if not key:
            return
        old = table.get(key)
        if (
            old is None
            or not old.active(c.created_at)
            or BLOCKING.get(c.action, 0) >= BLOCKING.get(old.action, 0)
        ):
            table[key] = c

    def drop(self, containment_id: str) -> None:
        for table in (self.by_principal, self.by_session, self.by_prefix, self.throttles):
            for key, c in list(table.items()):
                if c.id == containment_id:
                    del table[key]
