"""Synthetic access streams on the fake clock, and an engine to drive with them."""

from __future__ import annotations

import uuid
from typing import Any

from strongroom.clock import FakeClock
from strongroom.detect import DetectConfig, DetectionEngine, MemoryContainmentStore
from strongroom.detect.table import DETECTORS
from strongroom.events import AccessEvent

CANARY = "c0ffee00-0000-4000-8000-000000000001"


def event(
    clock: FakeClock,
    principal: str = "p-1",
    *,
    role: str = "police",
    subjects: tuple[str, ...] | None = None,
    records: int | None = None,
    session: str | None = "s-1",
    ip: str | None = "198.51.100.7",
    user_agent: str | None = "Mozilla/5.0 (station)",
    endpoint: str = "GET /v1/persons",
    **detail: Any,
) -> AccessEvent:
    subs = subjects if subjects is not None else (str(uuid.uuid4()),)
    sort_key = detail.pop("sort_key", None)
    return AccessEvent(
        ts=clock.now(),
        kind="access",
        principal=principal,
        role=role,
        endpoint=endpoint,
        outcome="allowed",
        session=session,
        ip=ip,
        user_agent=user_agent,
        subjects=subs,
        records=len(subs) if records is None else records,
        detail=detail,
        sort_key=None if sort_key is None else float(sort_key),
    )


def prefecture_event(
    clock: FakeClock,
    endpoint: str,
    purpose: str,
    principal: str,
    *,
    session: str = "s-1",
    ip: str = "172.16.3.9",
    outcome: str = "allowed",
    **fields: Any,
) -> AccessEvent:
    """An event of a prefecture agent's case work, with one new subject when allowed;
    `fields` are the event's others (case, records, reason, detail)."""
    return AccessEvent(
        ts=clock.now(),
        kind="access",
        principal=principal,
        role="prefecture",
        endpoint=endpoint,
        outcome=outcome,  # type: ignore[arg-type]
        session=session,
        ip=ip,
        user_agent="Mozilla/5.0 (prefecture)",
        purpose=purpose,
        subjects=(str(uuid.uuid4()),) if outcome == "allowed" else (),
        **fields,
    )


# The roles these tests are written against, declared as a policy declares them: in the
# detectors' per-role parameters. A role left out gets the config's FALLBACK_ROLE.
ROLES: dict[str, dict[str, Any]] = {
    "velocity": {
        "human_ceiling_records_per_minute": {
            "police": 20,
            "dealer": 10,
            "prefecture": 20,
            "owner": 10,
            "auditor": 30,
            "admin": 30,
        }
    },
    "breadth": {
        "daily_subjects_baseline": {
            "police": 30,
            "dealer": 20,
            "prefecture": 40,
            "owner": 3,
            "auditor": 50,
            "admin": 20,
        }
    },
    "context": {"work_hours": {"dealer": [7, 21], "prefecture": [7, 20], "auditor": [7, 20]}},
}


def config(detectors: dict[str, Any] | None = None, **responses: Any) -> DetectConfig:
    """A config from a policy-shaped `detectors` section (every detector on by default),
    with the test roles above under whatever it sets."""
    section = {name: dict(spec or {}) for name, spec in (detectors or {}).items()}
    for name, params in ROLES.items():
        spec = section.setdefault(name, {})
        spec["params"] = {**params, **(spec.get("params") or {})}
    return DetectConfig.from_policy_section(section, responses or None)


def engine(clock: FakeClock, config_: DetectConfig | None = None, **kw: Any) -> DetectionEngine:
    kw.setdefault("store", MemoryContainmentStore())
    kw.setdefault("is_canary", lambda s: s == CANARY)
    return DetectionEngine(config_ or config(), clock=clock, **kw)


def only(config_detectors: dict[str, Any], **responses: Any) -> DetectConfig:
    """A config with every detector off except those named (policy-section shape)."""
    section: dict[str, Any] = {e.name: {"enabled": False} for e in DETECTORS}
    section.update(config_detectors)
    return config(section, **responses)


def families(actions: list[Any]) -> set[str]:
    return {f for a in actions for f in a.families}
