"""OCSF Detection Finding (class_uid 2004, category Findings) for one incident.

One incident per principal and signal family: created once (activity 1), then updated
(activity 2) as later signals arrive, closed (activity 3) when an administrator lifts the
containment. Principals appear by pseudonymous ID; no PII value ever leaves in a finding.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

CLASS_UID = 2004
CATEGORY_UID = 2
OCSF_VERSION = "1.3.0"
ACTIVITY = {"create": 1, "update": 2, "close": 3}
STATUS = {"create": 1, "update": 2, "close": 4}  # New, In Progress, Resolved


def severity_id(risk: float, family: str) -> int:
    """OCSF severity: 5 Critical, 4 High, 3 Medium, 2 Low."""
    if family == "honey" or risk >= 90:
        return 5
    if risk >= 60:
        return 4
    if risk >= 30:
        return 3
    return 2


@dataclass(slots=True)
class Incident:
    principal: str
    family: str
    first_seen: float
    last_seen: float
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    count: int = 0
    score: float = 0.0
    risk: float = 0.0
    detectors: set[str] = field(default_factory=set)
    reasons: set[str] = field(default_factory=set)
    actions: list[str] = field(default_factory=list)
    shadow: bool = False
    emitted_at: float = 0.0
    emitted_severity: int = 0
    ip: str | None = None
    role: str | None = None


def finding(inc: Incident, activity: str, now: float) -> dict[str, Any]:
    sev = severity_id(inc.risk, inc.family)
    title = f"Strongroom {inc.family} detection" + (" (shadow)" if inc.shadow else "")
    out: dict[str, Any] = {
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY[activity],
        "type_uid": CLASS_UID * 100 + ACTIVITY[activity],
        "severity_id": sev,
        "status_id": STATUS[activity],
        "time": int(now * 1000),
        "is_alert": not inc.shadow,
        "risk_score": round(inc.risk),
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "Strongroom", "vendor_name": "Strongroom"},
            "uid": inc.uid,
        },
        "finding_info": {
            "uid": inc.uid,
            "title": title,
            "desc": "; ".join(sorted(inc.reasons)),
            "types": [inc.family],
            "first_seen_time": int(inc.first_seen * 1000),
            "last_seen_time": int(inc.last_seen * 1000),
            "analytic": {"name": ",".join(sorted(inc.detectors)), "type_id": 1, "type": "Rule"},
        },
        "actor": {"user": {"uid": inc.principal, "type": inc.role or "unknown"}},
        "count": inc.count,
        "unmapped": {
            "family": inc.family,
            "score": round(inc.score, 1),
            "actions": list(inc.actions),
            "shadow": inc.shadow,
        },
    }
    if inc.ip:
        out["src_endpoint"] = {"ip": inc.ip}
    return out
