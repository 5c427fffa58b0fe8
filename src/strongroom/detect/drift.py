"""Cumulative drift: a one-sided CUSUM (Page, 1954) over each principal's days, of distinct
subjects per day in units of the role's baseline. A harvester that stays under every
per-day threshold but above the baseline day after day accumulates until it shows.

    S_d = max(0, S_{d-1} + x_d - (1 + slack)),   signal when S_d >= threshold
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strongroom.detect.detector import Detector, Ports, Slot
from strongroom.detect.signals import Signal

if TYPE_CHECKING:
    from strongroom.detect.config import DetectConfig
    from strongroom.detect.state import PrincipalState


class DriftState(Slot):
    """S_d, the running sum."""

    __slots__ = ("cusum",)

    def __init__(self) -> None:
        self.cusum = 0.0


class Drift(Detector[DriftState]):
    name = "drift"
    family = "drift"

    def __init__(self, config: DetectConfig, ports: Ports) -> None:
        super().__init__(config, ports)
        self.slack = float(config.param("drift", "slack"))
        self.threshold = float(config.param("drift", "threshold"))
        self.cap = config.family_caps["drift"]

    def close_day(
        self, principal: str, st: PrincipalState, mine: DriftState, day: int
    ) -> Signal | None:
        """Fold the finished day (and any idle days since) into the sum."""
        ref = 1.0 + self.slack
        x = st.distinct_est / self.config.role(st.role).daily_subjects
        s = max(0.0, mine.cusum + x - ref)
        idle = max(0, day - st.day - 1)
        s = max(0.0, s - ref * idle)
        mine.cusum = s
        if s < self.threshold:
            return None
        return Signal(
            "drift",
            self.name,
            min(self.cap, 30.0 + 5.0 * (s - self.threshold)),
            "days above the role's baseline keep adding up",
            {"cusum": round(s, 2), "last_day_ratio": round(x, 2)},
        )
