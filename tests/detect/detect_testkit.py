"""Synthetic access streams on the fake clock, and an engine to drive with them."""

from __future__ import annotations

import uuid
from typing import Any

from strongroom.clock import FakeClock
from strongroom.detect import DetectConfig, DetectionEngine, MemoryContainmentStore
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
    )


def engine(clock: FakeClock, config: DetectConfig | None = None, **kw: Any) -> DetectionEngine:
    kw.setdefault("store", MemoryContainmentStore())
    kw.setdefault("is_canary", lambda s: s == CANARY)
    return DetectionEngine(config or DetectConfig(), clock=clock, **kw)


def only(config_detectors: dict[str, Any], **responses: Any) -> DetectConfig:
    """A config with every detector off except those named (policy-section shape)."""
    names = [
        "velocity",
        "enumeration",
        "breadth",
        "peer",
        "coordination",
        "honey",
        "drift",
        "context",
    ]
    section = {n: {"enabled": False} for n in names}
    section.update(config_detectors)
    return DetectConfig.from_policy_section(section, responses or None)


def families(actions: list[Any]) -> set[str]:
    return {f for a in actions for f in a.families}
