"""Case growth: cases that grow without the work that would justify them.

A case is the task a full-record read is bound to; what it holds says whether it is one.
A renewal concerns one permit holder, a seizure a household or a weapon's few holders,
an investigation a network. Two shapes give a case away as a container for reads:

- links far beyond its kind's norm: more than `factor` times `typical_links[kind]`
  subjects (`default_typical` for a kind the table does not name);
- links without work: more than `idle_links` subjects added since anyone last read a
  subject through the case (a list being filled for later, or for someone else).

Subjects are counted by what they have to do with the case, as the case task journals it
with each link: an unrelated subject counts 1, a related one (on another open case of
the unit, or sharing a weapon's history with a subject of the case) `related_weight`. A
seizure following a weapon through its fourteen holders is one task; fourteen strangers
on a renewal are not. The counts are kept per case this process has seen linked to
(bounded, oldest forgotten; a case met again after a restart starts from nothing). The
signal goes to whoever adds the link. It is evidence about the case, independent of how
fast the agent links (the linking detector): alone it alerts, with that it suspends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from strongroom.detect.detector import Detector, Ports
from strongroom.detect.signals import Signal
from strongroom.endpoints import CASE_LINK, PERSON

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.state import PrincipalState
    from strongroom.events import AccessEvent

LINK = CASE_LINK.id
READ = PERSON.id
MAX_CASES = 100_000


class _Case:
    """The case's subjects (weighted) and those linked since its last read."""

    __slots__ = ("size", "idle")

    def __init__(self) -> None:
        self.size = 0.0
        self.idle = 0.0


class CaseGrowth(Detector[None]):
    name = "case_growth"
    family = "case_growth"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        typical: Mapping[str, Any] = config.param("case_growth", "typical_links")
        self.typical = {str(k): float(v) for k, v in typical.items()}
        self.default_typical = float(config.param("case_growth", "default_typical"))
        self.factor = float(config.param("case_growth", "factor"))
        self.idle_links = float(config.param("case_growth", "idle_links"))
        self.related_weight = float(config.param("case_growth", "related_weight"))
        self.cap = config.family_caps["case_growth"]
        self.cases: dict[str, _Case] = {}

    def limit(self, kind: str | None) -> float:
        """The most subjects a case of this kind holds before it is far beyond its norm."""
        return self.factor * self.typical.get(str(kind), self.default_typical)

    def observe(self, ev: AccessEvent, st: PrincipalState, mine: None, now: float) -> Signal | None:
        if ev.outcome != "allowed":
            return None
        if ev.endpoint == READ:
            if ev.records > 0 and ev.case is not None:
                c = self.cases.get(ev.case)
                if c is not None:
                    c.idle = 0.0
            return None
        if ev.endpoint != LINK or not ev.detail.get("linked"):
            return None
        detail = ev.detail
        case = str(detail.get("case"))
        c = self.cases.get(case)
        if c is None:
            if len(self.cases) >= MAX_CASES:
                self.cases.pop(next(iter(self.cases)))  # dicts keep insertion order
            c = self.cases[case] = _Case()
        w = self.related_weight if detail.get("related") is True else 1.0
        c.size += w
        c.idle += w
        limit = self.limit(detail.get("kind"))
        over = c.size - limit
        idle_over = c.idle - self.idle_links
        if over <= 0 and idle_over <= 0:
            return None
        if over >= idle_over:
            reason = "a case holds far more subjects than its kind's norm"
        else:
            reason = "subjects keep being linked to a case nobody works on"
        return Signal(
            "case_growth",
            self.name,
            min(self.cap, 25.0 + 5.0 * max(over, idle_over)),
            reason,
            {
                "kind": detail.get("kind"),
                "links": detail.get("links"),
                "weighted": round(c.size, 2),
                "limit": limit,
                "without_work": round(c.idle, 2),
            },
        )
