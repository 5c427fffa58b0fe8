"""Breadth: distinct subjects a principal has touched today, against the role's daily
baseline times a factor. Counted in a HyperLogLog sketch, so the state does not grow with
what it counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strongroom.detect.detector import Detector, Ports
from strongroom.detect.signals import Signal

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.state import PrincipalState
    from strongroom.events import AccessEvent


class Breadth(Detector[None]):
    name = "breadth"
    family = "breadth"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        self.factor = float(config.param("breadth", "factor"))
        self.cap = config.family_caps["breadth"]

    def observe(self, ev: AccessEvent, st: PrincipalState, mine: None, now: float) -> Signal | None:
        if not st.grew:
            return None
        est = st.distinct_est
        limit = self.config.role(ev.role).daily_subjects * self.factor
        if est <= limit:
            return None
        return Signal(
            "breadth",
            self.name,
            min(self.cap, 20.0 + 15.0 * (est / limit - 1.0)),
            "distinct subjects today far above the role's baseline",
            {"distinct_today": round(est), "limit": limit},
        )
