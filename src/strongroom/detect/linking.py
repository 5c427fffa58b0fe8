"""Linking: an agent linking many subjects with no relation to their case.

Need to know turns a full-record read into two steps, a link and a read; an insider who
wants records has to link first. A legitimate agent links a few subjects a day, mostly
through cases the case-management system opens; a harvester links its targets one after
another, across cases it opened itself, and the targets have nothing to do with each
other. The case task says whether each linked subject relates to the case (`related`:
already on another open case of the unit, which the unit reads it through anyway, or
sharing a weapon's history with a subject of the case); an unrelated link weighs 1, a
related one `related_weight`, and a link refused as unknown (a made-up case or subject)
1.

The weights decay with `half_life_seconds` (a day by default) rather than resetting at
midnight, so a harvester pacing itself across days still accumulates; the signal comes
once the decayed sum reaches `unrelated_links`. Alone the family is capped below any
containment (it alerts); with a second kind of evidence it suspends.
"""

from __future__ import annotations

import math
import sys
import zlib
from typing import TYPE_CHECKING

from strongroom.detect.detector import Detector, Ports, Slot
from strongroom.detect.signals import Signal
from strongroom.endpoints import CASE_LINK

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.state import PrincipalState
    from strongroom.events import AccessEvent

LINK = CASE_LINK.id
RECENT_CASES = 8


def case_hash(case: object) -> int:
    """A small stable hash of a case ID (the slot keeps a handful, not the strings)."""
    return zlib.crc32(str(case).encode())


class LinkingState(Slot):
    """The decayed weight of recent links, when it was last updated, and hashes of the
    last few cases linked to (how many distinct cases the links spread over)."""

    __slots__ = ("weight", "ts", "cases")

    def __init__(self) -> None:
        self.weight = 0.0
        self.ts = 0.0
        self.cases: tuple[int, ...] = ()

    def nbytes(self) -> int:
        return sys.getsizeof(self) + sys.getsizeof(self.cases)


class Linking(Detector[LinkingState]):
    name = "linking"
    family = "linking"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        self.threshold = float(config.param("linking", "unrelated_links"))
        self.related_weight = float(config.param("linking", "related_weight"))
        self.rate = math.log(2.0) / float(config.param("linking", "half_life_seconds"))
        self.cap = config.family_caps["linking"]

    def observe(
        self, ev: AccessEvent, st: PrincipalState, mine: LinkingState, now: float
    ) -> Signal | None:
        if ev.endpoint != LINK:
            return None
        detail = ev.detail
        if ev.outcome == "allowed" and detail.get("linked"):
            w = self.related_weight if detail.get("related") is True else 1.0
        elif ev.outcome == "refused" and ev.reason == "not_found":
            w = 1.0  # a case or subject that is not there, or not the agent's to use
        else:
            return None
        mine.weight = mine.weight * math.exp(-self.rate * max(0.0, now - mine.ts)) + w
        mine.ts = now
        case = detail.get("case")
        if case is not None:
            h = case_hash(case)
            if h not in mine.cases:
                mine.cases = (*mine.cases[-(RECENT_CASES - 1) :], h)
        if mine.weight < self.threshold:
            return None
        return Signal(
            "linking",
            self.name,
            min(self.cap, 30.0 + 3.0 * (mine.weight - self.threshold)),
            "links many subjects with no relation to their case",
            {
                "unrelated_links": round(mine.weight, 1),
                "threshold": self.threshold,
                "recent_cases": len(mine.cases),
            },
        )
